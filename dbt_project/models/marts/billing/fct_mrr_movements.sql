{#- MRR per subscription per month (docs/finance.md#mrr): its month-end MRR from the
    version of the subscription in effect then (dim_subscription_history), and one row per
    month where it changed, classified new, expansion, contraction, churn or reactivation.
    The churn mode is the var `mrr_churn_at` (macro mrr_churn_at). #}
{%- set churn_at = mrr_churn_at() %}

with history as (

    select * from {{ ref('dim_subscription_history') }}

),

as_of as (

    select
        as_of_epoch,
        {{ month_of(epoch_to_timestamp('as_of_epoch')) }} as as_of_month
    from ({{ mrr_as_of() }}) as clock

),

version_items as (

    -- One row per version: its items' MRR as one exact fraction. Stripe bills a
    -- subscription's items on one interval, so they share one denominator (the gate test
    -- assert_subscription_items_share_an_interval checks it).
    select
        subscription_id,
        version_number,
        customer_id,
        status,
        currency,
        canceled_at,
        valid_from,
        valid_to,
        coupon_duration,
        coupon_percent_off,
        coupon_amount_off_minor,
        coupon_currency,
        sum(mrr_numerator) as items_numerator,
        max(case when is_mrr_eligible then mrr_factor_numerator end) as factor_numerator,
        max(case when is_mrr_eligible then mrr_factor_denominator end) as factor_denominator
    from history
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12

),

discounted as (

    -- A forever coupon reduces MRR (once and repeating ones do not): percent_off scales the
    -- sum, amount_off (same currency) is normalised like the items and floors it at 0.
    select
        *,
        case
            when factor_denominator is null then cast(0 as decimal(38, 0))
            when coupon_duration = 'forever' and coupon_percent_off is not null
                then {{ exact_integer('items_numerator') }}
                    * (1000000 - cast(round(coupon_percent_off * 10000) as bigint))
            when coupon_duration = 'forever' and coupon_amount_off_minor is not null
                and coupon_currency = currency
                then greatest(
                    {{ exact_integer('items_numerator') }}
                        - {{ exact_integer('coupon_amount_off_minor') }} * factor_numerator,
                    cast(0 as decimal(38, 0))
                )
            else {{ exact_integer('items_numerator') }}
        end as mrr_numerator,
        case
            when factor_denominator is null then 1
            when coupon_duration = 'forever' and coupon_percent_off is not null
                then cast(factor_denominator as bigint) * 1000000
            else cast(factor_denominator as bigint)
        end as mrr_denominator
    from version_items

),

versions as (

    -- A version's MRR while it holds (before the churn mode's cancellation rule): rounded
    -- once, half up; only active and past_due subscriptions count.
    select
        subscription_id,
        version_number,
        customer_id,
        currency,
        {{ epoch_seconds('valid_from') }} as valid_from_epoch,
        {{ epoch_seconds('valid_to') }} as valid_to_epoch,
        {{ epoch_seconds('canceled_at') }} as canceled_epoch,
        case
            when status in ('active', 'past_due')
                then {{ round_half_up_ratio('mrr_numerator', 'mrr_denominator') }}
            else 0
        end as version_mrr_minor
    from discounted

),

subscriptions as (

    select
        subscription_id,
        max(customer_id) as customer_id,
        max(currency) as currency,
        {{ month_of(epoch_to_timestamp('min(valid_from_epoch)')) }} as first_month
    from versions
    group by 1

),

spine_raw as (

    select
        subscriptions.*,
        as_of.as_of_epoch,
        as_of.as_of_month,
        {{ month_series('subscriptions.first_month', 'as_of.as_of_month') }} as month_start
    from subscriptions
    cross join as_of

),

month_ends as (

    -- The month-end instant: the last second before the next month, or the build's clock
    -- for the current month.
    select
        subscription_id,
        customer_id,
        currency,
        cast(month_start as date) as mrr_month,
        case
            when cast(month_start as date) = as_of_month then as_of_epoch
            else {{ next_month_epoch('cast(month_start as date)') }} - 1
        end as month_end_epoch
    from spine_raw

),

monthly as (

    select
        month_ends.subscription_id,
        month_ends.customer_id,
        month_ends.currency,
        month_ends.mrr_month,
        coalesce(
            case
                {%- if churn_at == 'cancellation' %}
                -- Churns when the cancellation was requested (canceled_at).
                when versions.canceled_epoch <= month_ends.month_end_epoch then 0
                {%- endif %}
                when versions.version_mrr_minor is not null then versions.version_mrr_minor
            end,
            0
        ) as mrr_minor
    from month_ends
    left join versions
        on month_ends.subscription_id = versions.subscription_id
        and versions.valid_from_epoch <= month_ends.month_end_epoch
        -- The version still holding (no end yet) as ending after any month: a comparison,
        -- not an OR, so DuckDB joins on the subscription id instead of a nested loop of every
        -- month against every version.
        and coalesce(versions.valid_to_epoch, {{ far_future_epoch() }}) > month_ends.month_end_epoch

),

with_previous as (

    select
        *,
        coalesce(
            lag(mrr_minor) over (partition by subscription_id order by mrr_month),
            0
        ) as previous_mrr_minor
    from monthly

),

customer_months as (

    -- A customer's total MRR per currency and month, and whether it was ever positive at an
    -- earlier month end (a customer's months are contiguous: each subscription's run to
    -- the current month).
    select
        customer_id,
        currency,
        mrr_month,
        coalesce(lag(total_mrr_minor) over (
            partition by customer_id, currency order by mrr_month
        ), 0) as previous_total_mrr_minor,
        coalesce(max(case when total_mrr_minor > 0 then 1 else 0 end) over (
            partition by customer_id, currency order by mrr_month
            rows between unbounded preceding and 1 preceding
        ), 0) as had_mrr_before
    from (
        select
            customer_id,
            currency,
            mrr_month,
            sum(mrr_minor) as total_mrr_minor
        from monthly
        group by 1, 2, 3
    ) as totals

),

classified as (

    select
        with_previous.*,
        case
            when with_previous.previous_mrr_minor = 0
                and customer_months.had_mrr_before = 1
                and customer_months.previous_total_mrr_minor = 0
                then 'reactivation'
            when with_previous.previous_mrr_minor = 0 then 'new'
            when with_previous.mrr_minor = 0 then 'churn'
            when with_previous.mrr_minor > with_previous.previous_mrr_minor then 'expansion'
            else 'contraction'
        end as movement_type
    from with_previous
    inner join customer_months
        on with_previous.customer_id = customer_months.customer_id
        and with_previous.currency = customer_months.currency
        and with_previous.mrr_month = customer_months.mrr_month
    where with_previous.mrr_minor <> with_previous.previous_mrr_minor

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

final as (

    select
        classified.subscription_id,
        classified.mrr_month,
        classified.customer_id,
        classified.currency,
        exponents.exponent as currency_exponent,
        classified.movement_type,
        cast(classified.previous_mrr_minor as bigint) as previous_mrr_minor,
        cast(classified.mrr_minor as bigint) as mrr_minor,
        cast(classified.mrr_minor - classified.previous_mrr_minor as bigint) as mrr_change_minor,
        {{ to_major('classified.previous_mrr_minor', minor_unit('exponents.exponent')) }} as previous_mrr,
        {{ to_major('classified.mrr_minor', minor_unit('exponents.exponent')) }} as mrr,
        {{ to_major('classified.mrr_minor - classified.previous_mrr_minor', minor_unit('exponents.exponent')) }}
            as mrr_change,
        '{{ churn_at }}' as churn_at,
        classified.mrr_month as dt
    from classified
    -- A left join: a currency missing from the seed must fail a test, not drop MRR.
    left join exponents
        on classified.currency = exponents.currency

)

select * from final
