{# One row of agg_daily_revenue's activity: the given measures (SQL by name), every other
   one of `measures` 0, so the branches of its union line up. #}
{% macro daily_activity(date, settlement_currency, values, measures) -%}
        {{ date }} as activity_date,
        currency,
        {{ settlement_currency }} as settlement_currency,
        {%- for measure in measures %}
        cast({{ values.get(measure, 0) }} as bigint) as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}
{%- endmacro %}
