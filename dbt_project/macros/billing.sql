{# Billing's Silver (issue 18): the columns a subscription's state is made of, shared by its
   latest state (stg_stripe__subscriptions) and its versions
   (stg_stripe__subscription_versions); an invoice line's columns, shared by its embedded and
   listed copies (stg_stripe__invoice_line_items); and the engine differences they need. #}

{# A subscription's state. Reads 2024-06-20 and the releases after 2025-03-31.basil, which
   moved the current period onto the items and keep the coupon only inside `discounts`
   (discount ids, objects where a list read expanded them; docs/architecture.md#api-versions).
   `coupon_id` is null where only an unexpanded id names it: stg_stripe__subscription_versions
   lends it the coupon another line of the same discount carries. #}
{% macro subscription_state_columns() -%}
        {{ json_text('$.id') }} as subscription_id,
        {{ json_text('$.customer') }} as customer_id,
        {{ json_text('$.status') }} as status,
        lower({{ json_text('$.currency') }}) as currency,
        coalesce(
            {{ json_text('$.discount.coupon.id') }},
            {{ json_text('$.discounts[0].coupon.id') }}
        ) as coupon_id,
        {{ subscription_discount_id() }} as discount_id,
        {{ json_cast('$.cancel_at_period_end', 'boolean') }} as cancel_at_period_end,
        {{ unix_to_timestamp('$.canceled_at') }} as canceled_at,
        {{ unix_to_timestamp('$.ended_at') }} as ended_at,
        {{ unix_to_timestamp('$.trial_end') }} as trial_end,
        {{ epoch_to_timestamp('coalesce(' ~ json_cast('$.current_period_start', 'bigint') ~ ', '
            ~ json_cast('$.items.data[0].current_period_start', 'bigint') ~ ')') }}
            as current_period_start,
        {{ epoch_to_timestamp('coalesce(' ~ json_cast('$.current_period_end', 'bigint') ~ ', '
            ~ json_cast('$.items.data[0].current_period_end', 'bigint') ~ ')') }}
            as current_period_end,
        {{ subscription_items_json() }} as items
{%- endmacro %}

{# The id of the subscription's (first) discount: the 2024 `discount` object's, an expanded
   `discounts` object's, or the bare id `discounts` holds. #}
{% macro subscription_discount_id() -%}
coalesce(
            {{ json_text('$.discount.id') }},
            {{ json_text('$.discounts[0].id') }},
            {{ json_text('$.discounts[0]') }}
        )
{%- endmacro %}

{# The subscription's items as JSON text `[{"id","price_id","quantity"}, ...]`, sorted by
   item id, null members kept: the same text for the same items in every version, so versions
   compare by it, and the same text on DuckDB and Spark (minified, members in this order). #}
{% macro subscription_items_json() -%}
  {{ return(adapter.dispatch('subscription_items_json')()) }}
{%- endmacro %}

{% macro duckdb__subscription_items_json() -%}
cast(to_json(list_sort(list_transform(
            from_json({{ duckdb__bronze_member('$.items.data', '->') }},
                '[{"id": "VARCHAR", "price": {"id": "VARCHAR"}, "quantity": "BIGINT"}]'),
            item -> {'id': item.id, 'price_id': item.price.id, 'quantity': item.quantity}
        ))) as varchar)
{%- endmacro %}

{% macro spark__subscription_items_json() -%}
to_json(array_sort(transform(
            from_json(get_json_object(data, '$.items.data'),
                'array<struct<id:string,price:struct<id:string>,quantity:bigint>>'),
            item -> named_struct('id', item.id, 'price_id', item.price.id, 'quantity', item.quantity)
        )), map('ignoreNullFields', 'false'))
{%- endmacro %}

{# An invoice line (`line_item`). Reads 2024-06-20 and basil on, which moved price,
   subscription, subscription item, proration and type into `pricing` and `parent`, and
   tax_amounts into `taxes`. #}
{% macro invoice_line_columns() -%}
  {%- set parent_type = json_text('$.parent.type') -%}
        {{ json_text('$.id') }} as line_item_id,
        coalesce(
            {{ json_text('$.subscription') }},
            case {{ parent_type }}
                when 'subscription_item_details'
                    then {{ json_text('$.parent.subscription_item_details.subscription') }}
                when 'invoice_item_details'
                    then {{ json_text('$.parent.invoice_item_details.subscription') }}
            end
        ) as subscription_id,
        coalesce(
            {{ json_text('$.subscription_item') }},
            case when {{ parent_type }} = 'subscription_item_details'
                then {{ json_text('$.parent.subscription_item_details.subscription_item') }}
            end
        ) as subscription_item_id,
        coalesce(
            {{ json_text('$.price.id') }},
            {{ json_text('$.pricing.price_details.price') }}
        ) as price_id,
        coalesce(
            {{ json_text('$.type') }},
            case {{ parent_type }}
                when 'subscription_item_details' then 'subscription'
                when 'invoice_item_details' then 'invoiceitem'
            end
        ) as line_type,
        coalesce(
            {{ json_cast('$.proration', 'boolean') }},
            case {{ parent_type }}
                when 'subscription_item_details'
                    then {{ json_cast('$.parent.subscription_item_details.proration', 'boolean') }}
                when 'invoice_item_details'
                    then {{ json_cast('$.parent.invoice_item_details.proration', 'boolean') }}
            end
        ) as is_proration,
        {{ json_cast('$.quantity', 'bigint') }} as quantity,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        lower({{ json_text('$.currency') }}) as currency,
        coalesce({{ json_sum('$.discount_amounts', 'amount') }}, 0) as discount_amount_minor,
        coalesce(
            {{ json_sum('$.tax_amounts', 'amount') }},
            {{ json_sum('$.taxes', 'amount') }},
            0
        ) as tax_amount_minor,
        {{ unix_to_timestamp('$.period.start') }} as period_start,
        {{ unix_to_timestamp('$.period.end') }} as period_end,
        {{ json_text('$.description') }} as description
{%- endmacro %}

{# One row per element of the JSON array at `path` of `data` (an invoice's embedded
   `lines.data`), the element as JSON (DuckDB) or JSON text (Spark). #}
{% macro json_array_elements(path) -%}
  {{ return(adapter.dispatch('json_array_elements')(path)) }}
{%- endmacro %}

{% macro duckdb__json_array_elements(path) -%}
unnest(from_json({{ duckdb__bronze_member(path, '->') }}, '["JSON"]'))
{%- endmacro %}

{% macro spark__json_array_elements(path) -%}
explode(from_json(get_json_object(data, '{{ path }}'), 'array<string>'))
{%- endmacro %}

{# A JSON object (an array element) in the form Bronze `data` is read in, so the json_*
   macros read it: a STRUCT of `members` on DuckDB, the text itself on Spark. #}
{% macro as_bronze_object(column, members) -%}
  {{ return(adapter.dispatch('as_bronze_object')(column, members)) }}
{%- endmacro %}

{% macro duckdb__as_bronze_object(column, members) -%}
json_transform({{ column }}, '{{ bronze_object_shape(members) }}')
{%- endmacro %}

{% macro spark__as_bronze_object(column, members) -%}
{{ column }}
{%- endmacro %}

{# The number of elements of the JSON array at `path` of `data` (null when absent). #}
{% macro json_array_length(path) -%}
  {{ return(adapter.dispatch('json_array_length')(path)) }}
{%- endmacro %}

{% macro duckdb__json_array_length(path) -%}
cast(json_array_length({{ duckdb__bronze_member(path, '->') }}) as bigint)
{%- endmacro %}

{% macro spark__json_array_length(path) -%}
cast(json_array_length(get_json_object(data, '{{ path }}')) as bigint)
{%- endmacro %}
