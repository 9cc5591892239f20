{#- `percent_off` is a decimal percentage (25.5); `amount_off` is in minor units of `currency`. #}
{% call staging_model('coupons', 'coupon_id') -%}
        {{ json_text('$.id') }} as coupon_id,
        {{ json_text('$.name') }} as name,
        {{ json_text('$.duration') }} as duration,
        {{ json_cast('$.duration_in_months', 'bigint') }} as duration_in_months,
        {{ json_cast('$.percent_off', 'decimal(9,4)') }} as percent_off,
        {{ json_cast('$.amount_off', 'bigint') }} as amount_off_minor,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_cast('$.valid', 'boolean') }} as is_valid,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
