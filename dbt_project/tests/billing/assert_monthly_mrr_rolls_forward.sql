{#- MRR rolls forward per currency: the first month opens at 0, every month's closing =
    opening + new + expansion + reactivation - contraction - churn, the next month opens at
    that closing with no month missing, and closing is the sum of the subscriptions' own
    month-end MRR (each one's latest movement at or before the month) — so the movements
    add up to the state they describe. Fails with each month that breaks it and how. #}

with months as (

    select
        *,
        lead(mrr_month) over (partition by currency order by mrr_month) as next_month,
        lead(opening_mrr_minor) over (partition by currency order by mrr_month) as next_opening_minor,
        row_number() over (partition by currency order by mrr_month) as month_number
    from {{ ref('agg_monthly_mrr') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

subscription_months as (

    -- Every subscription's MRR at each month end of its currency: its latest movement
    -- at or before that month.
    select
        months.currency,
        months.mrr_month,
        movements.subscription_id,
        movements.mrr_minor,
        row_number() over (
            partition by months.currency, months.mrr_month, movements.subscription_id
            order by movements.mrr_month desc
        ) as recency
    from months
    inner join movements
        on months.currency = movements.currency
        and movements.mrr_month <= months.mrr_month

),

states as (

    select
        currency,
        mrr_month,
        cast(sum(mrr_minor) as bigint) as subscriptions_mrr_minor,
        cast(sum(case when mrr_minor > 0 then 1 else 0 end) as bigint) as subscriptions_with_mrr
    from subscription_months
    where recency = 1
    group by 1, 2

),

checked as (

    select
        months.currency,
        months.mrr_month,
        months.opening_mrr_minor,
        months.closing_mrr_minor,
        months.next_month,
        months.next_opening_minor,
        coalesce(states.subscriptions_mrr_minor, 0) as subscriptions_mrr_minor,
        case
            when months.month_number = 1 and months.opening_mrr_minor <> 0
                then 'first month does not open at 0'
            when months.closing_mrr_minor <> months.opening_mrr_minor + months.new_mrr_minor
                + months.expansion_mrr_minor + months.reactivation_mrr_minor
                - months.contraction_mrr_minor - months.churn_mrr_minor
                then 'closing <> opening + new + expansion + reactivation - contraction - churn'
            when months.next_month is not null
                and months.next_month <> cast({{ dbt.dateadd('month', 1, 'months.mrr_month') }} as date)
                then 'a month is missing before next_month'
            when months.next_month is not null and months.next_opening_minor <> months.closing_mrr_minor
                then 'next month does not open at this closing'
            when months.closing_mrr_minor <> coalesce(states.subscriptions_mrr_minor, 0)
                then 'closing <> the sum of the subscriptions'' month-end MRR'
            when months.active_subscriptions <> coalesce(states.subscriptions_with_mrr, 0)
                then 'active_subscriptions <> subscriptions with MRR at the month end'
            when months.arr_minor <> 12 * months.closing_mrr_minor then 'arr <> 12 x closing'
        end as problem
    from months
    left join states
        on months.currency = states.currency
        and months.mrr_month = states.mrr_month

)

select * from checked
where problem is not null
