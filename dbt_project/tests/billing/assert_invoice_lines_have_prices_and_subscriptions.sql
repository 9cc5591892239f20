{#- The billing gate on Silver: every invoice line item's price and subscription exist in
    Silver (a subscription line must name its price; a one-off invoice item may have none),
    and its invoice too. Fails with each line and what it lacks. #}

with lines as (

    select * from {{ ref('stg_stripe__invoice_line_items') }}

),

prices as (

    select price_id from {{ ref('stg_stripe__prices') }}

),

subscriptions as (

    select subscription_id from {{ ref('stg_stripe__subscriptions') }}

),

invoices as (

    select invoice_id from {{ ref('stg_stripe__invoices') }}

),

checked as (

    select
        lines.invoice_id,
        lines.line_item_id,
        lines.line_type,
        lines.price_id,
        lines.subscription_id,
        case
            when invoices.invoice_id is null then 'its invoice is not in Silver'
            when lines.line_type = 'subscription' and lines.price_id is null
                then 'a subscription line without a price'
            when lines.price_id is not null and prices.price_id is null
                then 'its price is not in Silver'
            when lines.subscription_id is not null and subscriptions.subscription_id is null
                then 'its subscription is not in Silver'
        end as problem
    from lines
    left join invoices
        on lines.invoice_id = invoices.invoice_id
    left join prices
        on lines.price_id = prices.price_id
    left join subscriptions
        on lines.subscription_id = subscriptions.subscription_id

)

select * from checked
where problem is not null
