{#- The daily balance rolls forward: per currency, the first day opens at zero (the
    extracted ledger's own start), every day's closing = opening + its movements (which
    add up to its net), and the next calendar day opens at that closing, with no day
    missing. Fails with each day that breaks it and how. #}

with daily as (

    select
        *,
        lead(balance_date) over (partition by currency order by balance_date) as next_date,
        lead(opening_minor) over (partition by currency order by balance_date) as next_opening_minor,
        row_number() over (partition by currency order by balance_date) as day_number
    from {{ ref('agg_daily_balance') }}

),

checked as (

    select
        currency,
        balance_date,
        opening_minor,
        net_minor,
        closing_minor,
        next_date,
        next_opening_minor,
        case
            when day_number = 1 and opening_minor <> 0 then 'first day does not open at 0'
            when closing_minor <> opening_minor + net_minor then 'closing <> opening + net'
            when net_minor <> charges_minor + refunds_minor + disputes_minor + fees_minor
                + payouts_minor + other_minor
                then 'movements do not add up to net'
            when closing_available_minor + closing_pending_minor <> closing_minor
                then 'available + pending <> closing'
            when next_date is not null
                and next_date <> cast({{ dbt.dateadd('day', 1, 'balance_date') }} as date)
                then 'a day is missing before next_date'
            when next_date is not null and next_opening_minor <> closing_minor
                then 'next day does not open at this closing'
        end as problem
    from daily

)

select * from checked
where problem is not null
