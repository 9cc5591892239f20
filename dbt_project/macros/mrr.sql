{# MRR's shared rules (docs/finance.md#mrr, docs/architecture.md#gold-billing): MRR's
   normalisation to a month, its exact rounding, the churn mode, and the engine differences
   the billing marts need. #}

{# The churn mode (dbt var `mrr_churn_at`): `cancellation` (default) zeroes a subscription's
   MRR from its canceled_at (a cancel-at-period-end request churns when requested);
   `period_end` keeps it until the status becomes canceled. #}
{% macro mrr_churn_at() -%}
  {%- set mode = var('mrr_churn_at', 'cancellation') -%}
  {%- if mode not in ('cancellation', 'period_end') -%}
    {% do exceptions.raise_compiler_error("var mrr_churn_at must be cancellation or period_end, not " ~ mode) %}
  {%- endif -%}
  {{ return(mode) }}
{%- endmacro %}

{# A recurring price's MRR factor as an exact fraction k / (12 * interval_count): a month
   counts 12/12, a year 1/12, a week 52/12, a day 365/12 (per interval_count). #}
{% macro mrr_factor_numerator(interval) -%}
  case {{ interval }}
      when 'month' then 12
      when 'year' then 1
      when 'week' then 52
      when 'day' then 365
  end
{%- endmacro %}

{# An exact integer wide enough for MRR's numerators (amount x quantity x factor x 10^6):
   decimal(38, 0) on both engines. #}
{% macro exact_integer(expression) -%}
  cast({{ expression }} as decimal(38, 0))
{%- endmacro %}

{# numerator / denominator (non-negative integers, denominator > 0) rounded half up to an
   integer, in integers: floor((2n + d) / 2d). The quotient of an exact multiple is exact in
   a double far beyond any MRR. #}
{% macro round_half_up_ratio(numerator, denominator) -%}
  {%- set n2 = "(2 * " ~ exact_integer(numerator) ~ " + " ~ exact_integer(denominator) ~ ")" -%}
  {%- set d2 = "(2 * " ~ exact_integer(denominator) ~ ")" -%}
  cast(round(({{ n2 }} - {{ n2 }} % {{ d2 }}) / {{ d2 }}) as bigint)
{%- endmacro %}

{# A ratio of non-negative integers rounded half up to 6 decimals, as decimal(18, 6); null
   when the denominator is 0. #}
{% macro rate_6(numerator, denominator) -%}
  case
      when {{ denominator }} <> 0 then
          cast(
              cast({{ round_half_up_ratio(exact_integer(numerator) ~ ' * 1000000', denominator) }} as decimal(24, 0))
              * cast(0.000001 as decimal(7, 6))
          as decimal(18, 6))
  end
{%- endmacro %}

{# One row per item of a subscription's `items` (JSON text [{"id", "price_id", "quantity"}]),
   as a struct: a set-returning expression, read in an outer select. #}
{% macro subscription_items(items_json) -%}
  {{ return(adapter.dispatch('subscription_items')(items_json)) }}
{%- endmacro %}

{% macro duckdb__subscription_items(items_json) -%}
  unnest(from_json({{ items_json }}, '[{"id": "VARCHAR", "price_id": "VARCHAR", "quantity": "BIGINT"}]'))
{%- endmacro %}

{% macro spark__subscription_items(items_json) -%}
  explode(from_json({{ items_json }}, 'array<struct<id:string,price_id:string,quantity:bigint>>'))
{%- endmacro %}

{# One row per month start from `start_month` to `end_month` (dates, first of a month, both
   included): a set-returning expression. #}
{% macro month_series(start_month, end_month) -%}
  {{ return(adapter.dispatch('month_series')(start_month, end_month)) }}
{%- endmacro %}

{% macro duckdb__month_series(start_month, end_month) -%}
  unnest(generate_series(cast({{ start_month }} as timestamp), cast({{ end_month }} as timestamp), interval 1 month))
{%- endmacro %}

{% macro spark__month_series(start_month, end_month) -%}
  explode(sequence(cast({{ start_month }} as date), cast({{ end_month }} as date), interval 1 month))
{%- endmacro %}

{# The month (its first day, a date) of a timestamp. #}
{% macro month_of(timestamp) -%}
  cast({{ dbt.date_trunc('month', timestamp) }} as date)
{%- endmacro %}

{# The build's MRR clock, unix seconds: the newest `_observed_at` of the subscriptions in
   Bronze (Silver keeps each one's newest), so a rebuild of the same Bronze gives the same
   current month. A one-row select with `as_of_epoch`. #}
{% macro mrr_as_of() -%}
    select max(_observed_at) as as_of_epoch
    from {{ ref('stg_stripe__subscriptions') }}
{%- endmacro %}

{# Unix seconds at the start of the month after `month` (a date, first of a month). Not
   dbt.dateadd: on Spark it goes through to_timestamp(bigint), which ANSI mode with
   TIMESTAMP_NTZ rejects. #}
{% macro next_month_epoch(month) -%}
  {{ return(adapter.dispatch('next_month_epoch')(month)) }}
{%- endmacro %}

{% macro duckdb__next_month_epoch(month) -%}
  epoch(cast({{ month }} + interval 1 month as timestamp))
{%- endmacro %}

{% macro spark__next_month_epoch(month) -%}
  cast(unix_date(add_months({{ month }}, 1)) as bigint) * 86400
{%- endmacro %}
