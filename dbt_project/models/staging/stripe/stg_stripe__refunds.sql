{% call staging_model('refunds', 'refund_id') -%}
        {{ json_text('$.id') }} as refund_id,
        {{ json_text('$.charge') }} as charge_id,
        {{ json_text('$.payment_intent') }} as payment_intent_id,
        {{ json_text('$.balance_transaction') }} as balance_transaction_id,
        {{ json_text('$.failure_balance_transaction') }} as failure_balance_transaction_id,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_text('$.status') }} as status,
        {{ json_text('$.reason') }} as reason,
        {{ json_text('$.failure_reason') }} as failure_reason,
        {{ json_value('$.metadata') }} as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
