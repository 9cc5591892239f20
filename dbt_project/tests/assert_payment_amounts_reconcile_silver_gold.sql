{#- Per currency, succeeded charges' counts, captured money and customer refunds in Silver
    equal fct_payments and agg_daily_revenue's charge-date cohort columns, and the refunds
    agg_daily_revenue books by activity date equal fct_refunds'. Returns the currencies where
    any figure differs. Customer refunds are what the charge gave back (its refund objects
    not failed, else its amount_refunded) without what Stripe released uncaptured (the rest
    of a partial capture, an expired authorisation). -#}

with refunds_given as (

    {{ refunds_given_by_charge() }}

),

charges as (

    select
        charges.*,
        coalesce(refunds_given.refunds_given_minor, charges.amount_refunded_minor) as given_back_minor
    from {{ ref('stg_stripe__charges') }} as charges
    left join refunds_given
        on charges.charge_id = refunds_given.charge_id

),

silver as (

    select
        currency,
        count(*) filter (where status = 'succeeded') as paid_count,
        sum(amount_captured_minor) filter (where status = 'succeeded') as gross_minor,
        sum(
            given_back_minor
            - least(given_back_minor, amount_minor - amount_captured_minor)
        ) filter (where status = 'succeeded') as refunded_minor
    from charges
    group by 1

),

payments as (

    select
        currency,
        count(*) filter (where status = 'succeeded') as paid_count,
        sum(captured_minor) filter (where status = 'succeeded') as gross_minor,
        sum(refunded_minor) filter (where status = 'succeeded') as refunded_minor,
        sum(captured_less_refunded_minor) as net_minor
    from {{ ref('fct_payments') }}
    group by 1

),

daily as (

    select
        currency,
        sum(cohort_succeeded_count) as paid_count,
        sum(gross_minor) as gross_minor,
        sum(cohort_refunded_minor) as refunded_minor,
        sum(gross_minor - cohort_refunded_minor) as net_minor,
        sum(refunded_minor) as activity_refunded_minor
    from {{ ref('agg_daily_revenue') }}
    group by 1

),

refunds as (

    select
        currency,
        sum(amount_minor) as refunded_minor
    from {{ ref('fct_refunds') }}
    where refund_kind = 'customer'
        and status not in ('failed', 'canceled')
    group by 1

)

select
    coalesce(silver.currency, payments.currency, daily.currency) as currency,
    silver.gross_minor as silver_gross_minor,
    payments.gross_minor as fct_gross_minor,
    daily.gross_minor as agg_gross_minor,
    silver.refunded_minor as silver_refunded_minor,
    payments.refunded_minor as fct_refunded_minor,
    daily.refunded_minor as agg_refunded_minor,
    payments.net_minor as fct_net_minor,
    daily.net_minor as agg_net_minor,
    refunds.refunded_minor as fct_refunds_refunded_minor,
    daily.activity_refunded_minor as agg_activity_refunded_minor
from silver
full outer join payments
    on silver.currency = payments.currency
full outer join daily
    on coalesce(silver.currency, payments.currency) = daily.currency
full outer join refunds
    on coalesce(silver.currency, payments.currency, daily.currency) = refunds.currency
where silver.paid_count is distinct from payments.paid_count
    or silver.paid_count is distinct from daily.paid_count
    or coalesce(silver.gross_minor, 0) is distinct from coalesce(payments.gross_minor, 0)
    or coalesce(silver.gross_minor, 0) is distinct from coalesce(daily.gross_minor, 0)
    or coalesce(silver.refunded_minor, 0) is distinct from coalesce(payments.refunded_minor, 0)
    or coalesce(silver.refunded_minor, 0) is distinct from coalesce(daily.refunded_minor, 0)
    or payments.net_minor is distinct from daily.net_minor
    or coalesce(refunds.refunded_minor, 0)
        is distinct from coalesce(daily.activity_refunded_minor, 0)
