{#- The ledger: one row per balance transaction, Stripe's record of every money movement
    (docs/finance.md). Amounts are in the settlement currency; the source's presentment
    currency comes from the charge, refund, dispute or payout it belongs to. #}

with balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

payout_items as (

    select
        balance_transaction_id,
        payout_id
    from {{ ref('stg_stripe__payout_balance_transactions') }}

),

snapshots as (

    select * from {{ ref('stg_stripe__balance') }}

),

as_of as (

    -- The build's clock: the API time of the newest read of the ledger or the balance (as
    -- rpt_webhook_reconciliation's batch horizon), so a rebuild of the same Bronze gives
    -- the same statuses, and they are Stripe's own as of that read.
    select
        max(observed_epoch) as as_of_epoch
    from (
        select max(_observed_at) as observed_epoch from balance_transactions
        union all
        select max({{ epoch_seconds('created_at') }}) from snapshots
    ) as reads

),

sources as (

    -- The presentment currency of every object a transaction can come from.
    select charge_id as source_id, currency from {{ ref('stg_stripe__charges') }}
    union all
    select refund_id, currency from {{ ref('stg_stripe__refunds') }}
    union all
    select dispute_id, currency from {{ ref('stg_stripe__disputes') }}
    union all
    select payout_id, currency from {{ ref('stg_stripe__payouts') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        balance_transactions.*,
        {{ ledger_source_kind('balance_transactions.source_id', 'balance_transactions.type') }}
            as source_kind,
        -- Without its source in Silver, an unconverted transaction was presented in its
        -- settlement currency; a converted one's presentment currency is unknown (null).
        coalesce(
            sources.currency,
            case
                when balance_transactions.exchange_rate is null
                    then balance_transactions.currency
            end
        ) as presentment_currency,
        payout_items.payout_id,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit,
        as_of.as_of_epoch
    from balance_transactions
    cross join as_of
    left join sources
        on balance_transactions.source_id = sources.source_id
    left join payout_items
        on balance_transactions.balance_transaction_id = payout_items.balance_transaction_id
    -- A left join: a currency missing from the seed must fail a test, not drop money.
    left join exponents
        on balance_transactions.currency = exponents.currency

),

final as (

    select
        balance_transaction_id,
        type,
        reporting_category,
        source_id,
        source_kind,
        payout_id,
        currency,
        currency_exponent,
        presentment_currency,
        exchange_rate,
        amount_minor,
        {{ to_major('amount_minor', 'minor_unit') }} as amount,
        fee_minor,
        {{ to_major('fee_minor', 'minor_unit') }} as fee,
        net_minor,
        {{ to_major('net_minor', 'minor_unit') }} as net,
        -- JSON text on every engine (DuckDB's JSON type would differ from Spark's string).
        cast(fee_details as {{ dbt.type_string() }}) as fee_details,
        description,
        created_at,
        available_on,
        -- Stripe turns a transaction available at available_on and sends no event, so the
        -- served status ages; this one is as of the build's clock.
        case
            when {{ epoch_seconds('available_on') }} <= as_of_epoch then 'available'
            else 'pending'
        end as status,
        status as served_status,
        {{ epoch_to_timestamp('as_of_epoch') }} as status_as_of,
        cast(created_at as date) as created_date,
        cast(created_at as date) as dt
    from joined

)

select * from final
