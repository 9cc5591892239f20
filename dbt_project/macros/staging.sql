{# Helpers every staging model shares, so the de-duplication rule lives in one place. #}

{# A unix-seconds JSON field as a UTC timestamp (null stays null). #}
{% macro unix_to_timestamp(json_path) -%}
  cast(to_timestamp(cast(data -> '{{ json_path }}' as bigint)) at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{# The row to keep per object id: the greatest `_observed_at` wins (DESIGN §3); ties go to
   the event (it names the change), then the latest load, then the event id, so reruns
   always pick the same row. #}
{% macro latest_version(key) -%}
  qualify row_number() over (
      partition by {{ key }}
      order by
          _observed_at desc,
          (_source = 'event') desc,
          _loaded_at desc,
          coalesce(_event_id, '') desc
  ) = 1
{%- endmacro %}

{# True when a Bronze line is a tombstone: the extractor marks `*.deleted` events'
   objects with "deleted": true. #}
{% macro is_tombstone() -%}
  (coalesce(cast(data -> '$.deleted' as boolean), false) or coalesce(_event_type like '%.deleted', false))
{%- endmacro %}
