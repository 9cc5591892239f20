{#- time_dependent: a run with nothing new still runs it (ADR 0054), its answer moves
    with the clock and with the events watermark. -#}
{{ config(severity='warn', tags=['time_dependent']) }}

{#- Warns with every event the two paths still disagree on after
    `webhook_mismatch_warn_after_hours`, counted only while the receiver was listening. -#}

select *
from {{ ref('rpt_webhook_reconciliation') }}
where (
        reconciliation_status in ('missing_webhook', 'missing_in_batch', 'state_mismatch')
        -- `pending` when Gold was built, but the batch has read the events feed past it
        -- since: a run with nothing new rebuilds no model (ADR 0054), so the horizon is
        -- read again here (the model's rule, with today's events watermark).
        or (
            reconciliation_status = 'pending'
            and {{ epoch_seconds('created_at') }} < {{ events_read_until() }}
                - {{ var('reconciliation_safety_window_seconds', 600) }}
        )
    )
    and is_in_webhook_coverage
    and created_at < {{ utc_hours_ago(var('webhook_mismatch_warn_after_hours', 1)) }}
