{#- The /v1/events feed. Events never change: several copies of one are the same event
    fetched twice, and de-duplication keeps one. -#}
{% call staging_model('events', 'event_id') -%}
        {{ stripe_event_columns() }},
        {{ json_value('$.data.previous_attributes') }} as previous_attributes,
        {{ json_text('$.request.id') }} as request_id,
        {{ json_cast('$.pending_webhooks', 'bigint') }} as pending_webhooks,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ unix_to_timestamp('$.created') }} as created_at
{%- endcall %}
