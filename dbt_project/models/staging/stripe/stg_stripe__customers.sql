{%- set incremental = silver_is_incremental() -%}

with source as (

    select * from {{ bronze_for_model(source('stripe', 'customers'), incremental) }}

),

renamed as (

    select
        {{ json_text('$.id') }} as customer_id,
        {{ json_text('$.email') }} as email,
        {{ json_text('$.name') }} as customer_name,
        {{ json_text('$.description') }} as description,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_text('$.address.country') }} as address_country,
        {{ json_text('$.address.city') }} as address_city,
        {{ json_text('$.tax_exempt') }} as tax_exempt,
        {{ json_cast('$.balance', 'bigint') }} as balance_minor,
        {{ json_cast('$.delinquent', 'boolean') }} as is_delinquent,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ json_value('$.metadata') }} as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at,
        {{ is_tombstone() }} as is_tombstone,
        case when {{ is_tombstone() }} then _observed_at end as tombstone_epoch,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),

with_deletion as (

    -- Deletion is final in Stripe: any tombstone marks the customer deleted, even if a
    -- list read observed later than the event (eventual consistency) still showed it.
    select
        *,
        bool_or(is_tombstone) over (partition by customer_id) as is_deleted,
        min(tombstone_epoch) over (partition by customer_id) as deleted_epoch
    {#- Incremental (ADR 0040): a Silver row stands for all earlier versions, its deletion
        (is_deleted, deleted_at) for their tombstones, so "any tombstone, the first one's
        time" still covers the customer's whole history. #}
    from {% call silver_versions('renamed', incremental) -%}
        * exclude (is_deleted, deleted_at, dt),
        is_deleted as is_tombstone,
        cast({{ epoch_seconds('deleted_at') }} as bigint) as tombstone_epoch
    {%- endcall %}

),

deduped as (

    select *
    from with_deletion
    {{ latest_version('customer_id') }}

),

final as (

    select
        {{ star_except([
            '_loaded_at', '_event_id', 'is_tombstone', 'tombstone_epoch', 'deleted_epoch',
        ]) }},
        {{ epoch_to_timestamp('deleted_epoch') }} as deleted_at,
        cast(created_at as date) as dt
    from deduped

)

select * from final
