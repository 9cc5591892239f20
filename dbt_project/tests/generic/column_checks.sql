{#
  A model's column checks in one dbt node (ADR 0060, extending ADR 0055): dbt's own work per
  test node (~50-80 ms) is ten times the query, so one node per model, not one per column.
  - not_null: columns that must hold no null. One scan counts the nulls of all of them.
  - unique: keys that must not repeat. A key is one column (nulls are left out, as dbt's
    `unique` does: not_null says whether they are allowed) or a list of columns, one
    composite key (every row counts, a null grouped like a value, as the project's former
    `unique_combination_of_columns` did).
  It returns one row per failing check: `column_name` (a composite key's columns joined by
  ', '), `failed_check` ('null' or 'duplicate') and `failing_values`: the number of null
  values, or the number of key values that occur more than once (what dbt's `unique` counts).
  `fail_calc` sums `failing_values`, so "Got N results" is that total.
  Portable SQL for Spark too: `case` instead of FILTER, group by/having instead of
  count(distinct) over a tuple, every derived table aliased.
#}
{% test column_checks(model, not_null=[], unique=[]) %}
{{ config(fail_calc='coalesce(sum(failing_values), 0)') }}
{%- set checks = [] %}

{%- if not_null %}
{%- set null_counts %}
    select
    {%- for column in not_null %}
        sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
{%- endset %}
{%- for column in not_null %}
{%- set nulls %}
select '{{ column }}' as column_name, 'null' as failed_check, nulls_{{ loop.index }} as failing_values
from null_counts
where nulls_{{ loop.index }} > 0
{%- endset %}
{%- do checks.append(nulls) %}
{%- endfor %}
{%- endif %}

{%- for key in unique %}
{%- set key_columns = [key] if key is string else key %}
{%- set key_list = key_columns | join(', ') %}
{%- set duplicates %}
select '{{ key_list }}' as column_name, 'duplicate' as failed_check, failing_values
from (
    select count(*) as failing_values
    from (
        select {{ key_list }}
        from {{ model }}
        {%- if key is string %}
        where {{ key }} is not null
        {%- endif %}
        group by {{ key_list }}
        having count(*) > 1
    ) duplicated_keys_{{ loop.index }}
) duplicates_{{ loop.index }}
where failing_values > 0
{%- endset %}
{%- do checks.append(duplicates) %}
{%- endfor %}

{%- if not checks %}
{{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": give not_null or unique columns") }}
{%- endif %}

{%- if not_null %}
with null_counts as (
{{ null_counts }}
)
{%- endif %}
{{ checks | join("\nunion all\n") }}

{% endtest %}
