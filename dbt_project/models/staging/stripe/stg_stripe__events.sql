with source as (

    select * from {{ source('stripe', 'events') }}

),

renamed as (

    select
        data ->> '$.id' as event_id,
        data ->> '$.type' as event_type,
        data ->> '$.api_version' as api_version,
        data ->> '$.data.object.id' as object_id,
        data ->> '$.data.object.object' as object_type,
        data ->> '$.data.object.status' as object_status,
        -- Compared with the webhook copy of the same event (rpt_webhook_reconciliation).
        md5(cast(data -> '$.data.object' as varchar)) as object_digest,
        data -> '$.data.previous_attributes' as previous_attributes,
        data ->> '$.request.id' as request_id,
        cast(data -> '$.pending_webhooks' as bigint) as pending_webhooks,
        cast(data -> '$.livemode' as boolean) as is_livemode,
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
    from renamed
    {{ latest_version('event_id') }}

),

final as (

    select
        * exclude (_source, _loaded_at, _event_id),
        cast(created_at as date) as dt
    from deduped

)

select * from final
