{# Money helpers: integers in minor units stay integers; major units are exact decimals. #}

{# 1, 0.01 or 0.001 for an exponent of 0, 2 or 3, as an exact decimal. #}
{% macro minor_unit(exponent) -%}
  cast(1.0 / pow(10, {{ exponent }}) as decimal(4, 3))
{%- endmacro %}

{# A minor-unit integer in major units, never through a float: yen have no decimals,
   dinars have three. #}
{% macro to_major(amount_minor, minor_unit) -%}
  cast({{ amount_minor }} as decimal(34, 0)) * {{ minor_unit }}
{%- endmacro %}

{# sum() of bigints returns hugeint, which Parquet stores as a double: keep it bigint. #}
{% macro sum_minor(expression) -%}
  cast(sum({{ expression }}) as bigint)
{%- endmacro %}
