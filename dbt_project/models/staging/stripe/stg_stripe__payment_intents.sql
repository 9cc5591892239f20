with source as (

    select * from {{ source('stripe', 'payment_intents') }}

),

renamed as (

    select
        data ->> '$.id' as payment_intent_id,
        data ->> '$.customer' as customer_id,
        data ->> '$.latest_charge' as latest_charge_id,
        data ->> '$.invoice' as invoice_id,
        data ->> '$.payment_method' as payment_method_id,
        data ->> '$.status' as status,
        data ->> '$.capture_method' as capture_method,
        data ->> '$.cancellation_reason' as cancellation_reason,
        data ->> '$.last_payment_error.code' as last_payment_error_code,
        lower(data ->> '$.currency') as currency,
        cast(data -> '$.amount' as bigint) as amount_minor,
        cast(data -> '$.amount_received' as bigint) as amount_received_minor,
        cast(data -> '$.amount_capturable' as bigint) as amount_capturable_minor,
        cast(data -> '$.livemode' as boolean) as is_livemode,
        data -> '$.metadata' as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at,
        {{ unix_to_timestamp('$.canceled_at') }} as canceled_at,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),

deduped as (

    select *
    from renamed
    {{ latest_version('payment_intent_id') }}

),

final as (

    select
        * exclude (_source, _loaded_at, _event_id),
        cast(created_at as date) as dt
    from deduped

)

select * from final
