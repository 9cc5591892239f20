{#- What each payout paid out: `GET /v1/balance_transactions?payout=po_...`, listed once
    per payout by the extractor's child stream, the payout in the envelope's `_parent_id`.
    A balance transaction is paid out by one payout, so it is the key. #}
{% call staging_model('payout_balance_transactions', 'balance_transaction_id') -%}
        _parent_id as payout_id,
        {{ json_text('$.id') }} as balance_transaction_id,
        {{ json_text('$.type') }} as type,
        {{ json_text('$.reporting_category') }} as reporting_category,
        {{ json_text('$.source') }} as source_id,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        {{ json_cast('$.fee', 'bigint') }} as fee_minor,
        {{ json_cast('$.net', 'bigint') }} as net_minor,
        lower({{ json_text('$.currency') }}) as currency,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
