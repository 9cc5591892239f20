{#- agg_daily_revenue keeps one settlement currency per presentment currency and day: money
    of one presentment currency that settled in two currencies the same day would be summed
    across currencies. Returns those (day, currency) pairs. -#}

with settled as (

    select
        coalesce(captured_date, created_date) as activity_date,
        currency,
        settlement_currency
    from {{ ref('fct_payments') }}
    where settlement_currency is not null

    union all

    select
        refunded_date,
        currency,
        settlement_currency
    from {{ ref('fct_refunds') }}
    where settlement_currency is not null

    union all

    select
        cast(withdrawn_at as date),
        currency,
        settlement_currency
    from {{ ref('fct_disputes') }}
    where withdrawn_at is not null

    union all

    select
        cast(reinstated_at as date),
        currency,
        settlement_currency
    from {{ ref('fct_disputes') }}
    where reinstated_at is not null

)

select
    activity_date,
    currency,
    count(distinct settlement_currency) as settlement_currencies
from settled
group by 1, 2
having count(distinct settlement_currency) > 1
