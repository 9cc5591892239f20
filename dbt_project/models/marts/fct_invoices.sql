with invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

with_unit as (

    select
        invoices.*,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit
    from invoices
    left join exponents
        on invoices.currency = exponents.currency

),

final as (

    select
        invoice_id,
        customer_id,
        charge_id,
        payment_intent_id,
        invoice_number,
        status,
        billing_reason,
        collection_method,
        is_paid,
        currency,
        currency_exponent,
        subtotal_minor,
        {{ to_major('subtotal_minor', 'minor_unit') }} as subtotal,
        tax_minor,
        {{ to_major('tax_minor', 'minor_unit') }} as tax,
        total_minor,
        {{ to_major('total_minor', 'minor_unit') }} as total,
        amount_due_minor,
        {{ to_major('amount_due_minor', 'minor_unit') }} as amount_due,
        amount_paid_minor,
        {{ to_major('amount_paid_minor', 'minor_unit') }} as amount_paid,
        amount_remaining_minor,
        {{ to_major('amount_remaining_minor', 'minor_unit') }} as amount_remaining,
        attempt_count,
        period_start_at,
        period_end_at,
        due_at,
        created_at,
        finalized_at,
        paid_at,
        voided_at,
        marked_uncollectible_at,
        -- From sending (finalization) to payment, in days with hour precision.
        round(
            ({{ epoch_seconds('paid_at') }} - {{ epoch_seconds('coalesce(finalized_at, created_at)') }})
            / 86400.0, 2
        ) as days_to_pay,
        cast(created_at as date) as dt
    from with_unit

)

select * from final
