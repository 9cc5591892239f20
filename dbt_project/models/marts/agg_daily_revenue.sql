{#- Money is booked on the day it moved (activity date): captures when captured, refunds
    when refunded, disputes when their funds were withdrawn or reinstated. Closed days stay
    closed. Figures of the charges created on a day, which change as those charges are
    refunded later, are only in the cohort_ columns. -#}
{%- set measures = [
    'gross_minor', 'captured_count', 'captured_settlement_minor', 'fee_minor',
    'refunded_minor', 'refund_count', 'refunded_settlement_minor',
    'disputed_minor', 'dispute_count', 'dispute_withdrawn_settlement_minor',
    'dispute_reinstated_minor', 'dispute_reinstated_settlement_minor',
    'cohort_refunded_minor', 'cohort_succeeded_count', 'cohort_failed_count',
    'cohort_pending_count', 'cohort_refunded_count',
] -%}

with payments as (

    select * from {{ ref('fct_payments') }}

),

refunds as (

    select * from {{ ref('fct_refunds') }}

),

disputes as (

    select * from {{ ref('fct_disputes') }}

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

activity as (

    -- Money captured, on the day it was captured (the charge's balance transaction; a
    -- charge whose transaction is not extracted falls back to its created date).
    select
        {{ daily_activity('coalesce(captured_date, created_date)', 'settlement_currency', {
            'gross_minor': 'captured_minor',
            'captured_count': '1',
            'captured_settlement_minor': 'coalesce(captured_settlement_minor, 0)',
            'fee_minor': 'coalesce(fee_minor, 0)',
        }, measures) }}
    from payments
    where captured_minor > 0

    union all

    -- The charges created on a day, as they stand now: the cohort.
    select
        {{ daily_activity('created_date', 'cast(null as ' ~ dbt.type_string() ~ ')', {
            'cohort_refunded_minor': 'refunded_minor',
            'cohort_succeeded_count': "case when status = 'succeeded' then 1 else 0 end",
            'cohort_failed_count': "case when status = 'failed' then 1 else 0 end",
            'cohort_pending_count': "case when status = 'pending' then 1 else 0 end",
            'cohort_refunded_count':
                'case when captured_minor > 0 and refunded_minor = captured_minor then 1 else 0 end',
        }, measures) }}
    from payments

    union all

    -- Customer refunds on the day they were made (a failed or canceled one gave nothing
    -- back to the customer; its transaction and the failure's return still moved money).
    select
        {{ daily_activity('refunded_date', 'settlement_currency', {
            'refunded_minor': "case when status in ('failed', 'canceled') then 0 else amount_minor end",
            'refund_count': "case when status in ('failed', 'canceled') then 0 else 1 end",
            'refunded_settlement_minor': 'coalesce(settlement_amount_minor, 0)',
        }, measures) }}
    from refunds
    where refund_kind = 'customer'

    union all

    select
        {{ daily_activity('cast(failure_returned_at as date)', 'settlement_currency', {
            'refunded_settlement_minor': '-failure_returned_settlement_minor',
        }, measures) }}
    from refunds
    where refund_kind = 'customer'
        and failure_returned_settlement_minor is not null

    union all

    -- Disputes on the day their funds were withdrawn, and reinstated when won.
    select
        {{ daily_activity('cast(withdrawn_at as date)', 'settlement_currency', {
            'disputed_minor': 'amount_minor',
            'dispute_count': '1',
            'dispute_withdrawn_settlement_minor': 'withdrawn_settlement_minor',
            'fee_minor': 'fee_minor',
        }, measures) }}
    from disputes
    where withdrawn_at is not null

    union all

    select
        {{ daily_activity('cast(reinstated_at as date)', 'settlement_currency', {
            'dispute_reinstated_minor': 'amount_minor',
            'dispute_reinstated_settlement_minor': 'reinstated_settlement_minor',
            'fee_minor': '-fee_reinstated_minor',
        }, measures) }}
    from disputes
    where reinstated_at is not null

),

daily as (

    select
        activity_date,
        currency,
        -- One settlement currency per presentment currency and day (a singular test
        -- checks it); null on a day with no settled money.
        max(settlement_currency) as settlement_currency,
        {%- for measure in measures %}
        {{ sum_minor(measure) }} as {{ measure }},
        {%- endfor %}
        {{ sum_minor(
            'captured_settlement_minor - fee_minor - refunded_settlement_minor'
            ~ ' - dispute_withdrawn_settlement_minor + dispute_reinstated_settlement_minor'
        ) }} as net_settlement_minor
    from activity
    group by 1, 2

),

final as (

    select
        daily.activity_date,
        daily.currency,
        daily.settlement_currency,
        daily.gross_minor,
        -- Major units use the currency's own exponent: yen have none, dinars have three.
        {{ to_major('daily.gross_minor', minor_unit('exponents.exponent')) }} as gross,
        daily.refunded_minor,
        {{ to_major('daily.refunded_minor', minor_unit('exponents.exponent')) }} as refunded,
        daily.disputed_minor,
        {{ to_major('daily.disputed_minor', minor_unit('exponents.exponent')) }} as disputed,
        daily.dispute_reinstated_minor,
        {{ to_major('daily.dispute_reinstated_minor', minor_unit('exponents.exponent')) }}
            as dispute_reinstated,
        daily.captured_settlement_minor,
        {{ to_major('daily.captured_settlement_minor', minor_unit('settlement_exponents.exponent')) }}
            as captured_settlement,
        daily.fee_minor,
        {{ to_major('daily.fee_minor', minor_unit('settlement_exponents.exponent')) }} as fee,
        daily.refunded_settlement_minor,
        {{ to_major('daily.refunded_settlement_minor', minor_unit('settlement_exponents.exponent')) }}
            as refunded_settlement,
        daily.dispute_withdrawn_settlement_minor,
        {{ to_major('daily.dispute_withdrawn_settlement_minor', minor_unit('settlement_exponents.exponent')) }}
            as dispute_withdrawn_settlement,
        daily.dispute_reinstated_settlement_minor,
        {{ to_major('daily.dispute_reinstated_settlement_minor', minor_unit('settlement_exponents.exponent')) }}
            as dispute_reinstated_settlement,
        daily.net_settlement_minor,
        {{ to_major('daily.net_settlement_minor', minor_unit('settlement_exponents.exponent')) }}
            as net_settlement,
        daily.captured_count,
        daily.refund_count,
        daily.dispute_count,
        daily.cohort_refunded_minor,
        {{ to_major('daily.cohort_refunded_minor', minor_unit('exponents.exponent')) }}
            as cohort_refunded,
        daily.cohort_succeeded_count,
        daily.cohort_failed_count,
        daily.cohort_pending_count,
        daily.cohort_refunded_count,
        daily.activity_date as dt
    from daily
    left join exponents
        on daily.currency = exponents.currency
    left join exponents as settlement_exponents
        on daily.settlement_currency = settlement_exponents.currency

)

select * from final
