{#- Every captured charge, money-moving succeeded refund and dispute movement in Silver
    has its balance transaction, of the same amount after conversion (half up, as the
    ledger converts). Only objects created since the start of the extracted ledger's latest
    unbroken stretch of days are checked: an older charge's transaction lies before the
    extracted window. A refund
    of money never captured (an expired authorisation) moves no money and has none. Fails
    with each object, the movement it lacks, and the amounts. #}

with ledger as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

ledger_days as (

    select distinct cast(created_at as date) as ledger_date from ledger

),

day_gaps as (

    select
        ledger_date,
        lag(ledger_date) over (order by ledger_date) as previous_date
    from ledger_days

),

ledger_start as (

    -- The extracted ledger's latest unbroken stretch of days: a backfill of an earlier,
    -- separate range (backfill --start/--end) leaves a gap whose movements were never read,
    -- so only what lies after the last gap is checked.
    select min(created_at) as first_created_at
    from ledger
    where cast(created_at as date) >= (
        select max(ledger_date)
        from day_gaps
        where previous_date is null
            or {{ dbt.datediff('previous_date', 'ledger_date', 'day') }} > 1
    )

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

expected as (

    select
        'charge' as movement,
        charge_id as source_id,
        'charge' as reporting_category,
        amount_minor as source_amount_minor,
        currency as source_currency,
        1 as sign,
        created_at
    from {{ ref('stg_stripe__charges') }}
    where status = 'succeeded' and amount_captured_minor > 0

    union all

    select
        'refund',
        refund_id,
        -- Either category: a partial capture's uncaptured rest is a refund booked as
        -- partial_capture_reversal.
        null,
        amount_minor,
        currency,
        -1,
        created_at
    from {{ ref('stg_stripe__refunds') }}
    where status = 'succeeded'
        and coalesce(reason, '') <> 'expired_uncaptured_charge'

    union all

    select
        'dispute withdrawal',
        dispute_id,
        'dispute',
        amount_minor,
        currency,
        -1,
        created_at
    from {{ ref('stg_stripe__disputes') }}
    -- An inquiry (warning_*) withdraws nothing.
    where status not like 'warning%'

    union all

    select
        'dispute reinstatement',
        dispute_id,
        'dispute_reversal',
        amount_minor,
        currency,
        1,
        created_at
    from {{ ref('stg_stripe__disputes') }}
    where status = 'won'

),

matched as (

    select
        expected.*,
        ledger.balance_transaction_id,
        ledger.reporting_category as ledger_category,
        ledger.amount_minor as ledger_amount_minor,
        ledger.exchange_rate,
        ledger.currency as ledger_currency,
        source_exponents.exponent as source_exponent,
        ledger_exponents.exponent as ledger_exponent
    from expected
    cross join ledger_start
    -- A refund (no category of its own) matches a `refund` or a `partial_capture_reversal`
    -- transaction, anything else its own category. Written as one equality of an expression
    -- of each side, not an OR: DuckDB runs an outer join on an OR as a nested loop, every
    -- movement against every transaction (1.3 s at 20k charges, ~2,500 times that at 1M).
    left join ledger
        on expected.source_id = ledger.source_id
        and coalesce(expected.reporting_category, 'refund') = case
            when ledger.reporting_category = 'partial_capture_reversal' then 'refund'
            else ledger.reporting_category
        end
    left join exponents as source_exponents
        on expected.source_currency = source_exponents.currency
    left join exponents as ledger_exponents
        on ledger.currency = ledger_exponents.currency
    where expected.created_at >= ledger_start.first_created_at

),

checked as (

    select
        *,
        case
            when exchange_rate is null then source_amount_minor
            else {{ convert_minor('source_amount_minor', 'exchange_rate', 'source_exponent', 'ledger_exponent') }}
        end * sign as expected_amount_minor
    from matched

)

select
    movement,
    source_id,
    coalesce(reporting_category, ledger_category) as reporting_category,
    balance_transaction_id,
    source_currency,
    ledger_currency,
    exchange_rate,
    expected_amount_minor,
    ledger_amount_minor,
    case
        when balance_transaction_id is null then 'no balance transaction'
        else 'amount differs'
    end as problem
from checked
where balance_transaction_id is null
    -- A partial capture's reversal is full - captured, each converted: not the refund's
    -- own amount converted, so only its presence is checked.
    or (
        ledger_category <> 'partial_capture_reversal'
        and ledger_amount_minor <> expected_amount_minor
    )
