{% call staging_model('products', 'product_id') -%}
        {{ json_text('$.id') }} as product_id,
        {{ json_text('$.name') }} as name,
        {{ json_text('$.description') }} as description,
        {{ json_cast('$.active', 'boolean') }} as is_active,
        {{ unix_to_timestamp('$.created') }} as created_at,
        {{ unix_to_timestamp('$.updated') }} as updated_at
{%- endcall %}
