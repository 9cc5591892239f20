{#- Its money moves are balance transactions whose source is the dispute
    (stg_stripe__balance_transactions.source_id); the embedded copies are not read. #}
{% call staging_model('disputes', 'dispute_id') -%}
        {{ json_text('$.id') }} as dispute_id,
        {{ json_text('$.charge') }} as charge_id,
        {{ json_text('$.payment_intent') }} as payment_intent_id,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_text('$.status') }} as status,
        {{ json_text('$.reason') }} as reason,
        {{ unix_to_timestamp('$.evidence_details.due_by') }} as evidence_due_by,
        {{ json_cast('$.is_charge_refundable', 'boolean') }} as is_charge_refundable,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
