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

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        subscriptions.*,
        coalesce(latest_movement.mrr_minor, 0) as mrr_minor,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit
    from subscriptions
    left join latest_movement
        on subscriptions.subscription_id = latest_movement.subscription_id
        and latest_movement.recency = 1
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
        coupon_id,
        discount_start,
        discount_end,
        latest_invoice_id,
        items,
        created_at,
        cast(created_at as date) as dt
    from joined

)

select * from final
