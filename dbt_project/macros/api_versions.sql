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
