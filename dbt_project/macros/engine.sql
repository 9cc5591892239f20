{# Engine differences, one place (ADR 0030): the models are written once and call these;
   each has a DuckDB and a Spark implementation picked by adapter.dispatch. The DuckDB
   bodies are the SQL the models held before, so DuckDB output is unchanged. #}

{# Bronze: a source() relation as rows of the envelope (docs/architecture.md#bronze-line). `members`: the top-level
   members of `data` the caller reads (default: found in the model's code, see
   bronze_object_members). #}
{% macro bronze(source_relation, members=none) -%}
  {{ return(adapter.dispatch('bronze')(source_relation, members)) }}
{%- endmacro %}

{# True when the entity has no Bronze file at all: the account never used the resource, or
   nothing of it exists yet. Readers then get the envelope with no rows (an empty Silver and
   Gold, a passing gate), never a "no files found" error. #}
{% macro bronze_is_empty(source_relation) -%}
  {{ return(not source_relation.is_cte and not lake_files_exist(bronze_glob(source_relation.identifier))) }}
{%- endmacro %}

{# DuckDB: read_json over the entity's Bronze glob with explicit columns (no schema
   inference on the hot path, docs/architecture.md#stack-and-pins). Read as JSON, every line's whole object would be
   copied out as JSON text, and at 1M charges that copy cost 10x the time and 40% more
   memory than reading only the members the model uses (docs/benchmarks.md). So `data` is
   read as a STRUCT of those top-level members, each still JSON (bronze_object_type), and the
   json_* macros below address a member, then the rest of the path inside it. A unit test's
   fixture (a CTE of plain JSON rows) is converted to the same STRUCT. #}
{% macro duckdb__bronze(source_relation, members=none) -%}
  {%- set members = bronze_object_members() if members is none else members -%}
  {%- if bronze_is_empty(source_relation) -%}
    {{ return("(" ~ bronze_placeholder(source_relation.identifier, members) ~ ")") }}
  {%- elif not source_relation.is_cte -%}
    {%- set entity = source_relation.identifier -%}
    {%- set quarantined = quarantined_captures() if is_capture_entity(entity) else [] -%}
    {%- if quarantined -%}
      {#- A constant list on `filename`: DuckDB prunes those files before reading any. #}
      {%- set paths = [] -%}
      {%- for key in quarantined -%}
        {% do paths.append("'" ~ (lake_root() ~ '/' ~ key) | replace("'", "''") ~ "'") %}
      {%- endfor -%}
      {{ return("(select * exclude (filename) from " ~ duckdb__bronze_reader(entity, bronze_glob(entity), members, filename=true)
                ~ " where filename not in (" ~ paths | join(', ') ~ "))") }}
    {%- endif -%}
    {{ return(duckdb__bronze_reader(entity, bronze_glob(entity), members)) }}
  {%- elif not members -%}
    {{ return(source_relation | string) }}
  {%- endif -%}
  {{ return("(select * replace (json_transform(data, '" ~ bronze_object_shape(members) ~ "') as data) from "
            ~ source_relation ~ ")") }}
{%- endmacro %}

{# read_json of an entity's Bronze files (`globs`: one glob or a list) with the envelope as
   `columns=`: JSONL for batch parts, whole (often pretty-printed) documents for captures;
   `filename`: add DuckDB's `filename` column (to leave quarantined captures out). #}
{% macro duckdb__bronze_reader(entity, globs, members, filename=false) -%}
  {%- set types = {'string': 'VARCHAR', 'timestamp': 'TIMESTAMP', 'bigint': 'BIGINT', 'json': bronze_object_type(members)} -%}
  {%- set columns = [] -%}
  {%- for column in bronze_envelope(entity) -%}
    {% do columns.append("'" ~ column.name ~ "': '" ~ types[column.type] ~ "'") %}
  {%- endfor -%}
  {%- if globs is string -%}
    {%- set files = "'" ~ globs ~ "'" -%}
  {%- else -%}
    {%- set files = "['" ~ globs | join("', '") ~ "']" -%}
  {%- endif -%}
  {%- set format = 'auto' if is_capture_entity(entity) else 'newline_delimited' -%}
  {%- set extra = ", filename=true" if filename else "" -%}
  {{ return("read_json(" ~ files ~ ", format='" ~ format ~ "'" ~ extra ~ ", columns={" ~ columns | join(', ') ~ "})") }}
{%- endmacro %}

{# An entity's envelope with no rows (same columns and types as reading it), for a model
   whose Bronze is optional or an incremental build with nothing new. #}
{% macro bronze_placeholder(entity, members=none) -%}
    select
    {%- for column in bronze_envelope(entity) %}
        cast(null as {{ bronze_sql_type(column.type, members) }}) as {{ column.name }}{{ ',' if not loop.last }}
    {%- endfor %}
    where false
{%- endmacro %}

{# An envelope column's logical type as the engine's SQL type. #}
{% macro bronze_sql_type(logical_type, members=none) -%}
  {%- if logical_type == 'json' -%}
    {{ return(type_bronze_object(members)) }}
  {%- elif logical_type == 'string' -%}
    {{ return(dbt.type_string()) }}
  {%- endif -%}
  {{ return(logical_type) }}
{%- endmacro %}

{# The top-level members of `data` the model being compiled reads: every '$.member…'
   path written in it, plus `deleted` when it calls is_tombstone. A member missing here
   is a loud binder error ("Could not find key"), never a silent null. Staging models pass
   their members instead (bronze_members_in), found in their rendered columns. #}
{% macro bronze_object_members() -%}
  {%- if model is not defined or not model.raw_code -%}
    {{ return([]) }}  {#- source freshness: only `_loaded_at` is read #}
  {%- endif -%}
  {%- set members = modules.re.findall("'\\$\\.([A-Za-z_][A-Za-z0-9_]*)", model.raw_code) -%}
  {%- if 'is_tombstone(' in model.raw_code -%}
    {%- do members.append('deleted') -%}
  {%- endif -%}
  {{ return(members | unique | sort | list) }}
{%- endmacro %}

{# The members of `data` that rendered SQL reads: on DuckDB every json_* macro renders
   `data."member"` (duckdb__bronze_member), so macros called for the columns (shared event
   columns, tombstones) count too. Spark reads `data` as text and needs no list. #}
{% macro bronze_members_in(rendered_sql) -%}
  {%- set members = modules.re.findall('\\bdata\\."([A-Za-z_][A-Za-z0-9_]*)"', rendered_sql) -%}
  {{ return(members | unique | sort | list) }}
{%- endmacro %}

{# Bronze `data` as DuckDB reads it for this model: STRUCT("member" JSON, …), or JSON
   where the node reads no member (source freshness). #}
{% macro bronze_object_type(members=none) -%}
  {%- set members = bronze_object_members() if members is none else members -%}
  {%- if not members -%}
    {{ return('JSON') }}
  {%- endif -%}
  {%- set fields = [] -%}
  {%- for member in members -%}
    {%- do fields.append('"' ~ member ~ '" JSON') -%}
  {%- endfor -%}
  {{ return('STRUCT(' ~ fields | join(', ') ~ ')') }}
{%- endmacro %}

{# The same shape as json_transform wants it: {"member": "JSON", …}. #}
{% macro bronze_object_shape(members=none) -%}
  {%- set members = bronze_object_members() if members is none else members -%}
  {%- set fields = [] -%}
  {%- for member in members -%}
    {%- do fields.append('"' ~ member ~ '": "JSON"') -%}
  {%- endfor -%}
  {{ return('{' ~ fields | join(', ') ~ '}') }}
{%- endmacro %}

{# `data` as an empty placeholder's column type: the model's STRUCT on DuckDB, JSON text
   on Spark (which reads `data` as a string). #}
{% macro type_bronze_object(members=none) -%}
  {{ return(adapter.dispatch('type_bronze_object')(members)) }}
{%- endmacro %}

{% macro duckdb__type_bronze_object(members=none) -%}
  {{ return(bronze_object_type(members)) }}
{%- endmacro %}

{% macro spark__type_bronze_object(members=none) -%}
  {{ return('string') }}
{%- endmacro %}

{# A '$.member.rest' (or '$.member[0]…') path on the STRUCT: the member, then '$.rest' (or
   '$[0]…', or '$') inside it. The -> / ->> operators re-serialise JSON minified, as they
   did on the whole object. #}
{% macro duckdb__bronze_member(path, operator) -%}
  {%- set parts = modules.re.match('([A-Za-z_][A-Za-z0-9_]*)(.*)', path[2:]).groups() -%}
  data."{{ parts[0] }}" {{ operator }} '${{ parts[1] }}'
{%- endmacro %}

{# Spark: parse each line with an explicit schema (no inference). `data` is read as a
   string: Spark keeps a nested object as its JSON text. Webhook captures are whole
   (often pretty-printed) documents, so they are read one file per row. Timestamps are
   parsed as instants and kept as UTC wall time like DuckDB's TIMESTAMP. #}
{% macro spark__bronze(source_relation, members=none) -%}
  {%- set entity = source_relation.identifier -%}
  {%- if bronze_is_empty(source_relation) -%}
    {{ return("(" ~ bronze_placeholder(entity, members) ~ ") as bronze_" ~ entity) }}
  {%- endif -%}
  {%- set types = {'string': 'string', 'timestamp': 'timestamp_ltz', 'bigint': 'bigint', 'json': 'string'} -%}
  {%- set fields = [] -%}
  {%- for column in bronze_envelope(entity) -%}
    {% do fields.append(column.name ~ ' ' ~ types[column.type]) %}
  {%- endfor -%}
  {%- set schema = fields | join(', ') -%}
  (
    select
        {%- for column in bronze_envelope(entity) %}
        {% if column.type == 'timestamp' -%}
        cast(line.{{ column.name }} as timestamp) as {{ column.name }}
        {%- else -%}
        line.{{ column.name }}
        {%- endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        {% if is_capture_entity(entity) -%}
        select from_json(cast(content as string), '{{ schema }}') as line, path
        from binaryFile.`{{ bronze_glob(entity, root=spark_lake_root()) }}`
        {%- else -%}
        select from_json(value, '{{ schema }}') as line
        from text.`{{ bronze_glob(entity, root=spark_lake_root()) }}`
        {%- endif %}
    )
    {%- if is_capture_entity(entity) %}
    where {{ spark__readable_captures() }}
    {%- endif %}
  ) as bronze_{{ entity }}
{%- endmacro %}

{# Spark and unreadable captures: the files the CLI's DuckDB check quarantined are left out
   (quarantined_captures), and any other file Spark cannot parse (from_json gives no
   `_event_id`, which every capture has) stops the build naming the file, instead of becoming
   a row of nulls. Spark's JSON parser keeps one of two equal keys: only the DuckDB check
   (run-transforms) finds those. #}
{% macro spark__readable_captures() -%}
  {%- for key in quarantined_captures() %}
    not endswith(path, '/{{ key | replace("'", "\\'") }}') and
  {%- endfor %}
    (line._event_id is not null or raise_error(concat('webhook capture ', path,
        ' cannot be read (Spark parsed no _event_id from it): fix or remove the file, or run payments-pipeline run-transforms to quarantine it (docs/runbook.md)')))
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
  {{ duckdb__bronze_member(path, '->>') }}
{%- endmacro %}

{% macro spark__json_text(path) -%}
  get_json_object(data, '{{ path }}')
{%- endmacro %}

{# A JSON field of `data` cast to a SQL type (bigint, boolean). #}
{% macro json_cast(path, type) -%}
  {{ return(adapter.dispatch('json_cast')(path, type)) }}
{%- endmacro %}

{# Stripe sends integers (amounts in minor units, unix seconds, counts); a cast would silently
   round 1002.5 to 1002, so anything else stops the model with the field and its value. #}
{% macro duckdb__json_cast(path, type) -%}
  {%- set value = "(" ~ duckdb__bronze_member(path, '->') ~ ")" -%}
  {%- if type == 'bigint' -%}
  case
      when json_type({{ value }}) in ('UBIGINT', 'BIGINT') then cast({{ value }} as bigint)
      when {{ value }} is null or json_type({{ value }}) = 'NULL' then null
      else error('{{ path }} is ' || cast({{ value }} as varchar) || ' in ' || coalesce({{ duckdb__bronze_member('$.id', '->>') }}, 'an object without id') || ': Stripe sends an integer there')
  end
  {%- else -%}
  cast({{ value }} as {{ type }})
  {%- endif -%}
{%- endmacro %}

{% macro spark__json_cast(path, type) -%}
  {%- set value = "(get_json_object(data, '" ~ path ~ "'))" -%}
  {%- if type == 'bigint' -%}
  case
      when {{ value }} is null or {{ value }} rlike '^-?[0-9]+$' then cast({{ value }} as bigint)
      else raise_error(concat('{{ path }} is ', {{ value }}, ' in ', coalesce(get_json_object(data, '$.id'), 'an object without id'), ': Stripe sends an integer there'))
  end
  {%- else -%}
  cast({{ value }} as {{ type }})
  {%- endif -%}
{%- endmacro %}

{# A nested JSON value of `data` kept as JSON (DuckDB's JSON type, Spark's JSON text). #}
{% macro json_value(path) -%}
  {{ return(adapter.dispatch('json_value')(path)) }}
{%- endmacro %}

{% macro duckdb__json_value(path) -%}
  {{ duckdb__bronze_member(path, '->') }}
{%- endmacro %}

{% macro spark__json_value(path) -%}
  get_json_object(data, '{{ path }}')
{%- endmacro %}

{# The sum of integer `member` over the JSON array at `path` (null when the array is missing
   or empty): an invoice's `total_taxes[].amount` from 2025-03-31.basil on. #}
{% macro json_sum(path, member) -%}
  {{ return(adapter.dispatch('json_sum')(path, member)) }}
{%- endmacro %}

{# list_sum of bigints is a hugeint, which Parquet stores as a double: keep it bigint. #}
{% macro duckdb__json_sum(path, member) -%}
  cast(list_sum(cast(json_extract({{ duckdb__bronze_member(path, '->') }}, '$[*].{{ member }}') as bigint[])) as bigint)
{%- endmacro %}

{% macro spark__json_sum(path, member) -%}
  aggregate(
      from_json(get_json_object(data, '{{ path }}'), 'array<struct<{{ member }}:bigint>>'),
      cast(null as bigint),
      (total, item) -> coalesce(total, 0) + item.{{ member }}
  )
{%- endmacro %}

{# md5 of a nested JSON value in the engine's minified form: comparable within one engine
   (batch vs webhook copy), not across engines. #}
{% macro json_digest(path) -%}
  {{ return(adapter.dispatch('json_digest')(path)) }}
{%- endmacro %}

{% macro duckdb__json_digest(path) -%}
  md5(cast({{ duckdb__bronze_member(path, '->') }} as varchar))
{%- endmacro %}

{% macro spark__json_digest(path) -%}
  md5(get_json_object(data, '{{ path }}'))
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

{# Unix seconds after any timestamp either engine holds (year 10000), for "no end yet" in a
   comparison: `coalesce(ends_epoch, far_future_epoch()) > t` reads as "has not ended by t". #}
{% macro far_future_epoch() -%}
  253402300800
{%- endmacro %}

{# The current UTC wall time minus `hours` hours, a `timestamp` (wall time, like the models'
   columns); `hours` is a number or a SQL expression. #}
{% macro utc_hours_ago(hours) -%}
  {{ return(adapter.dispatch('utc_hours_ago')(hours)) }}
{%- endmacro %}

{% macro duckdb__utc_hours_ago(hours) -%}
  cast(now() at time zone 'UTC' as timestamp)
        - interval ({{ hours }}) hour
{%- endmacro %}

{# The session zone is UTC and `timestamp` means TIMESTAMP_NTZ (profile): the cast gives
   UTC wall time. An interval times a number also takes a fraction of an hour. #}
{% macro spark__utc_hours_ago(hours) -%}
  cast(current_timestamp() as timestamp) - ({{ hours }}) * interval 1 hour
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
