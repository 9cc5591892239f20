{#- One row per product: what a price sells. #}

with products as (

    select * from {{ ref('stg_stripe__products') }}

),

final as (

    select
        product_id,
        name,
        description,
        is_active,
        created_at,
        updated_at,
        cast(created_at as date) as dt
    from products

)

select * from final
