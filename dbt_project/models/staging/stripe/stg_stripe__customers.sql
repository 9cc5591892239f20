{% call staging_model('customers', 'customer_id', tombstones=true) -%}
        {{ json_text('$.id') }} as customer_id,
        {{ json_text('$.email') }} as email,
        {{ json_text('$.name') }} as customer_name,
        {{ json_text('$.description') }} as description,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_text('$.address.country') }} as address_country,
        {{ json_text('$.address.city') }} as address_city,
        {{ json_text('$.tax_exempt') }} as tax_exempt,
        {{ json_cast('$.balance', 'bigint') }} as balance_minor,
        {{ json_cast('$.delinquent', 'boolean') }} as is_delinquent,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ json_value('$.metadata') }} as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
