{#- Every distinct object id in Bronze has exactly one Silver row, and every Silver row its
    Gold row. Returns one row per layer pair whose counts differ. -#}
{%- set layers = [
    ('customers', 'stg_stripe__customers', 'dim_customers'),
    ('charges', 'stg_stripe__charges', 'fct_payments'),
    ('payment_intents', 'stg_stripe__payment_intents', none),
    ('invoices', 'stg_stripe__invoices', 'fct_invoices'),
    ('events', 'stg_stripe__events', none),
] -%}

with counts as (

    {% for entity, silver, gold in layers %}
    select
        '{{ entity }}' as entity,
        (select count(distinct data ->> '$.id') from {{ source('stripe', entity) }}) as bronze_ids,
        (select count(*) from {{ ref(silver) }}) as silver_rows,
        {% if gold -%}
        (select count(*) from {{ ref(gold) }})
        {%- else -%}
        (select count(*) from {{ ref(silver) }})
        {%- endif %} as gold_rows
    {{ 'union all' if not loop.last }}
    {% endfor %}

)

select *
from counts
where bronze_ids != silver_rows
    or silver_rows != gold_rows
