with refunds as (

    select * from {{ ref('stg_stripe__refunds') }}

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

payout_items as (

    select * from {{ ref('stg_stripe__payout_balance_transactions') }}

),

payouts as (

    select * from {{ ref('stg_stripe__payouts') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

-- The payout that paid out each charge's money (a transaction is paid out once).
charge_payouts as (

    select
        payout_items.source_id as charge_id,
        payouts.payout_id,
        payouts.created_at as payout_created_at
    from payout_items
    inner join payouts
        on payout_items.payout_id = payouts.payout_id
    where payout_items.reporting_category = 'charge'

),

joined as (

    select
        refunds.refund_id,
        refunds.charge_id,
        refunds.payment_intent_id,
        refunds.status,
        refunds.reason,
        refunds.failure_reason,
        -- Stripe refunds authorised money itself: the uncaptured rest of a partial capture
        -- (booked as a partial_capture_reversal) and an authorisation that expired. Neither
        -- was ever revenue; only a customer refund gives captured money back.
        case
            when refunds.reason = 'expired_uncaptured_charge' then 'expired_authorisation'
            when refund_txn.reporting_category = 'partial_capture_reversal' then 'uncaptured_rest'
            -- Without its transaction (not extracted): the rest of a partial capture is
            -- exactly what the charge did not capture.
            when refund_txn.balance_transaction_id is null
                and refunds.reason is null
                and charges.amount_captured_minor > 0
                and refunds.amount_minor = charges.amount_minor - charges.amount_captured_minor
                then 'uncaptured_rest'
            else 'customer'
        end as refund_kind,
        refunds.currency,
        exponents.exponent as currency_exponent,
        refunds.amount_minor,
        refunds.balance_transaction_id,
        refunds.failure_balance_transaction_id,
        refund_txn.currency as settlement_currency,
        settlement_exponents.exponent as settlement_currency_exponent,
        refund_txn.exchange_rate,
        -- Balance transactions of a refund are negative: the money leaving the balance.
        -refund_txn.amount_minor as settlement_amount_minor,
        failure_txn.amount_minor as failure_returned_settlement_minor,
        failure_txn.created_at as failure_returned_at,
        charge_payouts.payout_id as charge_payout_id,
        charge_payouts.payout_created_at <= refunds.created_at as is_after_payout,
        refunds.created_at
    from refunds
    left join charges
        on refunds.charge_id = charges.charge_id
    left join balance_transactions as refund_txn
        on refunds.balance_transaction_id = refund_txn.balance_transaction_id
    left join balance_transactions as failure_txn
        on refunds.failure_balance_transaction_id = failure_txn.balance_transaction_id
    left join charge_payouts
        on refunds.charge_id = charge_payouts.charge_id
    left join exponents
        on refunds.currency = exponents.currency
    left join exponents as settlement_exponents
        on refund_txn.currency = settlement_exponents.currency

),

final as (

    select
        refund_id,
        charge_id,
        payment_intent_id,
        status,
        reason,
        failure_reason,
        refund_kind,
        currency,
        currency_exponent,
        amount_minor,
        {{ to_major('amount_minor', minor_unit('currency_exponent')) }} as amount,
        balance_transaction_id,
        failure_balance_transaction_id,
        settlement_currency,
        settlement_currency_exponent,
        exchange_rate,
        settlement_amount_minor,
        {{ to_major('settlement_amount_minor', minor_unit('settlement_currency_exponent')) }}
            as settlement_amount,
        failure_returned_settlement_minor,
        failure_returned_at,
        charge_payout_id,
        coalesce(is_after_payout, false) as is_after_payout,
        created_at as refunded_at,
        cast(created_at as date) as refunded_date,
        cast(created_at as date) as dt
    from joined

)

select * from final
