{%- set webhook_glob = lake_root() ~ '/bronze/source=stripe/entity=webhook_events/dt=*/*.json' -%}

with source as (

    {% if lake_files_exist(webhook_glob) -%}
    select * from {{ source('stripe', 'webhook_events') }}
    {%- else -%}
    -- Nothing captured yet: the same columns, no rows.
    select
        cast(null as varchar) as _run_id,
        cast(null as timestamp) as _loaded_at,
        cast(null as timestamp) as _received_at,
        cast(null as bigint) as _observed_at,
        cast(null as varchar) as _source,
        cast(null as varchar) as _event_id,
        cast(null as varchar) as _event_type,
        cast(null as json) as data
    where false
    {%- endif %}

),

renamed as (

    select
        data ->> '$.id' as event_id,
        data ->> '$.type' as event_type,
        data ->> '$.api_version' as api_version,
        data ->> '$.data.object.id' as object_id,
        data ->> '$.data.object.object' as object_type,
        data ->> '$.data.object.status' as object_status,
        -- Minified by DuckDB's JSON writer, so whitespace in the delivery does not matter.
        md5(cast(data -> '$.data.object' as varchar)) as object_digest,
        data -> '$.data.object' as object_state,
        {{ unix_to_timestamp('$.created') }} as created_at,
        _received_at as received_at,
        _observed_at,
        _loaded_at,
        _source,
        _event_id
    from source

),

deduped as (

    -- The receiver stores each event once; this only guards against a hand-copied file.
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
