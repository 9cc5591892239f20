{#- One row per payout: what reached (or bounced back from) the bank, and whether the
    balance transactions it paid out add up to it (Stripe's payout reconciliation:
    GET /v1/balance_transactions?payout=po_...). #}

with payouts as (

    select * from {{ ref('stg_stripe__payouts') }}

),

items as (

    {{ payout_item_totals() }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

joined as (

    select
        payouts.*,
        coalesce(items.item_count, 0) as item_count,
        coalesce(items.items_net_minor, 0) as items_net_minor,
        exponents.exponent as currency_exponent,
        {{ minor_unit('exponents.exponent') }} as minor_unit
    from payouts
    left join items
        on payouts.payout_id = items.payout_id
    left join exponents
        on payouts.currency = exponents.currency

),

final as (

    select
        payout_id,
        status,
        method,
        type,
        is_automatic,
        currency,
        currency_exponent,
        amount_minor,
        {{ to_major('amount_minor', 'minor_unit') }} as amount,
        item_count,
        items_net_minor,
        {{ to_major('items_net_minor', 'minor_unit') }} as items_net,
        items_net_minor = amount_minor as is_reconciled,
        status = 'failed' as is_failed,
        failure_code,
        failure_message,
        balance_transaction_id,
        failure_balance_transaction_id,
        created_at,
        arrival_date,
        cast(created_at as date) as dt
    from joined

)

select * from final
