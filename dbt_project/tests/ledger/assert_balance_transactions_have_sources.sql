{#- No balance transaction lacks its source: each one whose source is a charge, refund,
    dispute or payout (by the id's prefix, else its type) finds that object in Silver.
    Sources of other kinds (transfers, top-ups, ...) are not extracted and not checked.
    Only transactions since the events feed's first event are checked: an older one may
    move money of an object created before the listed window (a bank debit settling, a
    dispute won), which only its event brings, and Stripe keeps events 30 days, so a first
    run over more days cannot have it. Fails with each orphan transaction. #}

with ledger as (

    select
        *,
        {{ ledger_source_kind('source_id', 'type') }} as source_kind
    from {{ ref('stg_stripe__balance_transactions') }}

),

sources as (

    select 'charge' as source_kind, charge_id as source_id from {{ ref('stg_stripe__charges') }}
    union all
    select 'refund', refund_id from {{ ref('stg_stripe__refunds') }}
    union all
    select 'dispute', dispute_id from {{ ref('stg_stripe__disputes') }}
    union all
    select 'payout', payout_id from {{ ref('stg_stripe__payouts') }}

),

events_start as (

    select min(created_at) as first_event_at from {{ ref('stg_stripe__events') }}

)

select
    ledger.balance_transaction_id,
    ledger.type,
    ledger.reporting_category,
    ledger.source_kind,
    ledger.source_id,
    ledger.created_at
from ledger
cross join events_start
left join sources
    on ledger.source_kind = sources.source_kind
    and ledger.source_id = sources.source_id
where ledger.source_kind <> 'other'
    and ledger.created_at >= events_start.first_event_at
    and sources.source_id is null
