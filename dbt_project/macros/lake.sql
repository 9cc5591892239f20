{# The lake layout (docs/architecture.md#the-lake). Its constants are the var `lake_layout` in dbt_project.yml;
   these macros are the only dbt code that turns them into paths, globs and the Bronze
   envelope, so models, tests and the other macros never spell a folder name. #}

{# The layout constants (dbt_project.yml, var `lake_layout`). #}
{% macro lake_layout() -%}
  {{ return(var('lake_layout')) }}
{%- endmacro %}

{# Where the lake is: LAKE_ROOT without a trailing slash (a local path or s3://…). #}
{% macro lake_root() -%}
  {{ env_var('LAKE_ROOT', './_local_data').rstrip('/') }}
{%- endmacro %}

{# A run id as the extractor writes it: validated before it goes into a glob. #}
{% macro run_id_pattern() -%}
  {{ return(lake_layout().run_id_pattern) }}
{%- endmacro %}

{# The entity whose Bronze is webhook captures (one file per event) rather than batch runs. #}
{% macro is_capture_entity(entity) -%}
  {{ return(entity == lake_layout().capture_entity) }}
{%- endmacro %}

{# The keys (relative to the lake root) of the captures the last CLI build quarantined
   (unreadable by DuckDB; extractor/transform/quarantine.py), read at execution time: [] when
   none, or never checked. #}
{% macro quarantined_captures() -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {{ return(adapter.dispatch('quarantined_captures')()) }}
{%- endmacro %}

{% macro quarantine_record() -%}
  {{ return(lake_layout().quarantine ~ '/' ~ lake_layout().capture_entity ~ '.json') }}
{%- endmacro %}

{% macro duckdb__quarantined_captures() -%}
  {%- set record = lake_root() ~ '/' ~ quarantine_record() -%}
  {%- if not lake_files_exist(record) -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set result = run_query("select f.key from (select unnest(files) as f from read_json('"
      ~ record ~ "', columns={'files': 'STRUCT(key VARCHAR)[]'}))") -%}
  {{ return(result.columns[0].values() | list) }}
{%- endmacro %}

{# Spark fails on a path that does not exist and never lists a folder named `_…`, so the
   record is read through a glob of two alternatives, itself and the capture folder (which
   exists whenever this is asked), by its file name, and parsed from its bytes. #}
{% macro spark__quarantined_captures() -%}
  {%- set layout = lake_layout() -%}
  {%- set captures = layout.bronze ~ '/' ~ layout.entity_key ~ '=' ~ layout.capture_entity -%}
  {% call statement('quarantine_record') -%}
    create or replace temporary view lake_quarantine_record
    using binaryFile
    options (
        path '{{ spark_lake_root() }}/{{ '{' ~ quarantine_record() ~ ',' ~ captures ~ '}' }}',
        recursiveFileLookup 'true',
        pathGlobFilter '{{ quarantine_record().split('/')[-1] }}'
    )
  {%- endcall %}
  {%- set result = run_query(
      "select f.key from (select explode(from_json(cast(content as string), "
      ~ "'files array<struct<key: string>>').files) as f from lake_quarantine_record "
      ~ "where path like '%/" ~ quarantine_record() ~ "')"
  ) -%}
  {{ return(result.columns[0].values() | list) }}
{%- endmacro %}

{# An entity's Bronze folder under `root` (default: the lake root). #}
{% macro bronze_folder(entity, root=none) -%}
  {%- set layout = lake_layout() -%}
  {{ return((root or lake_root()) ~ '/' ~ layout.bronze ~ '/' ~ layout.entity_key ~ '=' ~ entity) }}
{%- endmacro %}

{# The extractor's watermark file of an entity. #}
{% macro watermark_file(entity) -%}
  {{ return(lake_root() ~ '/' ~ lake_layout().watermarks ~ '/' ~ entity ~ '.json') }}
{%- endmacro %}

{# How far the batch has read the events feed: the extractor's events watermark (unix
   seconds; every event created before it was listed, the reconciliation's safety window
   allowing for late ones) as a scalar expression, or a null bigint where the lake has no
   extractor state (dbt by hand on copied Bronze). Not the newest events page read: a run
   that re-reads only unchanged events writes no page but still moves the watermark (ADR
   0057), an account without events has no page at all, and a page's time is when it was
   served, after the window it covers (a backfill's pages are newer than the watermark). #}
{% macro events_read_until() -%}
  {%- set path = watermark_file('events') -%}
  {%- if lake_files_exist(path) -%}
    (select max(watermark) from {{ read_watermark(path) }})
  {%- else -%}
    cast(null as bigint)
  {%- endif -%}
{%- endmacro %}

{# A watermark file (watermark_file; one JSON document) as a relation with its `watermark`
   (unix seconds, bigint). Ask lake_files_exist first: a missing file fails on both engines. #}
{% macro read_watermark(path) -%}
  {{ return(adapter.dispatch('read_watermark')(path)) }}
{%- endmacro %}

{% macro duckdb__read_watermark(path) -%}
  read_json('{{ path }}', columns={'watermark': 'BIGINT'})
{%- endmacro %}

{# The whole (pretty-printed) document is one row of binaryFile, parsed with an explicit
   schema like Bronze. #}
{% macro spark__read_watermark(path) -%}
  (
    select from_json(cast(content as string), 'watermark bigint').watermark as watermark
    from binaryFile.`{{ spark_lake_root() ~ path[lake_root() | length:] }}`
  ) as watermark_file
{%- endmacro %}

{# The glob of an entity's Bronze files: every run's batch parts (or one run's, `run_id`),
   or for the capture entity its webhook captures (they have no runs). #}
{% macro bronze_glob(entity, run_id='*', root=none) -%}
  {%- set layout = lake_layout() -%}
  {%- set partitions = bronze_folder(entity, root) ~ '/' ~ layout.partition_key ~ '=*/' -%}
  {%- if is_capture_entity(entity) -%}
    {{ return(partitions ~ layout.capture_file) }}
  {%- endif -%}
  {{ return(partitions ~ layout.run_key ~ '=' ~ run_id ~ '/' ~ layout.part_file) }}
{%- endmacro %}

{# The envelope columns of an entity's Bronze lines, in file order, as {name, type} with a
   logical type (string, timestamp, bigint, json); captures have `_received_at` too. #}
{% macro bronze_envelope(entity) -%}
  {%- set columns = [] -%}
  {%- for column in lake_layout().envelope -%}
    {%- if is_capture_entity(entity) or not column.captures_only -%}
      {% do columns.append(column) %}
    {%- endif -%}
  {%- endfor -%}
  {{ return(columns) }}
{%- endmacro %}

{# A model's folder: a staging model `stg_stripe__<entity>` lands in Silver under its
   entity, any other model in Gold under its own name. Both engines write here. #}
{% macro lake_location(name, root) -%}
  {%- set layout = lake_layout() -%}
  {%- if name.startswith('stg_stripe__') -%}
    {{ root }}/{{ layout.silver }}/{{ layout.entity_key }}={{ name[12:] }}
  {%- else -%}
    {{ root }}/{{ layout.gold }}/{{ layout.model_key }}={{ name }}
  {%- endif -%}
{%- endmacro %}

{# The Parquet files of a model's folder (one dt= level, as both engines write them). #}
{% macro lake_table_files(name, root) -%}
  {{ lake_location(name, root) }}/{{ lake_layout().table_files }}
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
  {%- if '*' in glob_pattern or '?' in glob_pattern or '[' in glob_pattern -%}
    {%- set result = run_query("select count(*) from glob('" ~ glob_pattern ~ "')") -%}
  {%- else -%}
    {#- One file: list its folder. On S3 glob() echoes a literal path back whether or not
        the object exists (a watermark or quarantine record that was never written). -#}
    {%- set folder = glob_pattern.rsplit('/', 1)[0] -%}
    {%- set result = run_query("select count(*) from glob('" ~ folder ~ "/*') where file = '"
        ~ glob_pattern ~ "'") -%}
  {%- endif -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{# Spark fails on a glob that matches nothing, so list the Bronze tree instead (file
   names only, binaryFile reads no content for a count) and match the paths with LIKE.
   One file outside Bronze (a watermark under `_state/`, a folder Spark never lists) is
   looked for as quarantined_captures looks for its record: a glob of two alternatives,
   the file itself and the Bronze folder (which exists whenever a test asks). #}
{% macro spark__lake_files_exist(glob_pattern) -%}
  {%- set root = lake_root() -%}
  {%- set bronze = lake_layout().bronze -%}
  {%- set tail = glob_pattern[root | length:] -%}
  {%- if glob_pattern.startswith(root ~ '/' ~ bronze ~ '/') -%}
    {%- set listed = bronze -%}
  {%- elif glob_pattern.startswith(root ~ '/') and not modules.re.search('[*?\\[{]', tail) -%}
    {%- set listed = '{' ~ tail[1:] ~ ',' ~ bronze ~ '}' -%}
  {%- else -%}
    {% do exceptions.raise_compiler_error("lake_files_exist on Spark looks for a glob under Bronze or one file of the lake: " ~ glob_pattern) %}
  {%- endif -%}
  {% call statement('bronze_files') -%}
    create or replace temporary view lake_bronze_files
    using binaryFile
    options (
        path '{{ spark_lake_root() }}/{{ listed }}',
        recursiveFileLookup 'true',
        pathGlobFilter '{{ tail.split('/')[-1] }}'
    )
  {%- endcall %}
  {%- set result = run_query(
      "select count(*) from lake_bronze_files where path like '%" ~ tail.replace('*', '%') ~ "'"
  ) -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}
