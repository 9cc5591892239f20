with payments as (

    select * from {{ ref('fct_payments') }}

),

daily as (

    select
        created_date as revenue_date,
        currency,
        {{ sum_minor("captured_minor") }} as gross_minor,
        {{ sum_minor("refunded_minor") }} as refunded_minor,
        {{ sum_minor("net_minor") }} as net_minor,
        cast(count(case when status = 'succeeded' then 1 end) as bigint) as succeeded_count,
        cast(count(case when status = 'failed' then 1 end) as bigint) as failed_count,
        cast(count(case when status = 'pending' then 1 end) as bigint) as pending_count,
        cast(
            count(case when captured_minor > 0 and refunded_minor = captured_minor then 1 end)
            as bigint
        ) as refunded_count
    from payments
    group by 1, 2

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

final as (

    select
        daily.revenue_date,
        daily.currency,
        daily.gross_minor,
        daily.refunded_minor,
        daily.net_minor,
        -- Major units use the currency's own exponent: yen have none, dinars have three.
        {{ to_major('daily.gross_minor', minor_unit('exponents.exponent')) }} as gross,
        {{ to_major('daily.refunded_minor', minor_unit('exponents.exponent')) }} as refunded,
        {{ to_major('daily.net_minor', minor_unit('exponents.exponent')) }} as net,
        daily.succeeded_count,
        daily.failed_count,
        daily.pending_count,
        daily.refunded_count,
        daily.revenue_date as dt
    from daily
    left join exponents
        on daily.currency = exponents.currency

)

select * from final
