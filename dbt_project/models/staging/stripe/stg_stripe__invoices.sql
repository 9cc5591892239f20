with source as (

    select * from {{ source('stripe', 'invoices') }}

),

renamed as (

    select
        data ->> '$.id' as invoice_id,
        data ->> '$.customer' as customer_id,
        data ->> '$.charge' as charge_id,
        data ->> '$.payment_intent' as payment_intent_id,
        data ->> '$.subscription' as subscription_id,
        data ->> '$.number' as invoice_number,
        data ->> '$.status' as status,
        data ->> '$.billing_reason' as billing_reason,
        data ->> '$.collection_method' as collection_method,
        lower(data ->> '$.currency') as currency,
        cast(data -> '$.subtotal' as bigint) as subtotal_minor,
        cast(data -> '$.tax' as bigint) as tax_minor,
        cast(data -> '$.total' as bigint) as total_minor,
        cast(data -> '$.amount_due' as bigint) as amount_due_minor,
        cast(data -> '$.amount_paid' as bigint) as amount_paid_minor,
        cast(data -> '$.amount_remaining' as bigint) as amount_remaining_minor,
        cast(data -> '$.attempt_count' as bigint) as attempt_count,
        cast(data -> '$.paid' as boolean) as is_paid,
        cast(data -> '$.livemode' as boolean) as is_livemode,
        data -> '$.metadata' as metadata,
        {{ unix_to_timestamp('$.period_start') }} as period_start_at,
        {{ unix_to_timestamp('$.period_end') }} as period_end_at,
        {{ unix_to_timestamp('$.due_date') }} as due_at,
        {{ unix_to_timestamp('$.created') }} as created_at,
        {{ unix_to_timestamp('$.status_transitions.finalized_at') }} as finalized_at,
        {{ unix_to_timestamp('$.status_transitions.paid_at') }} as paid_at,
        {{ unix_to_timestamp('$.status_transitions.voided_at') }} as voided_at,
        {{ unix_to_timestamp('$.status_transitions.marked_uncollectible_at') }}
            as marked_uncollectible_at,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),

deduped as (

    select *
    from renamed
    {{ latest_version('invoice_id') }}

),

final as (

    select
        * exclude (_source, _loaded_at, _event_id),
        cast(created_at as date) as dt
    from deduped

)

select * from final
