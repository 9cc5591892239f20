{#- The ledger ties to Stripe's balance (GET /v1/balance, one snapshot per extraction
    run). Per snapshot and settlement currency, the implied opening balance is
    available + pending minus the nets of every extracted transaction created by the
    snapshot's time: what the account held before the extracted ledger begins.
    - Between snapshots it never changes: the ledger accounts for every change of the
      balance (a missing or extra transaction after the first snapshot fails).
    - With the account's whole history extracted it is zero: the nets sum to the balance.
      A lake cannot tell from its own data that nothing older exists (Stripe keeps the
      account's history; a first run reads --days of it), so the operator says so with
      LEDGER_WHOLE_HISTORY=true (docs/runbook.md); a lake started from a window has a
      non-zero opening and only the first rule applies.
    A snapshot is read after the run's lists, whose windows end just before the run's start
    (created < the ledger watermark): transactions created from then on are in the next
    run's window, while the snapshot counts every transaction created up to its own time.
    A snapshot's time (observed_at) is its response's Date header, and the balance was read
    at some moment of the response's making: RFC 9110 asks for the moment just before the
    content is generated but lets a server date a response at any moment of its making, so
    the read is looked for on both sides. Each snapshot is tied at every
    second of [observed_at - balance_snapshot_read_seconds, observed_at + it] (var, 5): it
    ties if any of those cuts gives the expected opening, the one most snapshots give (zero
    with the whole history). A transaction missing from the ledger inside one snapshot's
    seconds is still caught by every later snapshot.
    So a snapshot is tied once the ledger is extracted past those seconds (observed_at +
    balance_snapshot_read_seconds < the balance_transactions watermark): by the next run.
    No snapshot (a lake extracted before the balance was read): no rows, nothing to tie.
    The watermark file is read through the engine's macro (read_watermark). #}

{%- set whole_history = env_var('LEDGER_WHOLE_HISTORY', 'false') | lower in ('1', 'true', 'yes') %}
{%- set watermark = watermark_file('balance_transactions') %}
{%- set read_seconds = var('balance_snapshot_read_seconds', 5) | int %}
{%- if read_seconds < 0 %}
    {%- do exceptions.raise_compiler_error("var balance_snapshot_read_seconds must be 0 or more, not " ~ read_seconds) %}
{%- endif %}

with snapshot_entries as (

    select snapshot_run_id, created_at as observed_at, 'available' as part,
        {{ balance_entries('available') }} as entry
    from {{ ref('stg_stripe__balance') }}
    union all
    select snapshot_run_id, created_at, 'pending',
        {{ balance_entries('pending') }}
    from {{ ref('stg_stripe__balance') }}

),

snapshots as (

    -- One row per snapshot and settlement currency.
    select
        snapshot_run_id,
        observed_at,
        lower(entry.currency) as currency,
        {{ sum_minor("case when part = 'available' then entry.amount else 0 end") }} as available_minor,
        {{ sum_minor("case when part = 'pending' then entry.amount else 0 end") }} as pending_minor
    from snapshot_entries
    group by 1, 2, 3

),

ledger as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

currencies as (

    select distinct currency from snapshots
    union
    select distinct currency from ledger

),

ledger_horizon as (

    {% if lake_files_exist(watermark) -%}
    select {{ epoch_to_timestamp('max(watermark)') }} as extracted_until
    from {{ read_watermark(watermark) }}
    {%- else -%}
    -- Built without the extractor's state (plain dbt on copied Bronze): every snapshot.
    select cast(null as timestamp) as extracted_until
    {%- endif %}

),

snapshot_times as (

    select distinct
        snapshot_run_id,
        created_at as observed_at
    from {{ ref('stg_stripe__balance') }}
    cross join ledger_horizon
    where ledger_horizon.extracted_until is null
        or created_at + interval {{ read_seconds }} second < ledger_horizon.extracted_until

),

balances as (

    -- Every (snapshot, currency), a currency the snapshot does not list holding zero.
    select
        snapshot_times.snapshot_run_id,
        snapshot_times.observed_at,
        currencies.currency,
        coalesce(snapshots.available_minor, 0) + coalesce(snapshots.pending_minor, 0)
            as balance_minor
    from snapshot_times
    cross join currencies
    left join snapshots
        on snapshot_times.snapshot_run_id = snapshots.snapshot_run_id
        and currencies.currency = snapshots.currency

),

ledger_seconds as (

    -- The ledger's nets per currency and second: the steps of its running total (a row
    -- without a time never counted, and engines sort nulls differently).
    select currency, created_at, {{ sum_minor('net_minor') }} as net_minor
    from ledger
    where created_at is not null
    group by currency, created_at

),

timeline as (

    -- The ledger's seconds and the snapshots on one time line per currency; a snapshot
    -- sorts after the ledger's rows of its own second (it counts created_at <= its time).
    select
        currency,
        created_at as at_time,
        0 as is_snapshot,
        net_minor,
        cast(null as {{ dbt.type_string() }}) as snapshot_run_id,
        cast(null as {{ dbt.type_bigint() }}) as balance_minor
    from ledger_seconds
    union all
    select currency, observed_at, 1, 0, snapshot_run_id, balance_minor
    from balances

),

tied as (

    -- Each snapshot's ledger total is the running sum at its place on the time line: one
    -- sort of the ledger, where a join of every snapshot with the ledger grows with the
    -- runs times the ledger.
    select
        snapshot_run_id,
        at_time as observed_at,
        currency,
        balance_minor,
        ledger_net_minor
    from (
        select
            timeline.*,
            cast(sum(net_minor) over (
                partition by currency
                order by at_time, is_snapshot
                rows between unbounded preceding and current row
            ) as bigint) as ledger_net_minor
        from timeline
    ) as running
    where is_snapshot = 1

),

cuts as (

    -- The seconds the balance may have been read at, around its Date header.
    {%- for seconds in range(-read_seconds, read_seconds + 1) %}
    select
        snapshot_run_id,
        observed_at,
        currency,
        balance_minor - ledger_net_minor as implied_opening_minor,
        observed_at {{ '-' if seconds < 0 else '+' }} interval {{ seconds | abs }} second as read_at
    from tied
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

near as (

    -- The ledger's nets per snapshot, currency and second within those seconds: a join on
    -- time alone (a range join), so the cuts below add up a few rows, not the ledger.
    select
        windows.snapshot_run_id,
        ledger.currency,
        ledger.created_at,
        {{ sum_minor('ledger.net_minor') }} as net_minor
    from (select distinct snapshot_run_id, observed_at from tied) as windows
    inner join ledger
        on ledger.created_at >= windows.observed_at - interval {{ read_seconds }} second
        and ledger.created_at <= windows.observed_at + interval {{ read_seconds }} second
    group by windows.snapshot_run_id, ledger.currency, ledger.created_at

),

candidates as (

    -- The opening implied if the balance was read at read_at: the transactions created
    -- between read_at and observed_at move from the ledger's side to the balance's side.
    select
        cuts.snapshot_run_id,
        cuts.observed_at,
        cuts.currency,
        cuts.implied_opening_minor + coalesce({{ sum_minor(
            'case when near.created_at > cuts.observed_at then -near.net_minor'
            ~ ' else near.net_minor end') }}, 0) as opening_minor
    from cuts
    left join near
        on cuts.snapshot_run_id = near.snapshot_run_id
        and cuts.currency = near.currency
        and (
            (near.created_at > cuts.read_at and near.created_at <= cuts.observed_at)
            or (near.created_at > cuts.observed_at and near.created_at <= cuts.read_at)
        )
    group by cuts.snapshot_run_id, cuts.observed_at, cuts.currency, cuts.read_at,
        cuts.implied_opening_minor

),

expected as (

    {%- if whole_history %}
    select distinct currency, 0 as expected_opening_minor
    from tied
    {%- else %}
    -- The opening most snapshots agree with; on a tie, the earliest snapshot's.
    select currency, opening_minor as expected_opening_minor
    from (
        select
            currency,
            opening_minor,
            row_number() over (
                partition by currency
                order by count(distinct snapshot_run_id) desc, min(observed_at), opening_minor
            ) as agreement_rank
        from candidates
        group by currency, opening_minor
    ) as ranked
    where agreement_rank = 1
    {%- endif %}

),

explained as (

    select distinct candidates.snapshot_run_id, candidates.currency
    from candidates
    inner join expected
        on candidates.currency = expected.currency
        and candidates.opening_minor = expected.expected_opening_minor

)

select
    tied.*,
    tied.balance_minor - tied.ledger_net_minor as implied_opening_minor,
    expected.expected_opening_minor,
    {%- if whole_history %}
    'whole history extracted (LEDGER_WHOLE_HISTORY) but the nets do not sum to the balance'
    {%- else %}
    'the balance changed by more or less than the ledger, against the other snapshots'
    {%- endif %} as problem
from tied
inner join expected
    on tied.currency = expected.currency
left join explained
    on tied.snapshot_run_id = explained.snapshot_run_id
    and tied.currency = explained.currency
where explained.snapshot_run_id is null
