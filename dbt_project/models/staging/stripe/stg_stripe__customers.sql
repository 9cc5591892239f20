with source as (

    select * from {{ source('stripe', 'customers') }}

),

renamed as (

    select
        data ->> '$.id' as customer_id,
        data ->> '$.email' as email,
        data ->> '$.name' as customer_name,
        data ->> '$.description' as description,
        lower(data ->> '$.currency') as currency,
        data ->> '$.address.country' as address_country,
        data ->> '$.address.city' as address_city,
        data ->> '$.tax_exempt' as tax_exempt,
        cast(data -> '$.balance' as bigint) as balance_minor,
        cast(data -> '$.delinquent' as boolean) as is_delinquent,
        cast(data -> '$.livemode' as boolean) as is_livemode,
        data -> '$.metadata' as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at,
        {{ is_tombstone() }} as is_tombstone,
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
        min(case when is_tombstone then _observed_at end)
            over (partition by customer_id) as deleted_epoch
    from renamed

),

deduped as (

    select *
    from with_deletion
    {{ latest_version('customer_id') }}

),

final as (

    select
        * exclude (_source, _loaded_at, _event_id, is_tombstone, deleted_epoch),
        cast(to_timestamp(deleted_epoch) at time zone 'UTC' as {{ dbt.type_timestamp() }})
            as deleted_at,
        cast(created_at as date) as dt
    from deduped

)

select * from final
