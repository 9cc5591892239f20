{#- Webhook captures. The receiver stores each event once; de-duplication only guards
    against a hand-copied file. Nothing captured yet gives the same columns, no rows. -#}
{% call staging_model('webhook_events', 'event_id') -%}
        {{ stripe_event_columns() }},
        {{ json_value('$.data.object') }} as object_state,
        {{ unix_to_timestamp('$.created') }} as created_at,
        _received_at as received_at
{%- endcall %}
