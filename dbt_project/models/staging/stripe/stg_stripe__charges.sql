{%- set incremental = silver_is_incremental() -%}

with source as (

    select * from {{ bronze_for_model(source('stripe', 'charges'), incremental) }}

),

renamed as (

    select
        {{ json_text('$.id') }} as charge_id,
        {{ json_text('$.payment_intent') }} as payment_intent_id,
        {{ json_text('$.customer') }} as customer_id,
        {{ json_text('$.invoice') }} as invoice_id,
        {{ json_text('$.balance_transaction') }} as balance_transaction_id,
        {{ json_text('$.status') }} as status,
        {{ json_cast('$.paid', 'boolean') }} as is_paid,
        {{ json_cast('$.captured', 'boolean') }} as is_captured,
        {{ json_cast('$.refunded', 'boolean') }} as is_refunded,
        {{ json_cast('$.disputed', 'boolean') }} as is_disputed,
        {{ json_cast('$.livemode', 'boolean') }} as is_livemode,
        {{ json_text('$.failure_code') }} as failure_code,
        {{ json_text('$.failure_message') }} as failure_message,
        lower({{ json_text('$.currency') }}) as currency,
        {{ json_cast('$.amount', 'bigint') }} as amount_minor,
        {{ json_cast('$.amount_captured', 'bigint') }} as amount_captured_minor,
        {{ json_cast('$.amount_refunded', 'bigint') }} as amount_refunded_minor,
        {{ json_text('$.billing_details.address.country') }} as billing_country,
        {{ json_text('$.payment_method_details.type') }} as payment_method_type,
        {{ json_text('$.payment_method_details.card.brand') }} as card_brand,
        {{ json_text('$.payment_method_details.card.last4') }} as card_last4,
        {{ json_text('$.payment_method_details.card.funding') }} as card_funding,
        {{ json_text('$.outcome.type') }} as outcome_type,
        {{ json_text('$.outcome.risk_level') }} as risk_level,
        {{ json_value('$.metadata') }} as metadata,
        {{ unix_to_timestamp('$.created') }} as created_at,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),

deduped as (

    select *
    from {{ silver_versions('renamed', incremental) }}
    {{ latest_version('charge_id') }}

),

final as (

    select
        -- `_source` stays: an incremental merge needs it (ADR 0040).
        {{ star_except(['_loaded_at', '_event_id']) }},
        cast(created_at as date) as dt
    from deduped

)

select * from final
