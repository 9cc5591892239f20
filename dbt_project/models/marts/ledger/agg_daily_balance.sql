{#- The account's balance per settlement currency per UTC day, rolled forward from the
    ledger: opening + the day's movements = closing, every day from the first transaction
    to the build's clock (quiet days included). Movements are signed as they move the
    balance and dated when they happened (the transaction's `created`). With the account's
    whole history extracted the first opening is zero and closing is Stripe's balance
    (available + pending) at the day's end. #}

with ledger as (

    select
        *,
        {{ ledger_bucket('reporting_category') }} as bucket,
        cast(available_on as date) as available_date
    from {{ ref('fct_balance_transactions') }}

),

movements as (

    select
        currency,
        created_date as balance_date,
        cast(count(*) as bigint) as transaction_count,
        {{ sum_minor("case when bucket = 'charges' then amount_minor else 0 end") }} as charges_minor,
        {{ sum_minor("case when bucket = 'refunds' then amount_minor else 0 end") }} as refunds_minor,
        {{ sum_minor("case when bucket = 'disputes' then amount_minor else 0 end") }} as disputes_minor,
        {{ sum_minor("case when bucket = 'payouts' then amount_minor else 0 end") }} as payouts_minor,
        {{ sum_minor("case when bucket = 'other' then amount_minor else 0 end") }} as other_minor,
        {{ sum_minor('-fee_minor') }} as fees_minor,
        {{ sum_minor('net_minor') }} as net_minor
    from ledger
    group by 1, 2

),

becoming_available as (

    -- What turns available on each day (available_on), for the closing split.
    select
        currency,
        available_date as balance_date,
        {{ sum_minor('net_minor') }} as available_net_minor
    from ledger
    group by 1, 2

),

bounds as (

    select
        currency,
        min(created_date) as first_date,
        -- To the build's clock, so the last quiet days show the balance too.
        greatest(max(created_date), max(cast(status_as_of as date))) as last_date
    from ledger
    group by 1

),

spine_raw as (

    select
        currency,
        {{ date_series('first_date', 'last_date') }} as balance_day
    from bounds

),

spine as (

    select
        currency,
        cast(balance_day as date) as balance_date
    from spine_raw

),

daily as (

    select
        spine.currency,
        spine.balance_date,
        coalesce(movements.transaction_count, 0) as transaction_count,
        coalesce(movements.charges_minor, 0) as charges_minor,
        coalesce(movements.refunds_minor, 0) as refunds_minor,
        coalesce(movements.disputes_minor, 0) as disputes_minor,
        coalesce(movements.fees_minor, 0) as fees_minor,
        coalesce(movements.payouts_minor, 0) as payouts_minor,
        coalesce(movements.other_minor, 0) as other_minor,
        coalesce(movements.net_minor, 0) as net_minor,
        coalesce(becoming_available.available_net_minor, 0) as available_net_minor
    from spine
    left join movements
        on spine.currency = movements.currency
        and spine.balance_date = movements.balance_date
    left join becoming_available
        on spine.currency = becoming_available.currency
        and spine.balance_date = becoming_available.balance_date

),

rolled as (

    select
        *,
        cast(sum(net_minor) over (
            partition by currency order by balance_date
            rows between unbounded preceding and current row
        ) as bigint) as closing_minor,
        cast(sum(available_net_minor) over (
            partition by currency order by balance_date
            rows between unbounded preceding and current row
        ) as bigint) as closing_available_minor
    from daily

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

final as (

    select
        rolled.currency,
        rolled.balance_date,
        exponents.exponent as currency_exponent,
        rolled.transaction_count,
        rolled.closing_minor - rolled.net_minor as opening_minor,
        rolled.charges_minor,
        rolled.refunds_minor,
        rolled.disputes_minor,
        rolled.fees_minor,
        rolled.payouts_minor,
        rolled.other_minor,
        rolled.net_minor,
        rolled.closing_minor,
        rolled.closing_available_minor,
        rolled.closing_minor - rolled.closing_available_minor as closing_pending_minor,
        {{ to_major('rolled.closing_minor - rolled.net_minor', minor_unit('exponents.exponent')) }} as opening,
        {{ to_major('rolled.charges_minor', minor_unit('exponents.exponent')) }} as charges,
        {{ to_major('rolled.refunds_minor', minor_unit('exponents.exponent')) }} as refunds,
        {{ to_major('rolled.disputes_minor', minor_unit('exponents.exponent')) }} as disputes,
        {{ to_major('rolled.fees_minor', minor_unit('exponents.exponent')) }} as fees,
        {{ to_major('rolled.payouts_minor', minor_unit('exponents.exponent')) }} as payouts,
        {{ to_major('rolled.other_minor', minor_unit('exponents.exponent')) }} as other,
        {{ to_major('rolled.net_minor', minor_unit('exponents.exponent')) }} as net,
        {{ to_major('rolled.closing_minor', minor_unit('exponents.exponent')) }} as closing,
        rolled.balance_date as dt
    from rolled
    left join exponents
        on rolled.currency = exponents.currency

)

select * from final
