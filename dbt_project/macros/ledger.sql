{# The ledger's shared rules (docs/architecture.md#gold-the-ledger): what a balance
   transaction's source is, which bucket of a daily balance or payout it falls in, and
   conversion to the settlement currency, written once for every ledger model and test. #}

{# The kind of object a balance transaction comes from: the source id's prefix (Stripe's
   ids say their object), else its type (a source Stripe leaves null, or one we do not read). #}
{% macro ledger_source_kind(source_id, type) -%}
  case {{ dbt.split_part(source_id, "'_'", 1) }}
      when 'ch' then 'charge'
      when 'py' then 'charge'
      when 're' then 'refund'
      when 'pyr' then 'refund'
      when 'dp' then 'dispute'
      when 'du' then 'dispute'
      when 'po' then 'payout'
      else
          case
              when {{ type }} in ('charge', 'payment') then 'charge'
              when {{ type }} in ('refund', 'payment_refund') then 'refund'
              when {{ type }} in ('payout', 'payout_failure', 'payout_cancel') then 'payout'
              else 'other'
          end
  end
{%- endmacro %}

{# Per payout, what it paid out (Silver's `?payout=` items): their count and the sum of
   their nets, which must equal the payout's amount. One query for fct_payouts and the gate. #}
{% macro payout_item_totals() -%}
    select
        payout_id,
        cast(count(*) as bigint) as item_count,
        {{ sum_minor('net_minor') }} as items_net_minor
    from {{ ref('stg_stripe__payout_balance_transactions') }}
    group by 1
{%- endmacro %}

{# Per charge, what its refund objects gave back, in the presentment currency: pending and
   succeeded refunds (a failed one gave nothing back). Gold prefers this to the charge's
   amount_refunded, which may still count a failed refund: the failure brings no charge
   event, and Stripe does not say whether it changes amount_refunded at all. One query
   for fct_payments and the Silver/Gold reconciliation gate. #}
{% macro refunds_given_by_charge() -%}
    select
        charge_id,
        {{ sum_minor("case when status not in ('failed', 'canceled') then amount_minor else 0 end") }}
            as refunds_given_minor
    from {{ ref('stg_stripe__refunds') }}
    group by 1
{%- endmacro %}

{# The bucket a reporting category is shown in (https://docs.stripe.com/reports/reporting-categories):
   charges, refunds (customer refunds only), disputes (withdrawals and their reversals),
   payouts (payouts and their failures), and other (partial capture reversals and anything
   else: Stripe's adjustments). Fees are a separate figure of every transaction. #}
{% macro ledger_bucket(reporting_category) -%}
  case
      when {{ reporting_category }} = 'charge' then 'charges'
      when {{ reporting_category }} = 'refund' then 'refunds'
      when {{ reporting_category }} in ('dispute', 'dispute_reversal') then 'disputes'
      when {{ reporting_category }} in ('payout', 'payout_reversal') then 'payouts'
      else 'other'
  end
{%- endmacro %}

{# A presentment amount (minor units, exponent `exponent_from`) at `rate` in the settlement
   currency's minor units (exponent `exponent_to`), rounded half up as Stripe rounds: in
   integers, never through a float. The rate (a decimal with 10 places) is scaled to an
   integer; n = amount * rate * 10^10 and the result is n / 10^(from + 10 - to), half up.
   n stays below 2^63 for any Stripe amount (at most 99,999,999) at rates below 9e10 / 1e8.
   The quotient of an exact multiple comes back exactly once rounded (a double holds it to
   far better than half a unit). #}
{% macro convert_minor(amount_minor, rate, exponent_from, exponent_to) -%}
  {%- set scaled = "(cast(" ~ amount_minor ~ " as bigint) * cast(" ~ rate ~ " * 10000000000 as bigint))" -%}
  {%- set shift = exponent_from ~ " + 10 - " ~ exponent_to -%}
  {%- set divisor = "cast(pow(10, " ~ shift ~ ") as bigint)" -%}
  {%- set shifted = "(" ~ scaled ~ " + cast(5 * pow(10, " ~ shift ~ " - 1) as bigint))" -%}
  cast(round(({{ shifted }} - {{ shifted }} % {{ divisor }}) / {{ divisor }}) as bigint)
{%- endmacro %}

{# One row per day from `start_date` to `end_date` (dates, both included) for each row of
   the select it is called in: a set-returning expression (DuckDB unnest, Spark explode). #}
{% macro date_series(start_date, end_date) -%}
  {{ return(adapter.dispatch('date_series')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__date_series(start_date, end_date) -%}
  unnest(generate_series(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), interval 1 day))
{%- endmacro %}

{% macro spark__date_series(start_date, end_date) -%}
  explode(sequence(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day))
{%- endmacro %}

{# One row per element of a balance snapshot's `available` or `pending` (a JSON array of
   {amount, currency, source_types}), as a struct with `amount` and `currency`: a
   set-returning expression, read in an outer select. #}
{% macro balance_entries(json_array) -%}
  {{ return(adapter.dispatch('balance_entries')(json_array)) }}
{%- endmacro %}

{% macro duckdb__balance_entries(json_array) -%}
  unnest(from_json({{ json_array }}, '[{"amount": "BIGINT", "currency": "VARCHAR"}]'))
{%- endmacro %}

{% macro spark__balance_entries(json_array) -%}
  explode(from_json({{ json_array }}, 'array<struct<amount:bigint,currency:string>>'))
{%- endmacro %}
