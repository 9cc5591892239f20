{%- set incremental = silver_is_incremental() -%}

with source as (

    select * from {{ bronze_for_model(source('stripe', 'events'), incremental) }}

),

renamed as (

    select
        {{ json_text('$.id') }} as event_id,
        {{ json_text('$.type') }} as event_type,
        {{ json_text('$.api_version') }} as api_version,
        {{ json_text('$.data.object.id') }} as object_id,
        {{ json_text('$.data.object.object') }} as object_type,
        {{ json_text('$.data.object.status') }} as object_status,
        -- Compared with the webhook copy of the same event (rpt_webhook_reconciliation).
        {{ json_digest('$.data.object') }} as object_digest,
        {{ json_value('$.data.previous_attributes') }} as previous_attributes,
        {{ json_text('$.request.id') }} as request_id,
        {{ json_cast('$.pending_webhooks', 'bigint') }} as pending_webhooks,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ unix_to_timestamp('$.created') }} as created_at,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),

deduped as (

    -- Events never change; several copies of one are the same event fetched twice.
    select *
    from {{ silver_versions('renamed', incremental) }}
    {{ latest_version('event_id') }}

),

final as (

    select
        -- `_source` stays: an incremental merge needs it (ADR 0040).
        {{ star_except(['_loaded_at', '_event_id']) }},
        cast(created_at as date) as dt
    from deduped

)

select * from final
