{#- Per payout, what it paid out by reporting category, and the difference to its amount
    (zero when the books close). Every component is signed as it moves the balance: charges
    add, refunds, disputes and fees take away; items' net = charges + refunds + disputes +
    adjustments + fees. #}

with payouts as (

    select * from {{ ref('stg_stripe__payouts') }}

),

items as (

    select
        *,
        {{ ledger_bucket('reporting_category') }} as bucket
    from {{ ref('stg_stripe__payout_balance_transactions') }}

),

by_payout as (

    select
        payout_id,
        cast(count(*) as bigint) as item_count,
        {{ sum_minor("case when bucket = 'charges' then amount_minor else 0 end") }} as charges_minor,
        {{ sum_minor("case when bucket = 'refunds' then amount_minor else 0 end") }} as refunds_minor,
        {{ sum_minor("case when bucket = 'disputes' then amount_minor else 0 end") }} as disputes_minor,
        -- Partial capture reversals, returned payouts (payout_reversal) and anything else.
        {{ sum_minor("case when bucket in ('payouts', 'other') then amount_minor else 0 end") }}
            as adjustments_minor,
        {{ sum_minor('-fee_minor') }} as fees_minor,
        {{ sum_minor('net_minor') }} as items_net_minor
    from items
    group by 1

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        payouts.payout_id,
        payouts.status,
        payouts.currency,
        payouts.amount_minor,
        coalesce(by_payout.item_count, 0) as item_count,
        coalesce(by_payout.charges_minor, 0) as charges_minor,
        coalesce(by_payout.refunds_minor, 0) as refunds_minor,
        coalesce(by_payout.disputes_minor, 0) as disputes_minor,
        coalesce(by_payout.adjustments_minor, 0) as adjustments_minor,
        coalesce(by_payout.fees_minor, 0) as fees_minor,
        coalesce(by_payout.items_net_minor, 0) as items_net_minor,
        payouts.created_at,
        payouts.arrival_date,
        {{ minor_unit('exponents.exponent') }} as minor_unit
    from payouts
    left join by_payout
        on payouts.payout_id = by_payout.payout_id
    left join exponents
        on payouts.currency = exponents.currency

),

final as (

    select
        payout_id,
        status,
        currency,
        item_count,
        amount_minor,
        {{ to_major('amount_minor', 'minor_unit') }} as amount,
        charges_minor,
        {{ to_major('charges_minor', 'minor_unit') }} as charges,
        refunds_minor,
        {{ to_major('refunds_minor', 'minor_unit') }} as refunds,
        disputes_minor,
        {{ to_major('disputes_minor', 'minor_unit') }} as disputes,
        adjustments_minor,
        {{ to_major('adjustments_minor', 'minor_unit') }} as adjustments,
        fees_minor,
        {{ to_major('fees_minor', 'minor_unit') }} as fees,
        items_net_minor,
        {{ to_major('items_net_minor', 'minor_unit') }} as items_net,
        amount_minor - items_net_minor as difference_minor,
        {{ to_major('amount_minor - items_net_minor', 'minor_unit') }} as difference,
        created_at,
        arrival_date,
        cast(created_at as date) as dt
    from joined

)

select * from final
