{#- One row per invoice line item: every line of every invoice, also past the 10 an invoice
    embeds (stg_stripe__invoice_line_items reads `/v1/invoices/{id}/lines`), with its period,
    proration flag, price, product, quantity, amount, discount and tax in minor and exact
    major units. Amounts are before discounts and exclusive of tax, so an invoice's line
    amounts sum to its subtotal (gate test assert_invoice_lines_sum_to_subtotal). #}

with lines as (

    select * from {{ ref('stg_stripe__invoice_line_items') }}

),

invoices as (

    select
        invoice_id,
        customer_id,
        status as invoice_status,
        billing_reason,
        created_at as invoice_created_at
    from {{ ref('stg_stripe__invoices') }}

),

prices as (

    select
        price_id,
        product_id
    from {{ ref('stg_stripe__prices') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        lines.*,
        invoices.customer_id,
        invoices.invoice_status,
        invoices.billing_reason,
        invoices.invoice_created_at,
        prices.product_id,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit
    from lines
    left join invoices
        on lines.invoice_id = invoices.invoice_id
    left join prices
        on lines.price_id = prices.price_id
    left join exponents
        on lines.currency = exponents.currency

),

final as (

    select
        invoice_id,
        line_item_id,
        customer_id,
        subscription_id,
        subscription_item_id,
        price_id,
        product_id,
        line_type,
        is_proration,
        invoice_status,
        billing_reason,
        description,
        currency,
        currency_exponent,
        quantity,
        amount_minor,
        {{ to_major('amount_minor', 'minor_unit') }} as amount,
        discount_amount_minor,
        {{ to_major('discount_amount_minor', 'minor_unit') }} as discount_amount,
        tax_amount_minor,
        {{ to_major('tax_amount_minor', 'minor_unit') }} as tax_amount,
        period_start,
        period_end,
        invoice_created_at,
        dt
    from joined

)

select * from final
