{# Engine differences of the api_version_contract test (dbt_project/tests/generic/). #}

{% macro contract_materialized() -%}
  {{ return(adapter.dispatch('contract_materialized')()) }}
{%- endmacro %}
{% macro duckdb__contract_materialized() -%} materialized {%- endmacro %}
{% macro spark__contract_materialized() -%} {%- endmacro %}

{# `data` read as whole JSON (members=[]): its text at a path, its top-level keys. #}
{% macro contract_json_text(path) -%}
  {{ return(adapter.dispatch('contract_json_text')(path)) }}
{%- endmacro %}
{% macro duckdb__contract_json_text(path) -%} json_extract_string(data, '{{ path }}') {%- endmacro %}
{% macro spark__contract_json_text(path) -%} get_json_object(data, '{{ path }}') {%- endmacro %}

{% macro contract_json_keys() -%}
  {{ return(adapter.dispatch('contract_json_keys')()) }}
{%- endmacro %}
{% macro duckdb__contract_json_keys() -%} json_keys(data) {%- endmacro %}
{% macro spark__contract_json_keys() -%} json_object_keys(data) {%- endmacro %}

{% macro contract_has(keys, field) -%}
  {{ return(adapter.dispatch('contract_has')(keys, field)) }}
{%- endmacro %}
{% macro duckdb__contract_has(keys, field) -%} list_contains({{ keys }}, '{{ field }}') {%- endmacro %}
{% macro spark__contract_has(keys, field) -%} array_contains({{ keys }}, '{{ field }}') {%- endmacro %}

{% macro contract_release(column) -%}
  {{ return(adapter.dispatch('contract_release')(column)) }}
{%- endmacro %}
{% macro duckdb__contract_release(column) -%} split_part({{ column }}, '.', 2) {%- endmacro %}
{% macro spark__contract_release(column) -%} split_part({{ column }}, '.', 2) {%- endmacro %}

{% macro contract_raise(message) -%}
  {{ return(adapter.dispatch('contract_raise')(message)) }}
{%- endmacro %}
{% macro duckdb__contract_raise(message) -%} error({{ message }}) {%- endmacro %}
{% macro spark__contract_raise(message) -%} raise_error({{ message }}) {%- endmacro %}

{# The `missing` rows of the contract test: per batch (in `batches`, with a has_<field> column
   per field) and field its version always carries, a problem when no object of the batch
   has it. DuckDB: one select per version and field. On Spark that union's cost followed its
   number of branches (204 s for the 16 contract tests on the demo lake, docs/spark.md), so
   Spark checks every (version, field) rule of a batch in one pass instead (47 s): the same
   rows. #}
{% macro contract_missing(entity, contract) -%}
  {{ return(adapter.dispatch('contract_missing')(entity, contract)) }}
{%- endmacro %}

{% macro duckdb__contract_missing(entity, contract) -%}
    {%- for key, entities in contract.items() %}
    {%- for field in entities.get(entity, []) %}
    select
        '{{ entity }}: field {{ field }} is missing from all ' || cast(objects as {{ dbt.type_string() }})
            || ' objects of run ' || coalesce(_run_id, '(webhook)') || ' in API version ' || api_version
            || ', which always carries it (docs/architecture.md#api-versions). See docs/runbook.md.'
            as problem
    from batches
    where contract_key = '{{ key }}' and not has_{{ field }}
    union all
    {%- endfor %}
    {%- endfor %}
    select cast(null as {{ dbt.type_string() }}) as problem from batches where false
{%- endmacro %}

{% macro spark__contract_missing(entity, contract) -%}
  {%- set rules = [] -%}
  {%- for key, entities in contract.items() -%}
    {%- for field in entities.get(entity, []) -%}
      {%- do rules.append("named_struct('contract_key', '" ~ key ~ "', 'field', '" ~ field ~ "', 'present', has_" ~ field ~ ")") -%}
    {%- endfor -%}
  {%- endfor %}
    select
        '{{ entity }}: field ' || rule.field || ' is missing from all ' || cast(objects as {{ dbt.type_string() }})
            || ' objects of run ' || coalesce(_run_id, '(webhook)') || ' in API version ' || api_version
            || ', which always carries it (docs/architecture.md#api-versions). See docs/runbook.md.'
            as problem
    from batches
    lateral view explode(array(
        {{ rules | join(',\n        ') }}
    )) contract_rules as rule
    where rule.contract_key = batches.contract_key and not rule.present
{%- endmacro %}
