{# Helpers every staging model shares, so the de-duplication rule lives in one place. #}

{# A unix-seconds JSON field as a UTC timestamp (null stays null). #}
{% macro unix_to_timestamp(json_path) -%}
  {{ epoch_to_timestamp(json_cast(json_path, 'bigint')) }}
{%- endmacro %}

{# The row to keep per object id: the greatest `_observed_at` wins (docs/architecture.md#correctness-model); ties go to
   the event (it names the change), then the latest load, then the event id, so reruns
   always pick the same row. Appended to `select * from <cte>`. #}
{% macro latest_version(key) -%}
  {{ return(adapter.dispatch('latest_version')(key)) }}
{%- endmacro %}

{% macro latest_version_order(key) -%}
  row_number() over ({{ versions_newest_first(key) }})
{%- endmacro %}

{# An object's versions, newest first (the de-duplication order). #}
{% macro versions_newest_first(key) -%}
      partition by {{ key }}
      order by
          _observed_at desc,
          (_source = 'event') desc,
          _loaded_at desc,
          coalesce(_event_id, '') desc
{%- endmacro %}

{# The select list of `deduped`: every column, except that each of `carry` is its newest
   non-null value across the object's versions. For links a newer API version no longer
   sends (an invoice's charge after 2025-03-31.basil) and that never change once set, so
   Silver keeps what an older version said (ADR 0051). #}
{% macro carried_columns(key, carry) -%}
  {%- if not carry -%}
    *
  {%- else -%}
    {{ adapter.dispatch('carried_columns')(key, carry) }}
  {%- endif -%}
{%- endmacro %}

{% macro duckdb__carried_columns(key, carry) -%}
    * replace (
        {%- for column in carry %}
        first_value({{ column }} ignore nulls) over (
            {{ versions_newest_first(key) }}
            rows between unbounded preceding and unbounded following
        ) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__carried_columns(key, carry) -%}
    {{ star_except(carry) }},
    {%- for column in carry %}
    first_value({{ column }}, true) over (
        {{ versions_newest_first(key) }}
        rows between unbounded preceding and unbounded following
    ) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro duckdb__latest_version(key) -%}
  qualify {{ latest_version_order(key) }} = 1
{%- endmacro %}

{# Spark has no QUALIFY; Spark 4's pipe syntax filters on the window the same way and
   drops the helper column, so the call site stays `select * from <cte> <this macro>`. #}
{% macro spark__latest_version(key) -%}
  |> extend {{ latest_version_order(key) }} as _version_rank
  |> where _version_rank = 1
  |> drop _version_rank
{%- endmacro %}

{# True when a Bronze line is a tombstone: the extractor marks `*.deleted` events'
   objects with "deleted": true. #}
{% macro is_tombstone() -%}
  (coalesce({{ json_cast('$.deleted', 'boolean') }}, false) or coalesce(_event_type like '%.deleted', false))
{%- endmacro %}

{# A whole staging model from its column list (ADR 0012): the model is
   `{% call staging_model('<entity>', '<key>') %} <typed columns of data> {% endcall %}`, and
   this writes the part every staging model shares, so fifteen entities do not mean fifteen
   copies of it. The compiled SQL keeps the named CTEs source -> renamed -> deduped -> final
   (plus with_deletion for `tombstones`), ending `select * from final`.
   - source: the entity's Bronze; only the new runs when incremental (ADR 0040). Webhook
     captures (the capture entity) are optional and always rebuilt in full.
   - renamed: the caller's columns, then the envelope columns the de-duplication orders by.
   - with_deletion (`tombstones`): any tombstone marks the object deleted, for good.
   - deduped: one row per `key`, the latest version (latest_version); incremental builds
     merge the object's Silver row in first (silver_versions). Columns in `carry` keep their
     newest non-null value across versions (carried_columns).
   - final: without the load-only tie-breaks, plus `dt` (the created date). `_source` stays
     for the incremental merge; captures, never merged, drop it too. #}
{% macro staging_model(entity, key, tombstones=false, carry=[]) -%}
  {%- set captures = is_capture_entity(entity) -%}
  {%- set incremental = false if captures else silver_is_incremental() -%}
  {%- set columns = caller() | trim -%}
  {%- if tombstones -%}
    {%- set columns = columns ~ ",\n        " ~ is_tombstone() ~ " as is_tombstone,\n        case when "
        ~ is_tombstone() ~ " then _observed_at end as tombstone_epoch" -%}
  {%- endif -%}
  {%- set members = bronze_members_in(columns) -%}
  {%- set relation = source('stripe', entity) -%}
  {%- set dropped = (['_source'] if captures else []) + ['_loaded_at', '_event_id'] -%}
  {%- if tombstones -%}
    {%- set dropped = dropped + ['is_tombstone', 'tombstone_epoch', 'deleted_epoch'] -%}
  {%- endif -%}
with source as (

    {#- An entity with no Bronze yet (never used, nothing captured) reads as no rows. #}
    select * from {{ bronze_for_model(relation, incremental, members) }}

),

renamed as (

    select
        {{ columns }},
        _observed_at,
        _source,
        _loaded_at,
        _event_id
    from source

),
{%- if tombstones %}

with_deletion as (

    -- Deletion is final in Stripe: any tombstone marks the object deleted, even if a list
    -- read observed later than the event (eventual consistency) still showed it.
    select
        *,
        bool_or(is_tombstone) over (partition by {{ key }}) as is_deleted,
        min(tombstone_epoch) over (partition by {{ key }}) as deleted_epoch
    {#- Incremental (ADR 0040): a Silver row stands for all earlier versions, its deletion
        (is_deleted, deleted_at) for their tombstones, so "any tombstone, the first one's
        time" still covers the object's whole history. #}
    from {% call silver_versions('renamed', incremental) -%}
        * exclude (is_deleted, deleted_at, dt),
        is_deleted as is_tombstone,
        cast({{ epoch_seconds('deleted_at') }} as bigint) as tombstone_epoch
    {%- endcall %}

),
{%- endif %}

deduped as (

    select {{ carried_columns(key, carry) }}
    from {{ 'with_deletion' if tombstones else silver_versions('renamed', incremental) }}
    {{ latest_version(key) }}

),

final as (

    select
        {%- if not captures %}
        -- `_source` stays: an incremental merge needs it (ADR 0040).
        {%- endif %}
        {{ star_except(dropped) }},
        {%- if tombstones %}
        {{ epoch_to_timestamp('deleted_epoch') }} as deleted_at,
        {%- endif %}
        cast(created_at as date) as dt
    from deduped

)

select * from final
{%- endmacro %}

{# The columns of a Stripe event, shared by the batch feed (stg_stripe__events) and the
   webhook captures (stg_stripe__webhook_events): rpt_webhook_reconciliation joins the two
   on event_id and compares object_digest, so both must compute them the same way. #}
{% macro stripe_event_columns() -%}
        {{ json_text('$.id') }} as event_id,
        {{ json_text('$.type') }} as event_type,
        {{ json_text('$.api_version') }} as api_version,
        {{ json_text('$.data.object.id') }} as object_id,
        {{ json_text('$.data.object.object') }} as object_type,
        {{ json_text('$.data.object.status') }} as object_status,
        -- md5 of the object as the engine's JSON writer minifies it, so whitespace in a
        -- webhook delivery does not matter.
        {{ json_digest('$.data.object') }} as object_digest
{%- endmacro %}
