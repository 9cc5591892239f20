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

{# True when at least one file matches `glob_pattern` (checked at run time; at parse time
   the answer does not matter). Lets a model read an optional part of the lake, such as
   webhook captures, without failing when nothing was captured yet. #}
{% macro lake_files_exist(glob_pattern) -%}
  {%- if not execute -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set result = run_query("select count(*) from glob('" ~ glob_pattern ~ "')") -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}
