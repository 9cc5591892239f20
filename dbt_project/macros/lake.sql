{# Where each layer's Parquet lives in the lake (DESIGN §3). #}
{% macro lake_root() -%}
  {{ env_var('LAKE_ROOT', './_local_data').rstrip('/') }}
{%- endmacro %}

{# A model's folder: a staging model `stg_stripe__<entity>` lands in Silver under its
   entity, any other model in Gold under its own name. Both engines write here. #}
{% macro lake_location(name, root) -%}
  {%- if name.startswith('stg_stripe__') -%}
    {{ root }}/silver/source=stripe/entity={{ name[12:] }}
  {%- else -%}
    {{ root }}/gold/model={{ name }}
  {%- endif -%}
{%- endmacro %}

{# Overrides dbt-duckdb's default so folders in dbt_project.yml set only the format and the
   partitioning. #}
{% macro external_location(relation, config) -%}
  {{ lake_location(relation.identifier, lake_root()) }}
{%- endmacro %}

{# Overrides dbt-spark's `location_root/<name>` so a Spark table's files land in the same
   lake folder as DuckDB's. Seeds keep Spark's default (a managed table in the warehouse). #}
{% macro spark__location_clause() -%}
  {%- if model.resource_type == 'model' %}
    location '{{ lake_location(model['alias'], spark_lake_root()) }}'
  {%- endif %}
{%- endmacro %}

{# True when at least one file matches `glob_pattern` (checked at run time; at parse time
   the answer does not matter). Lets a model read an optional part of the lake, such as
   webhook captures, without failing when nothing was captured yet. #}
{% macro lake_files_exist(glob_pattern) -%}
  {%- if not execute -%}
    {{ return(true) }}
  {%- endif -%}
  {{ return(adapter.dispatch('lake_files_exist')(glob_pattern)) }}
{%- endmacro %}

{% macro duckdb__lake_files_exist(glob_pattern) -%}
  {%- set result = run_query("select count(*) from glob('" ~ glob_pattern ~ "')") -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{# Spark fails on a glob that matches nothing, so list the Bronze tree instead (file
   names only, binaryFile reads no content for a count) and match the paths with LIKE. #}
{% macro spark__lake_files_exist(glob_pattern) -%}
  {%- set root = lake_root() -%}
  {%- if not glob_pattern.startswith(root ~ '/bronze/') -%}
    {% do exceptions.raise_compiler_error("lake_files_exist on Spark looks under Bronze only: " ~ glob_pattern) %}
  {%- endif -%}
  {%- set tail = glob_pattern[root | length:] -%}
  {% call statement('bronze_files') -%}
    create or replace temporary view lake_bronze_files
    using binaryFile
    options (
        path '{{ spark_lake_root() }}/bronze',
        recursiveFileLookup 'true',
        pathGlobFilter '{{ tail.split('/')[-1] }}'
    )
  {%- endcall %}
  {%- set result = run_query(
      "select count(*) from lake_bronze_files where path like '%" ~ tail.replace('*', '%') ~ "'"
  ) -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}
