{#- One row per subscription item per version of its subscription: every distinct state
    Bronze holds (stg_stripe__subscription_versions: each create, update and deletion Stripe
    announced, or a listed state), valid from the moment it took effect until the next
    version's. Exact history, never rebuilt from invoices: the price and quantity an item had
    on any day are read here. A version without items has no row. #}

with versions as (

    select
        *,
        cast(row_number() over (
            partition by subscription_id order by version_at
        ) as bigint) as version_number,
        lead(version_at) over (
            partition by subscription_id order by version_at
        ) as next_version_at
    from {{ ref('stg_stripe__subscription_versions') }}

),

exploded as (

    select
        versions.*,
        {{ subscription_items('versions.items') }} as item
    from versions

),

items as (

    select
        *,
        item.id as subscription_item_id,
        item.price_id as price_id,
        item.quantity as quantity
    from exploded

),

prices as (

    select * from {{ ref('dim_prices') }}

),

coupons as (

    select * from {{ ref('stg_stripe__coupons') }}

),

final as (

    select
        items.subscription_id,
        items.version_number,
        items.subscription_item_id,
        items.customer_id,
        items.status,
        items.currency,
        prices.currency_exponent,
        items.price_id,
        prices.product_id,
        items.quantity,
        prices.unit_amount_minor,
        prices.unit_amount,
        prices.recurring_interval,
        prices.recurring_interval_count,
        prices.recurring_usage_type,
        coalesce(prices.is_mrr_eligible, false) as is_mrr_eligible,
        -- The item's MRR is mrr_numerator / mrr_factor_denominator minor units (exact).
        case
            when prices.is_mrr_eligible
                then {{ exact_integer('prices.unit_amount_minor') }} * items.quantity
                    * prices.mrr_factor_numerator
            else 0
        end as mrr_numerator,
        prices.mrr_factor_numerator,
        prices.mrr_factor_denominator,
        items.coupon_id,
        coupons.duration as coupon_duration,
        coupons.percent_off as coupon_percent_off,
        coupons.amount_off_minor as coupon_amount_off_minor,
        coupons.currency as coupon_currency,
        items.cancel_at_period_end,
        items.canceled_at,
        items.ended_at,
        items.trial_end,
        items.current_period_start,
        items.current_period_end,
        items.version_at as valid_from,
        items.next_version_at as valid_to,
        items.next_version_at is null as is_current,
        items.dt
    from items
    left join prices
        on items.price_id = prices.price_id
    left join coupons
        on items.coupon_id = coupons.coupon_id

)

select * from final
