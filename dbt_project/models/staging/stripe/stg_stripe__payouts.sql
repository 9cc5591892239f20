{% call staging_model('payouts', 'payout_id') -%}
        {{ json_text('$.id') }} as payout_id,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_text('$.status') }} as status,
        {{ json_text('$.method') }} as method,
        {{ json_text('$.type') }} as type,
        {{ json_cast('$.automatic', 'boolean') }} as is_automatic,
        {{ unix_to_timestamp('$.arrival_date') }} as arrival_date,
        {{ json_text('$.balance_transaction') }} as balance_transaction_id,
        {{ json_text('$.failure_balance_transaction') }} as failure_balance_transaction_id,
        {{ json_text('$.failure_code') }} as failure_code,
        {{ json_text('$.failure_message') }} as failure_message,
        {{ json_text('$.destination') }} as destination_id,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
