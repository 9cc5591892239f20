{%- set webhook_glob = lake_root() ~ '/bronze/source=stripe/entity=webhook_events/dt=*/*.json' -%}

with source as (

    {% if lake_files_exist(webhook_glob) -%}
    select * from {{ bronze(source('stripe', 'webhook_events')) }}
    {%- else -%}
    -- Nothing captured yet: the same columns, no rows.
    select
        cast(null as {{ dbt.type_string() }}) as _run_id,
        cast(null as timestamp) as _loaded_at,
        cast(null as timestamp) as _received_at,
        cast(null as bigint) as _observed_at,
        cast(null as {{ dbt.type_string() }}) as _source,
        cast(null as {{ dbt.type_string() }}) as _event_id,
        cast(null as {{ dbt.type_string() }}) as _event_type,
        cast(null as {{ type_bronze_object() }}) as data
    where false
    {%- endif %}

),

renamed as (

    select
        {{ json_text('$.id') }} as event_id,
        {{ json_text('$.type') }} as event_type,
        {{ json_text('$.api_version') }} as api_version,
        {{ json_text('$.data.object.id') }} as object_id,
        {{ json_text('$.data.object.object') }} as object_type,
        {{ json_text('$.data.object.status') }} as object_status,
        -- Minified by DuckDB's JSON writer, so whitespace in the delivery does not matter.
        {{ json_digest('$.data.object') }} as object_digest,
        {{ json_value('$.data.object') }} as object_state,
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
        {{ star_except(['_source', '_loaded_at', '_event_id']) }},
        cast(created_at as date) as dt
    from deduped

)

select * from final
