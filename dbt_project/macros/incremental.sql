{# Incremental Silver (ADR 0040). With the var `bronze_run_ids` (a list of Bronze run ids, or
   a comma-separated string) a staging model reads only those runs' Bronze parts, merges
   them with the existing Silver rows of the dt partitions they touch, de-duplicates with the
   same latest_version rule and writes only those partitions. The merge is exact because
   "keep the greatest version" is associative: the Silver row is the winner of every earlier
   version, so winner(old rows + new rows) = winner(Silver row + new rows). Folding a run
   twice is therefore a no-op. Silver keeps `_observed_at` and `_source`, the first two
   tie-breaks; see silver_row_tie_break for the others. Without the var, on Spark, or when the model has no Silver
   yet, the model is today's full rebuild from all of Bronze. #}

{# The run ids to fold in, or none for a full rebuild. The CLI passes them in the environment
   (PIPELINE_BRONZE_RUN_IDS, a JSON list): read only at execution time, they never reach
   dbt's parse, so partial parsing survives; a changed `--vars` forces a full reparse on
   every run (about 8 s on a loaded 2-core machine). By hand, `--vars
   '{bronze_run_ids: [...]}'` (a list or a comma-separated string) does the same. Spark
   ignores both and rebuilds fully (the same result, ADR 0040); the CLI never passes them. #}
{% macro bronze_run_ids() -%}
  {%- if not execute or target.type != 'duckdb' -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set ids = var('bronze_run_ids', none) -%}
  {%- if ids is none -%}
    {%- set raw = env_var('PIPELINE_BRONZE_RUN_IDS', '') -%}
    {%- if not raw -%}
      {{ return(none) }}
    {%- endif -%}
    {%- set ids = fromjson(raw) -%}
  {%- endif -%}
  {{ return(checked_run_ids(ids, 'bronze_run_ids')) }}
{%- endmacro %}

{# Run ids given as a list or a comma-separated string, trimmed, blanks dropped; anything not
   shaped like a run id stops the build (it ends up in a path glob). `origin` names where
   they came from in the error. #}
{% macro checked_run_ids(ids, origin) -%}
  {%- if ids is string -%}
    {%- set ids = ids.split(',') -%}
  {%- endif -%}
  {%- set cleaned = [] -%}
  {%- for run_id in ids -%}
    {%- set run_id = run_id | string | trim -%}
    {%- if run_id -%}
      {%- if not modules.re.fullmatch(run_id_pattern(), run_id) -%}
        {% do exceptions.raise_compiler_error(origin ~ ": not a run id: " ~ run_id) %}
      {%- endif -%}
      {% do cleaned.append(run_id) %}
    {%- endif -%}
  {%- endfor -%}
  {{ return(cleaned) }}
{%- endmacro %}

{# A staging model's Silver Parquet files. #}
{% macro silver_files(model_name) -%}
  {{ lake_table_files(model_name, lake_root()) }}
{%- endmacro %}

{# True when this staging model folds new runs into existing Silver (at parse time the
   answer does not matter: both branches read the same source and refs). A unit test (no
   `this`) always runs the full model over its given rows. #}
{% macro silver_is_incremental() -%}
  {%- if this is none or bronze_run_ids() is none -%}
    {{ return(false) }}
  {%- endif -%}
  {{ return(lake_files_exist(silver_files(this.identifier))) }}
{%- endmacro %}

{# The globs of the given runs' Bronze parts of one entity, leaving out runs that wrote no
   part for it (read_json fails on a glob that matches nothing). One query for all runs. #}
{% macro bronze_run_globs(entity, run_ids) -%}
  {%- set globs = [] -%}
  {%- for run_id in run_ids -%}
    {% do globs.append(bronze_glob(entity, run_id)) %}
  {%- endfor -%}
  {%- set found = [] -%}
  {%- if globs and execute -%}
    {%- set counts = [] -%}
    {%- for pattern in globs -%}
      {% do counts.append("select " ~ loop.index0 ~ " as i, count(*) as n from glob('" ~ pattern ~ "')") %}
    {%- endfor -%}
    {%- set result = run_query(counts | join(' union all ')) -%}
    {%- for row in result.rows -%}
      {%- if row[1] > 0 -%}
        {% do found.append(globs[row[0]]) %}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}

{# Only the given runs' Bronze parts of one entity, as a relation with the source's columns
   (empty when none of the runs wrote a part for it). `members` as for bronze(). #}
{% macro bronze_runs(entity, run_ids, members=none) -%}
  {%- set found = bronze_run_globs(entity, run_ids) -%}
  (
    {% if found -%}
    select *
    from {{ duckdb__bronze_reader(entity, found, bronze_object_members() if members is none else members) }}
    {%- else -%}
    {{ bronze_placeholder(entity, members) }}
    {%- endif %}
  ) as bronze_{{ entity }}_new
{%- endmacro %}

{# Per entity, the Bronze runs holding its newest lines, from the CLI (environment
   PIPELINE_FRESHNESS_RUN_IDS, a JSON object of entity -> run ids, read at execution time
   like bronze_run_ids; extractor/transform/fold.py newest_runs, ADR 0057); none when it is
   not set (dbt by hand) or on Spark. #}
{% macro freshness_run_ids(entity) -%}
  {%- if not execute or target.type != 'duckdb' -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set raw = env_var('PIPELINE_FRESHNESS_RUN_IDS', '') -%}
  {%- set ids = fromjson(raw).get(entity) if raw else none -%}
  {{ return(none if ids is none else checked_run_ids(ids, 'PIPELINE_FRESHNESS_RUN_IDS')) }}
{%- endmacro %}

{# The sources' freshness query (`loaded_at_query`): the newest `_loaded_at`. Only the runs
   that hold an entity's newest lines are read (freshness_run_ids; by hand, the runs a
   `bronze_run_ids` var names); an entity with none of them (a full build by hand, or Spark)
   reads all its Bronze. #}
{% macro bronze_loaded_at() -%}
  {%- set run_ids = freshness_run_ids(source_node.name) -%}
  {%- if run_ids is none -%}
    {%- set run_ids = bronze_run_ids() -%}
  {%- endif -%}
  {%- set found = bronze_run_globs(source_node.name, run_ids) if run_ids else [] -%}
  {%- if found -%}
    select max(_loaded_at) from {{ bronze_runs(source_node.name, run_ids) }}
  {%- elif not bronze_is_empty(this) -%}
    select max(_loaded_at) from {{ bronze(this) }}
  {%- elif lake_files_exist(watermark_file(source_node.name)) -%}
    {#- No object of the entity yet (an account that does not use it): it is as fresh as the
        last run that confirmed so, the watermark's updated_at. #}
    select max(strptime(updated_at, '%Y-%m-%dT%H:%M:%SZ'))
    from read_json('{{ watermark_file(source_node.name) }}', columns={'updated_at': 'VARCHAR'})
  {%- else -%}
    {#- Never extracted: no time at all, which freshness reports as an error. #}
    select cast(null as timestamp)
  {%- endif -%}
{%- endmacro %}

{# What a staging model reads from Bronze: the new runs only when it is incremental, else
   the whole source. `source()` is called in both cases so dbt records the dependency. #}
{% macro bronze_for_model(source_relation, incremental, members=none) -%}
  {%- if incremental -%}
    {{ bronze_runs(source_relation.identifier, bronze_run_ids(), members) }}
  {%- else -%}
    {{ bronze(source_relation, members) }}
  {%- endif -%}
{%- endmacro %}

{# The last two tie-breaks (`_loaded_at`, `_event_id`) for an existing Silver row. They are
   not kept in Silver: `_loaded_at` is wall-clock time, so a re-fetched identical copy would
   change Silver's content on every rerun (docs/architecture.md#correctness-model). They only decide between versions
   with the same `_observed_at` and `_source`, and the runs being folded were loaded after
   every run already in Silver (one run at a time per lake), so "the latest load wins" means
   "the new copy wins": an existing row gets the earliest possible load time. #}
{% macro silver_row_tie_break() -%}
  cast('0001-01-01' as timestamp) as _loaded_at,
  cast(null as varchar) as _event_id
{%- endmacro %}

{# This model's existing Silver rows in the dt partitions that the new rows (`new_cte`, whose
   `date_column` gives the partition) fall in. The newest existing partition is always
   included: dbt-duckdb's external materialization writes a placeholder row and narrows its
   view when a model returns no rows, so an incremental build must never be empty. Reading
   the model's own Parquet here is safe: the materialization first creates a table from this
   SELECT, then COPYs it over the folders. #}
{% macro silver_existing_rows(new_cte, date_column='created_at') -%}
  {%- set files = "read_parquet('" ~ silver_files(this.identifier)
      ~ "', hive_partitioning = false, union_by_name = false)" -%}
    select *
    from {{ files }}
    where dt in (select distinct cast({{ date_column }} as date) from {{ new_cte }})
        or dt = (select max(dt) from {{ files }})
{%- endmacro %}

{# What a staging model de-duplicates: the new rows (`new_cte`) alone in a full build; in an
   incremental one, those rows and the Silver row of every object in the partitions they
   touch (its columns `* exclude (dt)`, or what a call block gives), so the same rule picks
   the winner. #}
{% macro silver_versions(new_cte, incremental) -%}
  {%- if not incremental -%}
    {{ new_cte }}
  {%- else -%}
  (
    select * from {{ new_cte }}
    union all by name
    select
        {{ caller() if caller is defined else '* exclude (dt)' }},
        {{ silver_row_tie_break() }}
    from ({{ silver_existing_rows(new_cte) }})
  ) as silver_versions
  {%- endif -%}
{%- endmacro %}
