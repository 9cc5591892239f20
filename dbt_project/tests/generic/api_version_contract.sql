{# The API version contract (var stripe_api_versions; docs/architecture.md#api-versions) on
   one Bronze source. Stops the build with a message naming what and where when
   - a line is rendered in an API version the contract does not name (the object or event id,
     its run and source), or
   - a field that version always carries is missing from every object of one batch (one run's
     lines in one version): the staging models would read it as null and build "successfully".
   A line's version is its envelope `_api_version`, else (events, webhook captures written
   before the envelope had it) the event's own `api_version`; a line with neither is older
   than the contract and not judged. An incremental build checks only the runs it folds.
   The failure is raised as an error so the message itself reaches the gate's output. #}
{% test api_version_contract(model) %}
{%- set entity = model.identifier -%}
{%- set contract = var('stripe_api_versions') -%}
{%- set run_ids = bronze_run_ids() -%}
{%- set fields = [] -%}
{%- for key, entities in contract.items() -%}
  {%- for field in entities.get(entity, []) if field not in fields -%}
    {%- do fields.append(field) -%}
  {%- endfor -%}
{%- endfor -%}
with lines as (

    select
        _run_id,
        _source,
        _event_id,
        coalesce(_api_version, {{ contract_json_text('$.api_version') }}) as api_version,
        {{ contract_json_text('$.id') }} as line_id,
        {{ contract_json_keys() }} as present
    from {{ bronze_runs(entity, run_ids, []) if run_ids else bronze(model, []) }}

),

versioned as {{ contract_materialized() }} (

    select
        *,
        case
            when api_version like '%.%' then {{ contract_release('api_version') }}
            else api_version
        end as contract_key
    from lines
    where api_version is not null

),

unsupported as (

    select
        '{{ entity }}: API version ' || api_version || ' is not one this pipeline reads (supported: '
            || '{{ contract.keys() | join(", ") }}; a release name covers any YYYY-MM-DD.<release>): '
            || coalesce(line_id, '?') || ' from ' || coalesce(_source, '?')
            || coalesce(' event ' || _event_id, '') || ' in run ' || coalesce(_run_id, '(webhook)')
            || '. See docs/runbook.md.' as problem
    from versioned
    where contract_key not in ('{{ contract.keys() | join("', '") }}')

),
{%- if fields %}

batches as {{ contract_materialized() }} (

    select
        contract_key,
        api_version,
        _run_id,
        count(*) as objects
        {%- for field in fields %},
        bool_or({{ contract_has('present', field) }}) as has_{{ field }}
        {%- endfor %}
    from versioned
    group by contract_key, api_version, _run_id

),

missing as (
    {{ contract_missing(entity, contract) }}
),
{%- endif %}

problems as (

    select problem from unsupported
    {%- if fields %}
    union all
    select problem from missing
    {%- endif %}

)

-- The error's text is the first problem; filtering on it makes the engine evaluate it.
select problem from problems where {{ contract_raise('problem') }} is null
{% endtest %}
