with disputes as (

    select * from {{ ref('stg_stripe__disputes') }}

),

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

events as (

    select * from {{ ref('stg_stripe__events') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

-- A dispute's money: the withdrawal (the disputed amount and the dispute fee) when it
-- opens, and, when it is won, the reinstatement of both. Sources are the dispute itself;
-- a figure whose transaction is not extracted stays null.
movements as (

    select
        source_id as dispute_id,
        max(currency) as settlement_currency,
        max(case when reporting_category = 'dispute' then exchange_rate end) as exchange_rate,
        max(case when reporting_category = 'dispute' then -amount_minor end)
            as withdrawn_settlement_minor,
        max(case when reporting_category = 'dispute' then fee_minor end) as fee_minor,
        max(case when reporting_category = 'dispute' then created_at end) as withdrawn_at,
        max(case when reporting_category = 'dispute_reversal' then amount_minor end)
            as reinstated_settlement_minor,
        max(case when reporting_category = 'dispute_reversal' then -fee_minor end)
            as fee_reinstated_minor,
        max(case when reporting_category = 'dispute_reversal' then created_at end)
            as reinstated_at,
        cast(count(*) as bigint) as balance_transaction_count
    from balance_transactions
    where reporting_category in ('dispute', 'dispute_reversal')
    group by 1

),

-- Stripe's dispute has no closing time: charge.dispute.closed says when.
closings as (

    select
        object_id as dispute_id,
        min(created_at) as closed_at
    from events
    where event_type = 'charge.dispute.closed'
    group by 1

),

joined as (

    select
        disputes.dispute_id,
        disputes.charge_id,
        disputes.payment_intent_id,
        disputes.status,
        case disputes.status
            when 'won' then 'won'
            when 'lost' then 'lost'
            else 'open'
        end as outcome,
        disputes.reason,
        disputes.is_charge_refundable,
        disputes.currency,
        exponents.exponent as currency_exponent,
        disputes.amount_minor,
        movements.settlement_currency,
        settlement_exponents.exponent as settlement_currency_exponent,
        movements.exchange_rate,
        movements.withdrawn_settlement_minor,
        movements.fee_minor,
        -- Nothing comes back unless the dispute is won.
        case
            when disputes.status = 'won' then movements.reinstated_settlement_minor
            else coalesce(movements.reinstated_settlement_minor, 0)
        end as reinstated_settlement_minor,
        case
            when disputes.status = 'won' then movements.fee_reinstated_minor
            else coalesce(movements.fee_reinstated_minor, 0)
        end as fee_reinstated_minor,
        coalesce(movements.balance_transaction_count, 0) as balance_transaction_count,
        movements.withdrawn_at,
        movements.reinstated_at,
        disputes.evidence_due_by,
        disputes.created_at as opened_at,
        -- A won dispute is closed when its funds come back, even if the event is older
        -- than the extracted feed.
        case
            when disputes.status in ('won', 'lost')
                then coalesce(closings.closed_at, movements.reinstated_at)
        end as closed_at
    from disputes
    left join movements
        on disputes.dispute_id = movements.dispute_id
    left join closings
        on disputes.dispute_id = closings.dispute_id
    left join exponents
        on disputes.currency = exponents.currency
    left join exponents as settlement_exponents
        on movements.settlement_currency = settlement_exponents.currency

),

final as (

    select
        dispute_id,
        charge_id,
        payment_intent_id,
        status,
        outcome,
        reason,
        is_charge_refundable,
        currency,
        currency_exponent,
        amount_minor,
        {{ to_major('amount_minor', minor_unit('currency_exponent')) }} as amount,
        settlement_currency,
        settlement_currency_exponent,
        exchange_rate,
        withdrawn_settlement_minor,
        {{ to_major('withdrawn_settlement_minor', minor_unit('settlement_currency_exponent')) }}
            as withdrawn_settlement,
        fee_minor,
        {{ to_major('fee_minor', minor_unit('settlement_currency_exponent')) }} as fee,
        reinstated_settlement_minor,
        {{ to_major('reinstated_settlement_minor', minor_unit('settlement_currency_exponent')) }}
            as reinstated_settlement,
        fee_reinstated_minor,
        {{ to_major('fee_reinstated_minor', minor_unit('settlement_currency_exponent')) }}
            as fee_reinstated,
        -- What the dispute cost in the end: withdrawn and fee, less what came back.
        reinstated_settlement_minor + fee_reinstated_minor - withdrawn_settlement_minor - fee_minor
            as net_settlement_minor,
        {{ to_major(
            'reinstated_settlement_minor + fee_reinstated_minor - withdrawn_settlement_minor - fee_minor',
            minor_unit('settlement_currency_exponent')
        ) }} as net_settlement,
        balance_transaction_count,
        withdrawn_at,
        reinstated_at,
        evidence_due_by as evidence_due_by_at,
        opened_at,
        cast(opened_at as date) as opened_date,
        closed_at,
        cast(closed_at as date) as closed_date,
        cast(opened_at as date) as dt
    from joined

)

select * from final
