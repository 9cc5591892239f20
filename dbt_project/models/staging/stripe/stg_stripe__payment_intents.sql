{#- From 2025-03-31.basil a payment intent has no `invoice`: invoice_id keeps what an older
    API version said (carry; ADR 0051). #}
{% call staging_model('payment_intents', 'payment_intent_id', carry=['invoice_id']) -%}
        {{ json_text('$.id') }} as payment_intent_id,
        {{ json_text('$.customer') }} as customer_id,
        {{ json_text('$.latest_charge') }} as latest_charge_id,
        {{ json_text('$.invoice') }} as invoice_id,
        {{ json_text('$.payment_method') }} as payment_method_id,
        {{ json_text('$.status') }} as status,
        {{ json_text('$.capture_method') }} as capture_method,
        {{ json_text('$.cancellation_reason') }} as cancellation_reason,
        {{ json_text('$.last_payment_error.code') }} as last_payment_error_code,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        {{ json_cast('$.amount_received', 'bigint') }} as amount_received_minor,
        {{ json_cast('$.amount_capturable', 'bigint') }} as amount_capturable_minor,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ json_value('$.metadata') }} as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at,
        {{ unix_to_timestamp('$.canceled_at') }} as canceled_at
{%- endcall %}
