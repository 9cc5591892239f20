{#- Every state a subscription had, one row per run of identical consecutive states: Bronze
    keeps each version (a list read, or the object inside a customer.subscription.* event),
    ordered by when it was the truth (`_observed_at`: the event's `created` for an event,
    the response time for a list read), with the same tie-breaks as de-duplication. A line
    whose state equals the one before it adds nothing; `version_at` is when the state took
    effect, the first line carrying it. Always rebuilt from all of Bronze: a version's
    boundaries depend on its neighbours. #}
{%- set state -%}
{{ subscription_state_columns() }}
{%- endset -%}
{%- set created -%}
{{ unix_to_timestamp('$.created') }}
{%- endset -%}
{%- set discount_dates -%}
coalesce({{ unix_to_timestamp('$.discount.start') }}, {{ unix_to_timestamp('$.discounts[0].start') }}) as discount_start,
        coalesce({{ unix_to_timestamp('$.discount.end') }}, {{ unix_to_timestamp('$.discounts[0].end') }}) as discount_end
{%- endset -%}
{%- set members = bronze_members_in(state ~ created ~ discount_dates) -%}
{%- set compared = ['customer_id', 'status', 'currency', 'coupon_id', 'cancel_at_period_end',
    'canceled_at', 'ended_at', 'trial_end', 'current_period_start', 'current_period_end', 'items'] -%}
with source as (

    select * from {{ bronze(source('stripe', 'subscriptions'), members) }}

),

raw_lines as (

    select
        {{ state }},
        {{ discount_dates }},
        {{ created }} as created_at,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),

-- From 2025-03-31.basil an event names its discount by id only; a list read (which expands
-- `discounts`) or a 2024-06-20 line of the same discount carries its coupon and dates, which
-- never change for a discount id.
lines as (

    select
        subscription_id,
        customer_id,
        status,
        currency,
        coalesce(coupon_id, case when discount_id is not null
            then max(coupon_id) over (partition by discount_id)
        end) as coupon_id,
        discount_id,
        coalesce(discount_start, case when discount_id is not null
            then max(discount_start) over (partition by discount_id)
        end) as discount_start,
        coalesce(discount_end, case when discount_id is not null
            then max(discount_end) over (partition by discount_id)
        end) as discount_end,
        cancel_at_period_end,
        canceled_at,
        ended_at,
        trial_end,
        current_period_start,
        current_period_end,
        items,
        created_at,
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from raw_lines

),

fingerprinted as (

    select
        *,
        concat_ws('|',
        {%- for column in compared %}
            coalesce(cast({{ column }} as {{ dbt.type_string() }}), '~'){{ ',' if not loop.last }}
        {%- endfor %}
        ) as state_key
    from lines

),

sequenced as (

    select
        *,
        lag(state_key) over (
            partition by subscription_id
            order by
                _observed_at,
                (_source = 'event'),
                _loaded_at,
                coalesce(_event_id, '')
        ) as previous_state_key
    from fingerprinted

)

select
    subscription_id,
    {{ compared | join(',\n    ') }},
    discount_id,
    discount_start,
    discount_end,
    {{ epoch_to_timestamp('_observed_at') }} as version_at,
    cast(created_at as date) as dt
from sequenced
where previous_state_key is null or previous_state_key <> state_key
