{#- Reads every API version of docs/architecture.md#api-versions (ADR 0051): from
    2025-03-31.basil an invoice has no charge, payment_intent, paid, subscription or tax. The
    links keep what an older version said (carry); is_paid, subscription and tax are read
    from where the newer version keeps them. #}
{% call staging_model('invoices', 'invoice_id', carry=['charge_id', 'payment_intent_id']) -%}
        {{ json_text('$.id') }} as invoice_id,
        {{ json_text('$.customer') }} as customer_id,
        {{ json_text('$.charge') }} as charge_id,
        {{ json_text('$.payment_intent') }} as payment_intent_id,
        coalesce(
            {{ json_text('$.parent.subscription_details.subscription') }},
            {{ json_text('$.subscription') }}
        ) as subscription_id,
        {{ json_text('$.number') }} as invoice_number,
        {{ json_text('$.status') }} as status,
        {{ json_text('$.billing_reason') }} as billing_reason,
        {{ json_text('$.collection_method') }} as collection_method,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_cast('$.subtotal', 'bigint') }} as subtotal_minor,
        coalesce(
            {{ json_cast('$.tax', 'bigint') }},
            {{ json_sum('$.total_taxes', 'amount') }}
        ) as tax_minor,
        {{ json_cast('$.total', 'bigint') }} as total_minor,
        -- An invoice embeds at most its first 10 lines; with more, the others are in
        -- stg_stripe__invoice_line_items from GET /v1/invoices/{id}/lines.
        {{ json_cast('$.lines.has_more', 'boolean') }} as lines_has_more,
        {{ json_array_length('$.lines.data') }} as lines_embedded_count,
        {{ json_cast('$.amount_due', 'bigint') }} as amount_due_minor,
        {{ json_cast('$.amount_paid', 'bigint') }} as amount_paid_minor,
        {{ json_cast('$.amount_remaining', 'bigint') }} as amount_remaining_minor,
        {{ json_cast('$.attempt_count', 'bigint') }} as attempt_count,
        coalesce(
            {{ json_cast('$.paid', 'boolean') }},
            {{ json_text('$.status') }} = 'paid'
        ) as is_paid,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ json_value('$.metadata') }} as metadata,
        {{ unix_to_timestamp('$.period_start') }} as period_start_at,
        {{ unix_to_timestamp('$.period_end') }} as period_end_at,
        {{ unix_to_timestamp('$.due_date') }} as due_at,
        {{ unix_to_timestamp('$.created') }} as created_at,
        {{ unix_to_timestamp('$.status_transitions.finalized_at') }} as finalized_at,
        {{ unix_to_timestamp('$.status_transitions.paid_at') }} as paid_at,
        {{ unix_to_timestamp('$.status_transitions.voided_at') }} as voided_at,
        {{ unix_to_timestamp('$.status_transitions.marked_uncollectible_at') }}
            as marked_uncollectible_at
{%- endcall %}
