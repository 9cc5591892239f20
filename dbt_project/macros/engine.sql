{# Engine differences, one place (ADR 0030): the models are written once and call these;
   each has a DuckDB and a Spark implementation picked by adapter.dispatch. The DuckDB
   bodies are the SQL the models held before, so DuckDB output is unchanged. #}

{# Bronze: a source() relation as rows of the envelope (DESIGN §3). #}
{% macro bronze(source_relation) -%}
  {{ return(adapter.dispatch('bronze')(source_relation)) }}
{%- endmacro %}

{# DuckDB: the source renders as read_json(..., columns=...) from its external_location. #}
{% macro duckdb__bronze(source_relation) -%}
  {{ return(source_relation) }}
{%- endmacro %}

{# Spark: parse each line with an explicit schema (no inference). `data` is read as a
   string: Spark keeps a nested object as its JSON text. Webhook captures are whole
   (often pretty-printed) documents, so they are read one file per row. #}
{% macro spark__bronze(source_relation) -%}
  {%- set entity = source_relation.identifier -%}
  {%- set folder = spark_lake_root() ~ '/bronze/source=stripe/entity=' ~ entity -%}
  {%- set received = '_received_at timestamp_ltz, ' if entity == 'webhook_events' else '' -%}
  {%- set schema = '_run_id string, _loaded_at timestamp_ltz, ' ~ received
      ~ '_observed_at bigint, _source string, _event_id string, _event_type string, data string' -%}
  (
    select
        line._run_id,
        -- Parsed as an instant, kept as UTC wall time like DuckDB's TIMESTAMP.
        cast(line._loaded_at as timestamp) as _loaded_at,
        {% if received -%}
        cast(line._received_at as timestamp) as _received_at,
        {% endif -%}
        line._observed_at,
        line._source,
        line._event_id,
        line._event_type,
        line.data
    from (
        {% if entity == 'webhook_events' -%}
        select from_json(cast(content as string), '{{ schema }}') as line
        from binaryFile.`{{ folder }}/dt=*/*.json`
        {%- else -%}
        select from_json(value, '{{ schema }}') as line
        from text.`{{ folder }}/dt=*/run_id=*/part-*.jsonl*`
        {%- endif %}
    )
  ) as bronze_{{ entity }}
{%- endmacro %}

{# The lake root as Spark's Hadoop file systems name it: s3a:// for S3. #}
{% macro spark_lake_root() -%}
  {%- set root = lake_root() -%}
  {{ 's3a://' ~ root[5:] if root.startswith('s3://') else root }}
{%- endmacro %}

{# A JSON field of `data` as text (null when absent or JSON null). #}
{% macro json_text(path) -%}
  {{ return(adapter.dispatch('json_text')(path)) }}
{%- endmacro %}

{% macro duckdb__json_text(path) -%}
  data ->> '{{ path }}'
{%- endmacro %}

{% macro spark__json_text(path) -%}
  get_json_object(data, '{{ path }}')
{%- endmacro %}

{# A JSON field of `data` cast to a SQL type (bigint, boolean). #}
{% macro json_cast(path, type) -%}
  {{ return(adapter.dispatch('json_cast')(path, type)) }}
{%- endmacro %}

{% macro duckdb__json_cast(path, type) -%}
  cast(data -> '{{ path }}' as {{ type }})
{%- endmacro %}

{% macro spark__json_cast(path, type) -%}
  cast(get_json_object(data, '{{ path }}') as {{ type }})
{%- endmacro %}

{# A nested JSON value of `data` kept as JSON (DuckDB's JSON type, Spark's JSON text). #}
{% macro json_value(path) -%}
  {{ return(adapter.dispatch('json_value')(path)) }}
{%- endmacro %}

{% macro duckdb__json_value(path) -%}
  data -> '{{ path }}'
{%- endmacro %}

{% macro spark__json_value(path) -%}
  get_json_object(data, '{{ path }}')
{%- endmacro %}

{# md5 of a nested JSON value in the engine's minified form: comparable within one engine
   (batch vs webhook copy), not across engines. #}
{% macro json_digest(path) -%}
  {{ return(adapter.dispatch('json_digest')(path)) }}
{%- endmacro %}

{% macro duckdb__json_digest(path) -%}
  md5(cast(data -> '{{ path }}' as varchar))
{%- endmacro %}

{% macro spark__json_digest(path) -%}
  md5(get_json_object(data, '{{ path }}'))
{%- endmacro %}

{# The type of a JSON column, for an empty placeholder relation. #}
{% macro type_json() -%}
  {{ return(adapter.dispatch('type_json')()) }}
{%- endmacro %}

{% macro duckdb__type_json() -%}
  json
{%- endmacro %}

{% macro spark__type_json() -%}
  string
{%- endmacro %}

{# Unix seconds (an integer expression) as a UTC timestamp without time zone. #}
{% macro epoch_to_timestamp(expression) -%}
  {{ return(adapter.dispatch('epoch_to_timestamp')(expression)) }}
{%- endmacro %}

{% macro duckdb__epoch_to_timestamp(expression) -%}
  cast(to_timestamp({{ expression }}) at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{# The profile makes `timestamp` mean TIMESTAMP_NTZ and the session zone UTC. #}
{% macro spark__epoch_to_timestamp(expression) -%}
  cast(timestamp_seconds({{ expression }}) as {{ dbt.type_timestamp() }})
{%- endmacro %}

{# A UTC timestamp as (fractional) unix seconds, a double. #}
{% macro epoch_seconds(expression) -%}
  {{ return(adapter.dispatch('epoch_seconds')(expression)) }}
{%- endmacro %}

{% macro duckdb__epoch_seconds(expression) -%}
  epoch({{ expression }})
{%- endmacro %}

{% macro spark__epoch_seconds(expression) -%}
  (unix_micros(cast({{ expression }} as timestamp_ltz)) / 1e6)
{%- endmacro %}

{# `*` without some columns: DuckDB says exclude, Spark 4 says except. #}
{% macro star_except(columns) -%}
  {{ return(adapter.dispatch('star_except')(columns)) }}
{%- endmacro %}

{% macro duckdb__star_except(columns) -%}
  * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns) -%}
  * except ({{ columns | join(', ') }})
{%- endmacro %}

{# Spark's local session has an in-memory catalog: tables are forgotten between runs, but a
   seed's managed table leaves its folder in the warehouse, and Spark refuses to create a
   managed table over an existing folder. Dropping the seeds schema (cascade) removes the
   folder; it is created again empty (dbt made the schemas before this hook), and the run's
   seed step fills it. With a real metastore nothing is dropped. #}
{% macro reset_seed_warehouse() -%}
  {{ return(adapter.dispatch('reset_seed_warehouse')()) }}
{%- endmacro %}

{% macro duckdb__reset_seed_warehouse() -%}
{%- endmacro %}

{% macro spark__reset_seed_warehouse() -%}
  {%- if execute -%}
    {%- set catalog = run_query('set spark.sql.catalogImplementation').columns[1].values()[0] -%}
    {%- if catalog == 'in-memory' -%}
      {%- set seeds = target.schema ~ '_seeds' -%}
      {% do run_query('create database if not exists ' ~ seeds) %}
      {% do run_query('drop database ' ~ seeds ~ ' cascade') %}
      {% do run_query('create database ' ~ seeds) %}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}
