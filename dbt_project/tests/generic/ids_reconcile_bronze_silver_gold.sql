{#- Declared on a batch staging model's id column (`_stripe__models.yml`), so each entity
    brings its own check and no list of entities is kept by hand: every distinct object id
    in the entity's Bronze has exactly one Silver row, and every Silver row its Gold row
    (`gold`: the Gold model with one row per Silver row, when there is one). Returns a row
    when the counts differ.
    Incremental builds (var bronze_run_ids, ADR 0040) check the new runs' Bronze only: every
    id in them has its one Silver and Gold row, and Silver and Gold as a whole still match
    row for row. Earlier runs were checked when they were folded in, and reading all of
    Bronze again is what incremental builds avoid. -#}
{% test ids_reconcile_bronze_silver_gold(model, column_name, gold=none) %}
{#- The entity from the staging model's name (stg_stripe__<entity>, as lake_location); its
    Bronze through the same reader as the model. Only known at execution: at parse time
    `model` is not the model yet. -#}
{%- set entity = model.identifier[12:] -%}
{%- set bronze_source = api.Relation.create(identifier=entity) -%}
{%- set gold_relation = gold if gold is not none else model -%}
{%- set run_ids = bronze_run_ids() -%}

with
{%- if run_ids is none %}

counts as (

    select
        '{{ entity }}' as entity,
        (
            select count(distinct {{ json_text('$.id') }})
            from {{ bronze(bronze_source, ['id']) }}
        ) as bronze_ids,
        (select count(*) from {{ model }}) as silver_rows,
        (select count(*) from {{ gold_relation }}) as gold_rows

)
{%- else %}

new_ids as (

    select distinct {{ json_text('$.id') }} as id
    from {{ bronze_runs(entity, run_ids, ['id']) }}
    where {{ json_text('$.id') }} is not null

),

counts as (

    select
        '{{ entity }} (new runs)' as entity,
        (select count(*) from new_ids) as bronze_ids,
        (
            select count(*) from {{ model }}
            where {{ column_name }} in (select id from new_ids)
        ) as silver_rows,
        (
            select count(*) from {{ gold_relation }}
            where {{ column_name }} in (select id from new_ids)
        ) as gold_rows
    union all
    -- Silver and Gold as a whole still match row for row.
    select
        '{{ entity }} (all)' as entity,
        (select count(*) from {{ model }}) as bronze_ids,
        (select count(*) from {{ model }}) as silver_rows,
        (select count(*) from {{ gold_relation }}) as gold_rows

)
{%- endif %}

select *
from counts
where bronze_ids != silver_rows
    or silver_rows != gold_rows

{% endtest %}
