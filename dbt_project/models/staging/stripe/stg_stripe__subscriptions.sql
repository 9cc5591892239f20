{#- One row per subscription, its latest state; every state it had is in
    stg_stripe__subscription_versions. `items` is JSON text [{"id","price_id","quantity"}].
    A latest state from a basil+ event names its discount by id only: coupon and discount
    dates are then null here, and dim_subscriptions takes them from the versions. #}
{% call staging_model('subscriptions', 'subscription_id') -%}
{{ subscription_state_columns() }},
        {{ json_text('$.collection_method') }} as collection_method,
        {{ unix_to_timestamp('$.cancel_at') }} as cancel_at,
        {{ unix_to_timestamp('$.trial_start') }} as trial_start,
        {{ unix_to_timestamp('$.start_date') }} as start_date,
        coalesce(
            {{ unix_to_timestamp('$.discount.start') }},
            {{ unix_to_timestamp('$.discounts[0].start') }}
        ) as discount_start,
        coalesce(
            {{ unix_to_timestamp('$.discount.end') }},
            {{ unix_to_timestamp('$.discounts[0].end') }}
        ) as discount_end,
        {{ json_text('$.latest_invoice') }} as latest_invoice_id,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
