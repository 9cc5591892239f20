with source as (

    select * from {{ source('stripe', 'charges') }}

),

renamed as (

    select
        data ->> '$.id' as charge_id,
        data ->> '$.payment_intent' as payment_intent_id,
        data ->> '$.customer' as customer_id,
        data ->> '$.invoice' as invoice_id,
        data ->> '$.balance_transaction' as balance_transaction_id,
        data ->> '$.status' as status,
        cast(data -> '$.paid' as boolean) as is_paid,
        cast(data -> '$.captured' as boolean) as is_captured,
        cast(data -> '$.refunded' as boolean) as is_refunded,
        cast(data -> '$.disputed' as boolean) as is_disputed,
        cast(data -> '$.livemode' as boolean) as is_livemode,
        data ->> '$.failure_code' as failure_code,
        data ->> '$.failure_message' as failure_message,
        lower(data ->> '$.currency') as currency,
        cast(data -> '$.amount' as bigint) as amount_minor,
        cast(data -> '$.amount_captured' as bigint) as amount_captured_minor,
        cast(data -> '$.amount_refunded' as bigint) as amount_refunded_minor,
        data ->> '$.billing_details.address.country' as billing_country,
        data ->> '$.payment_method_details.type' as payment_method_type,
        data ->> '$.payment_method_details.card.brand' as card_brand,
        data ->> '$.payment_method_details.card.last4' as card_last4,
        data ->> '$.payment_method_details.card.funding' as card_funding,
        data ->> '$.outcome.type' as outcome_type,
        data ->> '$.outcome.risk_level' as risk_level,
        data -> '$.metadata' as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),

deduped as (

    select *
    from renamed
    {{ latest_version('charge_id') }}

),

final as (

    select
        * exclude (_source, _loaded_at, _event_id),
        cast(created_at as date) as dt
    from deduped

)

select * from final
