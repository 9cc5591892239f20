{#- Every balance transaction, as listed and as itemized in a payout: fee + net = amount,
    and (for the listed ones, which carry fee_details) fee = the sum of fee_details.
    Fails with each transaction that does not add up and which rule it breaks. #}

with listed as (

    select
        'balance_transactions' as read_from,
        balance_transaction_id,
        amount_minor,
        fee_minor,
        net_minor,
        coalesce(fee_details_sum_minor, 0) as fee_details_sum_minor
    from {{ ref('stg_stripe__balance_transactions') }}

),

itemized as (

    select
        'payout_balance_transactions' as read_from,
        balance_transaction_id,
        amount_minor,
        fee_minor,
        net_minor,
        fee_minor as fee_details_sum_minor
    from {{ ref('stg_stripe__payout_balance_transactions') }}

),

checked as (

    select
        *,
        case
            when amount_minor is null or fee_minor is null or net_minor is null
                then 'amount, fee or net missing'
            when fee_minor + net_minor <> amount_minor then 'fee + net <> amount'
            when fee_minor <> fee_details_sum_minor then 'fee <> sum(fee_details)'
        end as broken_rule
    from (
        select * from listed
        union all
        select * from itemized
    ) as transactions

)

select * from checked
where broken_rule is not null
