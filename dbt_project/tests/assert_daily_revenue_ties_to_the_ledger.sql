{#- Per settlement currency and day, agg_daily_revenue's fees and net equal the sums of the
    balance transactions it books (charges, refunds, their failures' returns and
    partial-capture reversals, dispute withdrawals and reinstatements; payouts and other
    categories are the ledger models'), to the minor unit, on every day after the events
    feed's first: before it, a transaction can move money of an object created before the
    listed window (a bank debit settling, a dispute won) that only its event brings, and
    Stripe keeps events 30 days. Returns the days and currencies that differ. -#}

with checked_from as (

    select cast(min(created_at) as date) as first_event_date
    from {{ ref('stg_stripe__events') }}

),

ledger as (

    select
        cast(created_at as date) as activity_date,
        currency as settlement_currency,
        sum(fee_minor) as fee_minor,
        sum(net_minor) as net_minor
    from {{ ref('stg_stripe__balance_transactions') }}
    where reporting_category in (
        'charge', 'refund', 'refund_failure', 'partial_capture_reversal', 'dispute',
        'dispute_reversal'
    )
    group by 1, 2

),

revenue as (

    select
        activity_date,
        settlement_currency,
        sum(fee_minor) as fee_minor,
        sum(net_settlement_minor) as net_minor
    from {{ ref('agg_daily_revenue') }}
    where settlement_currency is not null
    group by 1, 2

)

select
    coalesce(ledger.activity_date, revenue.activity_date) as activity_date,
    coalesce(ledger.settlement_currency, revenue.settlement_currency) as settlement_currency,
    ledger.fee_minor as ledger_fee_minor,
    revenue.fee_minor as revenue_fee_minor,
    ledger.net_minor as ledger_net_minor,
    revenue.net_minor as revenue_net_minor
from ledger
full outer join revenue
    on ledger.activity_date = revenue.activity_date
    and ledger.settlement_currency = revenue.settlement_currency
cross join checked_from
where coalesce(ledger.activity_date, revenue.activity_date) > checked_from.first_event_date
    and (
        coalesce(ledger.fee_minor, 0) <> coalesce(revenue.fee_minor, 0)
        or coalesce(ledger.net_minor, 0) <> coalesce(revenue.net_minor, 0)
    )
