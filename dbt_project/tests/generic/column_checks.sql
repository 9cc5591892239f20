{#
  A model's column checks in one dbt node (ADR 0060, extending ADR 0055): dbt's own work per
  test node (~50-80 ms) is ten times the query, so one node per model, not one per column.
  - not_null: columns that must hold no null. One scan counts the nulls of all of them.
  - unique: keys that must not repeat. A key is one column (nulls are left out, as dbt's
    `unique` does: not_null says whether they are allowed) or a list of columns, one
    composite key (every row counts, a null grouped like a value, as the project's former
    `unique_combination_of_columns` did).
  - accepted_values: {column: [values]}, as dbt's `accepted_values`: each distinct non-null
    value not in the list fails once (a null passes: `null not in (...)` is not true). A
    string value is quoted, a number or a boolean is not (dbt's `quote: false`).
  - expressions: [sql], as the project's `expression_is_true`: each row where the expression
    is not true fails, a null result included.
  The per-row checks (nulls, distinct unexpected values, rows not true) share one scan.
  It returns one row per failing check: `column_name` (a composite key's columns joined by
  ', ', an expression's text on one line), `failed_check` ('null', 'duplicate', 'not_accepted' or
  'not_true') and `failing_values`: the number of null values, of key values that occur more
  than once (what dbt's `unique` counts), of distinct values not accepted (what dbt's
  `accepted_values` counts) or of rows where the expression is not true.
  `fail_calc` sums `failing_values`, so "Got N results" is that total.
  Portable SQL for Spark too: `case` instead of FILTER, group by/having instead of
  count(distinct) over a tuple, every derived table aliased, the expression's text quoted by
  the adapter's `escape_single_quotes`.
#}
{% test column_checks(model, not_null=[], unique=[], accepted_values={}, expressions=[]) %}
{{ config(fail_calc='coalesce(sum(failing_values), 0)') }}
{#- A bare string would be read letter by letter as columns (`not_null: id` checks i and d). #}
{%- for name, argument in [("not_null", not_null), ("unique", unique), ("expressions", expressions)] %}
{%- if argument is string %}
{{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": " ~ name ~ " must be a list, not '" ~ argument ~ "'") }}
{%- endif %}
{%- endfor %}
{%- if accepted_values is not mapping %}
{{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": accepted_values must map columns to lists of values") }}
{%- endif %}
{%- for column, values in accepted_values.items() %}
{%- if values is string or values is not iterable %}
{{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": accepted_values of " ~ column ~ " must be a list, not '" ~ values ~ "'") }}
{%- endif %}
{%- for value in values %}
{#- Quoted when a string, as-is when a number or a boolean: anything else (an unquoted YAML
    date) would be spelled wrong, so it is refused. #}
{%- if value is not string and value is not number and value not in (true, false) %}
{{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": accepted value '" ~ value ~ "' of " ~ column ~ " must be a string, a number or a boolean (quote it)") }}
{%- endif %}
{%- endfor %}
{%- endfor %}
{%- set checks = [] %}
{%- set counts = [] %}

{%- for column in not_null %}
{%- do counts.append("sum(case when " ~ column ~ " is null then 1 else 0 end) as nulls_" ~ loop.index) %}
{%- set nulls %}
select '{{ column }}' as column_name, 'null' as failed_check, nulls_{{ loop.index }} as failing_values
from row_counts
where nulls_{{ loop.index }} > 0
{%- endset %}
{%- do checks.append(nulls) %}
{%- endfor %}

{%- for column, values in accepted_values.items() %}
{%- set value_list = [] %}
{%- for value in values %}
{%- do value_list.append("'" ~ dbt.escape_single_quotes(value) ~ "'" if value is string else value | string) %}
{%- endfor %}
{%- do counts.append(
    "count(distinct case when " ~ column ~ " not in (" ~ value_list | join(", ")
    ~ ") then " ~ column ~ " end) as not_accepted_" ~ loop.index) %}
{%- set not_accepted %}
select '{{ column }}' as column_name, 'not_accepted' as failed_check, not_accepted_{{ loop.index }} as failing_values
from row_counts
where not_accepted_{{ loop.index }} > 0
{%- endset %}
{%- do checks.append(not_accepted) %}
{%- endfor %}

{%- for expression in expressions %}
{#- `case when` takes a null condition as not true: the row fails, as in expression_is_true. #}
{%- do counts.append("sum(case when (" ~ expression ~ ") then 0 else 1 end) as not_true_" ~ loop.index) %}
{%- set not_true %}
select '{{ dbt.escape_single_quotes(expression.split() | join(' ')) }}' as column_name, 'not_true' as failed_check, not_true_{{ loop.index }} as failing_values
from row_counts
where not_true_{{ loop.index }} > 0
{%- endset %}
{%- do checks.append(not_true) %}
{%- endfor %}

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
{{ exceptions.raise_compiler_error("column_checks on " ~ model ~ ": give not_null, unique, accepted_values or expressions") }}
{%- endif %}

{%- if counts %}
with row_counts as (
    select
        {{ counts | join(",\n        ") }}
    from {{ model }}
)
{%- endif %}
{{ checks | join("\nunion all\n") }}

{% endtest %}
