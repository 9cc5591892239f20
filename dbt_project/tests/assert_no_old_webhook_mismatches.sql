{#- time_dependent: a run with nothing new still runs it (ADR 0054), its answer moves
    with the clock. -#}
{{ config(severity='warn', tags=['time_dependent']) }}

{#- Warns with every event the two paths still disagree on after
    `webhook_mismatch_warn_after_hours`, counted only while the receiver was listening. -#}

select *
from {{ ref('rpt_webhook_reconciliation') }}
where reconciliation_status in ('missing_webhook', 'missing_in_batch', 'state_mismatch')
    and is_in_webhook_coverage
    and created_at < {{ utc_hours_ago(var('webhook_mismatch_warn_after_hours', 1)) }}
