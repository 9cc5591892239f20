{#- A price's amount and recurrence never change in Stripe (a new price is created
    instead); `active` and `nickname` may. #}
{% call staging_model('prices', 'price_id') -%}
        {{ json_text('$.id') }} as price_id,
        {{ json_text('$.product') }} as product_id,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_cast('$.unit_amount', 'bigint') }} as unit_amount_minor,
        {{ json_text('$.billing_scheme') }} as billing_scheme,
        {{ json_text('$.type') }} as price_type,
        {{ json_text('$.recurring.interval') }} as recurring_interval,
        {{ json_cast('$.recurring.interval_count', 'bigint') }} as recurring_interval_count,
        {{ json_text('$.recurring.usage_type') }} as recurring_usage_type,
        {{ json_text('$.tax_behavior') }} as tax_behavior,
        {{ json_cast('$.active', 'boolean') }} as is_active,
        {{ json_text('$.nickname') }} as nickname,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
