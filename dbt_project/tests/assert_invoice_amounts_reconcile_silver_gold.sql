{#- Per currency and status, invoice counts and amounts in Silver equal fct_invoices.
    Returns the groups that differ. -#}

with silver as (

    select
        currency,
        status,
        count(*) as invoices,
        sum(amount_due_minor) as due_minor,
        sum(amount_paid_minor) as paid_minor,
        sum(amount_remaining_minor) as remaining_minor
    from {{ ref('stg_stripe__invoices') }}
    group by 1, 2

),

gold as (

    select
        currency,
        status,
        count(*) as invoices,
        sum(amount_due_minor) as due_minor,
        sum(amount_paid_minor) as paid_minor,
        sum(amount_remaining_minor) as remaining_minor
    from {{ ref('fct_invoices') }}
    group by 1, 2

)

select
    coalesce(silver.currency, gold.currency) as currency,
    coalesce(silver.status, gold.status) as status,
    silver.invoices as silver_invoices,
    gold.invoices as gold_invoices,
    silver.due_minor as silver_due_minor,
    gold.due_minor as gold_due_minor,
    silver.paid_minor as silver_paid_minor,
    gold.paid_minor as gold_paid_minor
from silver
full outer join gold
    on silver.currency = gold.currency
    and silver.status = gold.status
where silver.invoices is distinct from gold.invoices
    or silver.due_minor is distinct from gold.due_minor
    or silver.paid_minor is distinct from gold.paid_minor
    or silver.remaining_minor is distinct from gold.remaining_minor
