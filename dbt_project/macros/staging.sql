{# Helpers every staging model shares, so the de-duplication rule lives in one place. #}

{# A unix-seconds JSON field as a UTC timestamp (null stays null). #}
{% macro unix_to_timestamp(json_path) -%}
  {{ epoch_to_timestamp(json_cast(json_path, 'bigint')) }}
{%- endmacro %}

{# The row to keep per object id: the greatest `_observed_at` wins (DESIGN §3); ties go to
   the event (it names the change), then the latest load, then the event id, so reruns
   always pick the same row. Appended to `select * from <cte>`. #}
{% macro latest_version(key) -%}
  {{ return(adapter.dispatch('latest_version')(key)) }}
{%- endmacro %}

{% macro latest_version_order(key) -%}
  row_number() over (
      partition by {{ key }}
      order by
          _observed_at desc,
          (_source = 'event') desc,
          _loaded_at desc,
          coalesce(_event_id, '') desc
  )
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
