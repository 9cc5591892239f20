with customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

charges as (

    select
        *,
        -- A payment is money taken: an authorisation not captured (or released) is not.
        status = 'succeeded' and amount_captured_minor > 0 as took_money
    from {{ ref('stg_stripe__charges') }}

),

payment_activity as (

    select
        customer_id,
        min(case when took_money then created_at end) as first_payment_at,
        max(case when took_money then created_at end) as last_payment_at,
        cast(count(case when took_money then 1 end) as bigint) as payment_count,
        cast(count(case when status = 'failed' then 1 end) as bigint) as failed_payment_count,
        cast(count(case when took_money and is_refunded then 1 end) as bigint)
            as refunded_payment_count,
        cast(count(distinct case when took_money then currency end) as bigint) as currency_count
    from charges
    where customer_id is not null
    group by 1

),

final as (

    select
        customers.customer_id,
        customers.email,
        customers.customer_name,
        customers.currency,
        customers.address_country,
        customers.is_delinquent,
        customers.is_deleted,
        customers.deleted_at,
        customers.created_at,
        payment_activity.first_payment_at,
        payment_activity.last_payment_at,
        coalesce(payment_activity.payment_count, 0) as payment_count,
        coalesce(payment_activity.failed_payment_count, 0) as failed_payment_count,
        coalesce(payment_activity.refunded_payment_count, 0) as refunded_payment_count,
        coalesce(payment_activity.currency_count, 0) as currency_count,
        customers.dt
    from customers
    left join payment_activity
        on customers.customer_id = payment_activity.customer_id

)

select * from final
