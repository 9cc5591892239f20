{#- Every distinct object id in Bronze has exactly one Silver row, and every Silver row its
    Gold row. Returns one row per layer pair whose counts differ.
    Incremental builds (var bronze_run_ids, ADR 0040) check the new runs' Bronze only: every
    id in them has its one Silver and Gold row. Earlier runs were checked when they were
    folded in, and reading all of Bronze again is what incremental builds avoid. -#}
{%- set layers = [
    ('customers', 'customer_id', 'stg_stripe__customers', 'dim_customers'),
    ('charges', 'charge_id', 'stg_stripe__charges', 'fct_payments'),
    ('payment_intents', 'payment_intent_id', 'stg_stripe__payment_intents', none),
    ('invoices', 'invoice_id', 'stg_stripe__invoices', 'fct_invoices'),
    ('events', 'event_id', 'stg_stripe__events', none),
] -%}
{%- set run_ids = bronze_run_ids() -%}

with
{%- if run_ids is not none %}
{% for entity, key, silver, gold in layers %}
new_ids_{{ entity }} as (

    select distinct {{ json_text('$.id') }} as id
    from {{ bronze_runs(entity, run_ids) }}
    where {{ json_text('$.id') }} is not null

),
{% endfor %}
{%- endif %}

counts as (

    {% for entity, key, silver, gold in layers %}
    {%- set gold_relation = ref(gold) if gold else ref(silver) -%}
    {%- if run_ids is none %}
    select
        '{{ entity }}' as entity,
        (select count(distinct {{ json_text('$.id') }}) from {{ bronze(source('stripe', entity)) }}) as bronze_ids,
        (select count(*) from {{ ref(silver) }}) as silver_rows,
        (select count(*) from {{ gold_relation }}) as gold_rows
    {%- else %}
    select
        '{{ entity }} (new runs)' as entity,
        (select count(*) from new_ids_{{ entity }}) as bronze_ids,
        (
            select count(*) from {{ ref(silver) }}
            where {{ key }} in (select id from new_ids_{{ entity }})
        ) as silver_rows,
        (
            select count(*) from {{ gold_relation }}
            where {{ key }} in (select id from new_ids_{{ entity }})
        ) as gold_rows
    union all
    -- Silver and Gold as a whole still match row for row.
    select
        '{{ entity }} (all)' as entity,
        (select count(*) from {{ ref(silver) }}) as bronze_ids,
        (select count(*) from {{ ref(silver) }}) as silver_rows,
        (select count(*) from {{ gold_relation }}) as gold_rows
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {% endfor %}

)

select *
from counts
where bronze_ids != silver_rows
    or silver_rows != gold_rows
