{# Where each layer's Parquet lives in the lake (DESIGN §3). #}
{% macro lake_root() -%}
  {{ env_var('LAKE_ROOT', './_local_data').rstrip('/') }}
{%- endmacro %}

{# Overrides dbt-duckdb's default so folders in dbt_project.yml set only the format and the
   partitioning: a staging model `stg_stripe__<entity>` lands in Silver under its entity,
   any other model in Gold under its own name. #}
{% macro external_location(relation, config) -%}
  {%- set name = relation.identifier -%}
  {%- if name.startswith('stg_stripe__') -%}
    {{ lake_root() }}/silver/source=stripe/entity={{ name[12:] }}
  {%- else -%}
    {{ lake_root() }}/gold/model={{ name }}
  {%- endif -%}
{%- endmacro %}
