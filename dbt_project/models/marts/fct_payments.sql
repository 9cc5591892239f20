with charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

payment_intents as (

    select * from {{ ref('stg_stripe__payment_intents') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        charges.charge_id,
        charges.payment_intent_id,
        charges.customer_id,
        coalesce(charges.invoice_id, payment_intents.invoice_id) as invoice_id,
        charges.status,
        payment_intents.status as payment_intent_status,
        charges.is_paid,
        charges.is_refunded,
        charges.is_disputed,
        charges.failure_code,
        charges.outcome_type,
        charges.card_brand,
        charges.billing_country,
        charges.currency,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit,
        charges.amount_minor,
        charges.amount_refunded_minor as refunded_minor,
        -- What the merchant keeps: nothing from a charge that was not paid.
        case
            when charges.is_paid then charges.amount_minor - charges.amount_refunded_minor
            else 0
        end as net_minor,
        charges.created_at
    from charges
    left join payment_intents
        on charges.payment_intent_id = payment_intents.payment_intent_id
    -- A left join: a currency missing from the seed must fail a test, not drop revenue.
    left join exponents
        on charges.currency = exponents.currency

),

final as (

    select
        charge_id,
        payment_intent_id,
        customer_id,
        invoice_id,
        status,
        payment_intent_status,
        is_paid,
        is_refunded,
        is_disputed,
        failure_code,
        outcome_type,
        card_brand,
        billing_country,
        currency,
        currency_exponent,
        amount_minor,
        {{ to_major('amount_minor', 'minor_unit') }} as amount,
        refunded_minor,
        {{ to_major('refunded_minor', 'minor_unit') }} as refunded,
        net_minor,
        {{ to_major('net_minor', 'minor_unit') }} as net,
        created_at,
        cast(created_at as date) as created_date,
        cast(created_at as date) as dt
    from joined

)

select * from final
