{#- One row per line of an invoice (invoice_id, line_item_id), from the invoice's latest
    version: an invoice whose `lines.has_more` is false embeds all its lines; for the others
    the lines come from the child stream `invoice_line_items` (GET /v1/invoices/{id}/lines,
    every page), its latest listing of the invoice (a draft's lines may change between
    listings). An invoice with more lines and no listing yet has none here, and the Gold gate
    (lines sum to the subtotal) says so. Always rebuilt from all of Bronze: which copy counts
    depends on the invoice's latest version. #}
{%- set line -%}
{{ invoice_line_columns() }}
{%- endset -%}
{%- set line_members = bronze_members_in(line) -%}
{%- set invoice_columns -%}
        {{ json_text('$.id') }} as invoice_id,
        coalesce({{ json_cast('$.lines.has_more', 'boolean') }}, false) as lines_has_more,
        {{ unix_to_timestamp('$.created') }} as invoice_created_at
{%- endset -%}
{%- set invoice_members = bronze_members_in(invoice_columns) -%}
with invoice_lines as (

    select * from {{ bronze(source('stripe', 'invoices'), invoice_members) }}

),

invoice_versions as (

    select
{{ invoice_columns }},
        data,
        row_number() over ({{ versions_newest_first(json_text('$.id')) }}) as version_rank
    from invoice_lines

),

latest_invoices as (

    select * from invoice_versions where version_rank = 1

),

embedded as (

    select
        invoice_id,
        invoice_created_at,
        {{ json_array_elements('$.lines.data') }} as line_json
    from latest_invoices
    where not lines_has_more

),

listed_lines as (

    select
        _parent_id as invoice_id,
        _run_id,
        {{ json_text('$.id') }} as line_item_id,
        data,
        _observed_at,
        _loaded_at
    from {{ bronze(source('stripe', 'invoice_line_items'), line_members) }}

),

latest_listing as (

    -- Each invoice's newest listing: the run of its newest line.
    select invoice_id, _run_id
    from (
        select
            invoice_id,
            _run_id,
            row_number() over (
                partition by invoice_id order by _observed_at desc, _loaded_at desc, _run_id desc
            ) as listing_rank
        from listed_lines
    ) as listings
    where listing_rank = 1

),

listed as (

    -- One copy per line of that listing (a page read twice after a retry is one line).
    select invoice_id, invoice_created_at, data
    from (
        select
            lines.invoice_id,
            invoices.invoice_created_at,
            lines.data,
            row_number() over (
                partition by lines.invoice_id, lines.line_item_id
                order by lines._observed_at desc, lines._loaded_at desc
            ) as copy_rank
        from listed_lines as lines
        inner join latest_listing
            on lines.invoice_id = latest_listing.invoice_id
            and lines._run_id = latest_listing._run_id
        inner join latest_invoices as invoices
            on lines.invoice_id = invoices.invoice_id
            and invoices.lines_has_more
    ) as copies
    where copy_rank = 1

),

all_lines as (

    select invoice_id, invoice_created_at, {{ as_bronze_object('line_json', line_members) }} as data
    from embedded
    union all
    select invoice_id, invoice_created_at, data
    from listed

)

select
    invoice_id,
    {{ line }},
    cast(invoice_created_at as date) as dt
from all_lines
