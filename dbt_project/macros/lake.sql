{# Where a layer's Parquet lives in the lake (DESIGN §3). #}
{% macro lake_root() -%}
  {{ env_var('LAKE_ROOT', './_local_data') | replace('\\', '/') }}
{%- endmacro %}

{% macro silver_location(entity) -%}
  {{ lake_root() }}/silver/source=stripe/entity={{ entity }}
{%- endmacro %}

{% macro gold_location(model) -%}
  {{ lake_root() }}/gold/model={{ model }}
{%- endmacro %}

{# Options for a dt-partitioned write that rewrites only the partitions its rows fall in. #}
{% macro dt_partitioned() -%}
  {{ return({'partition_by': 'dt', 'overwrite_or_ignore': 'true'}) }}
{%- endmacro %}
