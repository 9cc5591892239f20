{#- One row per price, with its product and what it adds to MRR: a recurring, licensed
    (per seat) price with a positive unit amount counts, normalised to a month by the exact
    factor mrr_factor_numerator / mrr_factor_denominator (docs/finance.md#mrr); one-time,
    metered and free prices add nothing. #}

with prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

products as (

    select
        product_id,
        name as product_name
    from {{ ref('stg_stripe__products') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        prices.*,
        products.product_name,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit,
        coalesce(
            prices.price_type = 'recurring'
            and prices.recurring_usage_type = 'licensed'
            and prices.unit_amount_minor > 0
            and prices.recurring_interval in ('day', 'week', 'month', 'year')
            and prices.recurring_interval_count > 0,
            false
        ) as is_mrr_eligible
    from prices
    left join products
        on prices.product_id = products.product_id
    -- A left join: a currency missing from the seed must fail a test, not drop a price.
    left join exponents
        on prices.currency = exponents.currency

),

final as (

    select
        price_id,
        product_id,
        product_name,
        nickname,
        currency,
        currency_exponent,
        unit_amount_minor,
        {{ to_major('unit_amount_minor', 'minor_unit') }} as unit_amount,
        billing_scheme,
        price_type,
        recurring_interval,
        recurring_interval_count,
        recurring_usage_type,
        tax_behavior,
        is_active,
        is_mrr_eligible,
        case
            when is_mrr_eligible then {{ mrr_factor_numerator('recurring_interval') }}
        end as mrr_factor_numerator,
        case
            when is_mrr_eligible then 12 * recurring_interval_count
        end as mrr_factor_denominator,
        created_at,
        cast(created_at as date) as dt
    from joined

)

select * from final
