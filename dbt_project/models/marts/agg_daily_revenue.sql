{{ config(location=gold_location('agg_daily_revenue'), options=dt_partitioned()) }}

with charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

exponents as (

    -- 1, 0.01 or 0.001 as an exact decimal: major = minor * factor never goes through a float.
    select
        currency,
        exponent,
        cast(1.0 / pow(10, exponent) as decimal(4, 3)) as minor_unit
    from {{ ref('currency_exponents') }}

),

daily as (

    select
        cast(created_at as date) as revenue_date,
        currency,
        -- bigint, not the hugeint sum() gives: Parquet would store a hugeint as a double.
        cast(sum(case when status = 'succeeded' then amount_minor else 0 end) as bigint)
            as gross_minor,
        cast(sum(case when status = 'succeeded' then amount_refunded_minor else 0 end) as bigint)
            as refunded_minor,
        cast(count(case when status = 'succeeded' then 1 end) as bigint) as succeeded_count,
        cast(count(case when status = 'failed' then 1 end) as bigint) as failed_count
    from charges
    group by 1, 2

),

final as (

    select
        daily.revenue_date,
        daily.currency,
        daily.gross_minor,
        daily.refunded_minor,
        daily.gross_minor - daily.refunded_minor as net_minor,
        -- Major units use the currency's own exponent: yen has none, dinars have three.
        cast(daily.gross_minor as decimal(34, 0)) * exponents.minor_unit as gross,
        cast(daily.refunded_minor as decimal(34, 0)) * exponents.minor_unit as refunded,
        cast(daily.gross_minor - daily.refunded_minor as decimal(34, 0))
            * exponents.minor_unit as net,
        daily.succeeded_count,
        daily.failed_count,
        daily.revenue_date as dt
    from daily
    inner join exponents
        on daily.currency = exponents.currency

)

select * from final
