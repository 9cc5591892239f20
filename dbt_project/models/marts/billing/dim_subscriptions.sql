{#- One row per subscription in its latest state, with its MRR as of the build's clock (the
    newest movement's MRR in fct_mrr_movements, under the var mrr_churn_at). #}

with subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

latest_movement as (

    select
        subscription_id,
        mrr_minor,
        row_number() over (partition by subscription_id order by mrr_month desc) as recency
    from {{ ref('fct_mrr_movements') }}

),

-- The discount as the latest version knows it: an event of 2025-03-31.basil or later names
-- it by id only, and the versions lend it the coupon a list read carried.
latest_version as (

    select
        subscription_id,
        coupon_id,
        discount_start,
        discount_end,
        row_number() over (partition by subscription_id order by version_at desc) as recency
    from {{ ref('stg_stripe__subscription_versions') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        subscriptions.*,
        coalesce(subscriptions.coupon_id, latest_version.coupon_id) as known_coupon_id,
        coalesce(subscriptions.discount_start, latest_version.discount_start)
            as known_discount_start,
        coalesce(subscriptions.discount_end, latest_version.discount_end)
            as known_discount_end,
        coalesce(latest_movement.mrr_minor, 0) as mrr_minor,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit
    from subscriptions
    left join latest_movement
        on subscriptions.subscription_id = latest_movement.subscription_id
        and latest_movement.recency = 1
    left join latest_version
        on subscriptions.subscription_id = latest_version.subscription_id
        and latest_version.recency = 1
    left join exponents
        on subscriptions.currency = exponents.currency

),

final as (

    select
        subscription_id,
        customer_id,
        status,
        currency,
        currency_exponent,
        collection_method,
        mrr_minor,
        {{ to_major('mrr_minor', 'minor_unit') }} as mrr,
        cancel_at_period_end,
        cancel_at,
        canceled_at,
        ended_at,
        trial_start,
        trial_end,
        current_period_start,
        current_period_end,
        start_date,
        known_coupon_id as coupon_id,
        known_discount_start as discount_start,
        known_discount_end as discount_end,
        latest_invoice_id,
        items,
        created_at,
        cast(created_at as date) as dt
    from joined

)

select * from final
