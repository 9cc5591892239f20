with charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

payment_intents as (

    select * from {{ ref('stg_stripe__payment_intents') }}

),

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

-- What each charge's refund objects gave back (macros/ledger.sql says why Gold reads them).
refunds_given as (

    {{ refunds_given_by_charge() }}

),

-- Per charge, in the settlement currency: what Stripe gave back uncaptured (a partial
-- capture's rest, booked against the charge's full amount) and what customers got back
-- (less refunds that failed and returned).
charge_refunds as (

    select
        charge_id,
        {{ sum_minor("case when refund_kind = 'uncaptured_rest' then settlement_amount_minor else 0 end") }}
            as uncaptured_rest_settlement_minor,
        -- Unknown (null) when a customer refund's transaction is not extracted.
        case
            when count(
                case
                    when refund_kind = 'customer' and status <> 'canceled'
                        and settlement_amount_minor is null
                        then 1
                end
            ) = 0
                then {{ sum_minor("case when refund_kind = 'customer' then coalesce(settlement_amount_minor, 0) - coalesce(failure_returned_settlement_minor, 0) else 0 end") }}
        end as refunded_settlement_minor
    from {{ ref('fct_refunds') }}
    group by 1

),

joined as (

    select
        charges.charge_id,
        charges.payment_intent_id,
        charges.customer_id,
        coalesce(charges.invoice_id, payment_intents.invoice_id) as invoice_id,
        charges.status,
        payment_intents.status as payment_intent_status,
        payment_intents.capture_method,
        charges.payment_method_type,
        charges.is_paid,
        charges.is_captured,
        -- Stripe's `refunded` (fully refunded), from the refund objects where the lake has
        -- them, for the same reason as amount_refunded_minor below.
        case
            when refunds_given.refunds_given_minor is not null
                then refunds_given.refunds_given_minor >= charges.amount_minor
            else charges.is_refunded
        end as is_refunded,
        charges.is_disputed,
        charges.failure_code,
        charges.outcome_type,
        charges.card_brand,
        -- Checkout may not collect a billing address; the card's country is the next best.
        coalesce(charges.billing_country, charges.card_country) as billing_country,
        charges.currency,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit,
        charges.amount_minor,
        -- What the charge gave back, from its refund objects where the lake has them, else
        -- the charge's own amount_refunded (a charge whose refunds were not extracted).
        coalesce(refunds_given.refunds_given_minor, charges.amount_refunded_minor)
            as amount_refunded_minor,
        -- Money actually taken: a succeeded charge's captured amount. An authorisation not
        -- (yet) captured, a pending bank debit and a failed charge take nothing.
        case
            when charges.status = 'succeeded' then charges.amount_captured_minor
            else 0
        end as captured_minor,
        charges.balance_transaction_id,
        charge_txn.currency as settlement_currency,
        settlement_exponents.exponent as settlement_currency_exponent,
        charge_txn.exchange_rate,
        -- The charge's transaction holds the authorised amount; a partial capture's rest is
        -- reversed by a second one at the same moment.
        charge_txn.amount_minor - coalesce(charge_refunds.uncaptured_rest_settlement_minor, 0)
            as captured_settlement_minor,
        charge_txn.fee_minor,
        case
            when charge_txn.balance_transaction_id is not null
                then coalesce(charge_refunds.refunded_settlement_minor, 0)
        end as refunded_settlement_minor,
        charge_txn.created_at as captured_at,
        charges.created_at
    from charges
    left join payment_intents
        on charges.payment_intent_id = payment_intents.payment_intent_id
    left join balance_transactions as charge_txn
        on charges.balance_transaction_id = charge_txn.balance_transaction_id
    left join charge_refunds
        on charges.charge_id = charge_refunds.charge_id
    left join refunds_given
        on charges.charge_id = refunds_given.charge_id
    left join exponents as settlement_exponents
        on charge_txn.currency = settlement_exponents.currency
    -- A left join: a currency missing from the seed must fail a test, not drop revenue.
    left join exponents
        on charges.currency = exponents.currency

),

with_refunds as (

    select
        *,
        -- Stripe counts authorised money it gave back uncaptured (the rest of a partial
        -- capture, an authorisation released after 7 days) in amount_refunded; it was never
        -- revenue, so it is split off from what customers got back.
        case
            when status = 'succeeded'
                then least(amount_refunded_minor, amount_minor - captured_minor)
            else 0
        end as released_minor
    from joined

),

money as (

    select
        *,
        case
            when status = 'succeeded' then amount_refunded_minor - released_minor
            else 0
        end as refunded_minor
    from with_refunds

),

final as (

    select
        charge_id,
        payment_intent_id,
        customer_id,
        invoice_id,
        status,
        payment_intent_status,
        capture_method,
        payment_method_type,
        is_paid,
        is_captured,
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
        captured_minor,
        {{ to_major('captured_minor', 'minor_unit') }} as captured,
        released_minor,
        refunded_minor,
        {{ to_major('refunded_minor', 'minor_unit') }} as refunded,
        captured_minor - refunded_minor as captured_less_refunded_minor,
        {{ to_major('captured_minor - refunded_minor', 'minor_unit') }} as captured_less_refunded,
        balance_transaction_id,
        settlement_currency,
        settlement_currency_exponent,
        exchange_rate,
        captured_settlement_minor,
        {{ to_major('captured_settlement_minor', minor_unit('settlement_currency_exponent')) }}
            as captured_settlement,
        fee_minor,
        {{ to_major('fee_minor', minor_unit('settlement_currency_exponent')) }} as fee,
        refunded_settlement_minor,
        {{ to_major('refunded_settlement_minor', minor_unit('settlement_currency_exponent')) }}
            as refunded_settlement,
        -- Stripe's net: what the charge leaves in the balance after fees and refunds.
        captured_settlement_minor - fee_minor - refunded_settlement_minor
            as net_settlement_minor,
        {{ to_major('captured_settlement_minor - fee_minor - refunded_settlement_minor', minor_unit('settlement_currency_exponent')) }}
            as net_settlement,
        captured_at,
        cast(captured_at as date) as captured_date,
        created_at,
        cast(created_at as date) as created_date,
        cast(created_at as date) as dt
    from money

)

select * from final
