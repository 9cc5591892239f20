{#- The money gate on Silver, so a failure stops the ledger's Gold before it is written:
    every payout's itemized balance transactions (?payout=po_...) sum exactly to its
    amount. Fails with each payout that does not add up. #}

with payouts as (

    select * from {{ ref('stg_stripe__payouts') }}

),

items as (

    {{ payout_item_totals() }}

)

select
    payouts.payout_id,
    payouts.currency,
    payouts.amount_minor,
    coalesce(items.item_count, 0) as item_count,
    coalesce(items.items_net_minor, 0) as items_net_minor,
    payouts.amount_minor - coalesce(items.items_net_minor, 0) as difference_minor
from payouts
left join items
    on payouts.payout_id = items.payout_id
where coalesce(items.items_net_minor, 0) <> payouts.amount_minor
