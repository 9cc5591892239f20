{{ config(location=silver_location('charges'), options=dt_partitioned()) }}

with source as (

    select * from {{ source('stripe', 'charges') }}

),

renamed as (

    select
        data ->> '$.id' as charge_id,
        data ->> '$.payment_intent' as payment_intent_id,
        data ->> '$.customer' as customer_id,
        data ->> '$.invoice' as invoice_id,
        data ->> '$.status' as status,
        cast(data -> '$.paid' as boolean) as is_paid,
        cast(data -> '$.refunded' as boolean) as is_refunded,
        cast(data -> '$.disputed' as boolean) as is_disputed,
        data ->> '$.failure_code' as failure_code,
        lower(data ->> '$.currency') as currency,
        cast(data -> '$.amount' as bigint) as amount_minor,
        cast(data -> '$.amount_refunded' as bigint) as amount_refunded_minor,
        data ->> '$.billing_details.address.country' as billing_country,
        data ->> '$.payment_method_details.card.brand' as card_brand,
        data ->> '$.payment_method_details.card.last4' as card_last4,
        data ->> '$.outcome.type' as outcome_type,
        data -> '$.metadata' as metadata,
        to_timestamp(cast(data -> '$.created' as bigint)) at time zone 'UTC' as created_at,
        _observed_at,
        _source,
        _loaded_at,
        coalesce(_event_id, '') as _event_id
    from source

),

deduped as (

    -- Keep each charge's latest state; ties go to the event (it names the change), then
    -- to the latest load, then to the event id, so reruns always pick the same row.
    select *
    from renamed
    qualify row_number() over (
        partition by charge_id
        order by _observed_at desc, (_source = 'event') desc, _loaded_at desc, _event_id desc
    ) = 1

),

final as (

    select
        * exclude (_source, _loaded_at, _event_id),
        cast(created_at as date) as dt
    from deduped

)

select * from final
