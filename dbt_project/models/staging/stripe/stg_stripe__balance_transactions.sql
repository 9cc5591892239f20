{#- The ledger as Stripe books it: append-only (Stripe sends no event for a balance
    transaction; `status` turns available silently, so Gold derives it from available_on). #}
{% call staging_model('balance_transactions', 'balance_transaction_id') -%}
        {{ json_text('$.id') }} as balance_transaction_id,
        {{ json_text('$.type') }} as type,
        {{ json_text('$.reporting_category') }} as reporting_category,
        {{ json_text('$.source') }} as source_id,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        {{ json_cast('$.fee', 'bigint') }} as fee_minor,
        {{ json_cast('$.net', 'bigint') }} as net_minor,
        {{ json_sum('$.fee_details', 'amount') }} as fee_details_sum_minor,
        {{ json_value('$.fee_details') }} as fee_details,
        lower({{ json_text('$.currency') }}) as currency,
        {#- exact: the rate's own digits, never a float #}
        cast({{ json_text('$.exchange_rate') }} as decimal(20, 10)) as exchange_rate,
        {{ unix_to_timestamp('$.available_on') }} as available_on,
        {{ json_text('$.status') }} as status,
        {{ json_text('$.description') }} as description,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
