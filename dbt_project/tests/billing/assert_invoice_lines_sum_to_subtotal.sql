{#- The billing gate on Silver, so a failure stops the billing Gold before it is written:
    every invoice's line items (all of them, past the 10 an invoice embeds) sum exactly to
    its subtotal (amounts before discounts, exclusive of tax). Fails with each invoice, its
    line count and the difference. #}

with invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

lines as (

    select
        invoice_id,
        cast(count(*) as bigint) as line_count,
        {{ sum_minor('amount_minor') }} as lines_amount_minor
    from {{ ref('stg_stripe__invoice_line_items') }}
    group by 1

)

select
    invoices.invoice_id,
    invoices.status,
    invoices.subtotal_minor,
    coalesce(lines.line_count, 0) as line_count,
    coalesce(lines.lines_amount_minor, 0) as lines_amount_minor,
    invoices.subtotal_minor - coalesce(lines.lines_amount_minor, 0) as difference_minor
from invoices
left join lines
    on invoices.invoice_id = lines.invoice_id
where coalesce(lines.lines_amount_minor, 0) <> invoices.subtotal_minor
