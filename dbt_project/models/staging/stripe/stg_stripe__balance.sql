{#- One row per `GET /v1/balance` snapshot (one per extraction run whose balance changed,
    ADR 0057). A balance has no id:
    the run that read it is the key; `available` and `pending` stay JSON arrays of
    {amount, currency, source_types}, one element per settlement currency. #}
{% call staging_model('balance', 'snapshot_run_id') -%}
        _run_id as snapshot_run_id,
        {{ json_value('$.available') }} as available,
        {{ json_value('$.pending') }} as pending,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ epoch_to_timestamp('_observed_at') }} as created_at
{%- endcall %}
