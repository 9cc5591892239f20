{#- MRR per month and currency (docs/finance.md#mrr), rolled forward from the movements:
    opening (the previous closing, 0 in the first month) + new + expansion + reactivation
    - contraction - churn = closing, every month from the currency's first subscription to
    the build's clock (quiet months included). Contraction and churn are positive. #}

with movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

as_of as (

    select
        {{ month_of(epoch_to_timestamp('as_of_epoch')) }} as as_of_month
    from ({{ mrr_as_of() }}) as clock

),

bounds as (

    select
        currency,
        min({{ month_of('created_at') }}) as first_month
    from {{ ref('stg_stripe__subscriptions') }}
    group by 1

),

spine_raw as (

    select
        bounds.currency,
        {{ month_series('bounds.first_month', 'as_of.as_of_month') }} as month_start
    from bounds
    cross join as_of

),

spine as (

    select
        currency,
        cast(month_start as date) as mrr_month
    from spine_raw

),

by_month as (

    select
        currency,
        mrr_month,
        {{ sum_minor("case when movement_type = 'new' then mrr_change_minor else 0 end") }} as new_minor,
        {{ sum_minor("case when movement_type = 'expansion' then mrr_change_minor else 0 end") }} as expansion_minor,
        {{ sum_minor("case when movement_type = 'contraction' then -mrr_change_minor else 0 end") }} as contraction_minor,
        {{ sum_minor("case when movement_type = 'churn' then -mrr_change_minor else 0 end") }} as churn_minor,
        {{ sum_minor("case when movement_type = 'reactivation' then mrr_change_minor else 0 end") }} as reactivation_minor,
        {{ sum_minor('mrr_change_minor') }} as net_change_minor,
        cast(sum(case when movement_type in ('new', 'reactivation') then 1 else 0 end) as bigint) as started_count,
        cast(sum(case when movement_type = 'churn' then 1 else 0 end) as bigint) as churned_count
    from movements
    group by 1, 2

),

monthly as (

    select
        spine.currency,
        spine.mrr_month,
        coalesce(by_month.new_minor, 0) as new_minor,
        coalesce(by_month.expansion_minor, 0) as expansion_minor,
        coalesce(by_month.contraction_minor, 0) as contraction_minor,
        coalesce(by_month.churn_minor, 0) as churn_minor,
        coalesce(by_month.reactivation_minor, 0) as reactivation_minor,
        coalesce(by_month.net_change_minor, 0) as net_change_minor,
        coalesce(by_month.started_count, 0) as started_count,
        coalesce(by_month.churned_count, 0) as churned_count
    from spine
    left join by_month
        on spine.currency = by_month.currency
        and spine.mrr_month = by_month.mrr_month

),

rolled as (

    -- A subscription's MRR turns positive only by new or reactivation and back to 0 only
    -- by churn, so the running counts are the subscriptions with MRR at the month's end.
    select
        *,
        cast(sum(net_change_minor) over (
            partition by currency order by mrr_month
            rows between unbounded preceding and current row
        ) as bigint) as closing_minor,
        cast(sum(started_count - churned_count) over (
            partition by currency order by mrr_month
            rows between unbounded preceding and current row
        ) as bigint) as active_subscriptions
    from monthly

),

with_opening as (

    select
        *,
        closing_minor - net_change_minor as opening_minor,
        active_subscriptions - started_count + churned_count as opening_active_subscriptions
    from rolled

),

exponents as (

    select * from {{ ref('currency_exponents') }}

),

final as (

    select
        with_opening.mrr_month,
        with_opening.currency,
        exponents.exponent as currency_exponent,
        with_opening.opening_minor as opening_mrr_minor,
        with_opening.new_minor as new_mrr_minor,
        with_opening.expansion_minor as expansion_mrr_minor,
        with_opening.contraction_minor as contraction_mrr_minor,
        with_opening.churn_minor as churn_mrr_minor,
        with_opening.reactivation_minor as reactivation_mrr_minor,
        with_opening.closing_minor as closing_mrr_minor,
        12 * with_opening.closing_minor as arr_minor,
        {{ to_major('with_opening.opening_minor', minor_unit('exponents.exponent')) }} as opening_mrr,
        {{ to_major('with_opening.new_minor', minor_unit('exponents.exponent')) }} as new_mrr,
        {{ to_major('with_opening.expansion_minor', minor_unit('exponents.exponent')) }} as expansion_mrr,
        {{ to_major('with_opening.contraction_minor', minor_unit('exponents.exponent')) }} as contraction_mrr,
        {{ to_major('with_opening.churn_minor', minor_unit('exponents.exponent')) }} as churn_mrr,
        {{ to_major('with_opening.reactivation_minor', minor_unit('exponents.exponent')) }} as reactivation_mrr,
        {{ to_major('with_opening.closing_minor', minor_unit('exponents.exponent')) }} as closing_mrr,
        {{ to_major('12 * with_opening.closing_minor', minor_unit('exponents.exponent')) }} as arr,
        with_opening.active_subscriptions,
        with_opening.opening_active_subscriptions,
        with_opening.churned_count as churned_subscriptions,
        {{ rate_6('with_opening.churned_count', 'with_opening.opening_active_subscriptions') }}
            as subscriber_churn_rate,
        {{ rate_6(
            'with_opening.opening_minor + with_opening.expansion_minor'
            ~ ' - with_opening.contraction_minor - with_opening.churn_minor',
            'with_opening.opening_minor'
        ) }} as net_revenue_retention,
        with_opening.mrr_month as dt
    from with_opening
    left join exponents
        on with_opening.currency = exponents.currency

)

select * from final
