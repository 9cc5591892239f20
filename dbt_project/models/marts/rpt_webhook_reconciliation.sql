{#- One row per event of our entity types seen by the batch (/v1/events), by the webhook
    receiver, or by both; reconciliation_status says how the two paths agree. -#}

with webhook_events as (

    select *
    from {{ ref('stg_stripe__webhook_events') }}
    -- The batch feed's prefixes (extractor/streams.py event_types; charge.* carries disputes'
    -- and refunds' charge.dispute.* and charge.refund.updated, customer.* subscriptions'
    -- customer.subscription.*).
    where split_part(event_type, '.', 1) in
        ('customer', 'charge', 'payment_intent', 'invoice', 'refund', 'payout', 'product',
         'price', 'coupon')

),

batch_events as (

    select * from {{ ref('stg_stripe__events') }}

),

batch_horizon as (

    -- How far the batch has read the events feed: the events watermark (events_read_until
    -- says why not the newest page); without extractor state, the newest page read.
    select coalesce({{ events_read_until() }}, max(_observed_at)) as observed_until
    from batch_events

),

webhook_coverage as (

    -- Before the first captured webhook the receiver was not listening: a missing webhook
    -- there is expected, not a fault.
    select min(created_at) as webhooks_since from webhook_events

),

batch_objects as (

    -- The batch's objects that a webhook event names: only those can match a webhook-only
    -- event. Filtered before the distinct, so the model's memory grows with the webhook
    -- events, not with all of Silver (every object id of a 10M-charge lake ran DuckDB out
    -- of its memory limit here).
    select distinct object_id
    from (
        select customer_id as object_id from {{ ref('stg_stripe__customers') }}
        union all
        select charge_id from {{ ref('stg_stripe__charges') }}
        union all
        select payment_intent_id from {{ ref('stg_stripe__payment_intents') }}
        union all
        select invoice_id from {{ ref('stg_stripe__invoices') }}
        union all
        select refund_id from {{ ref('stg_stripe__refunds') }}
        union all
        select dispute_id from {{ ref('stg_stripe__disputes') }}
        union all
        select payout_id from {{ ref('stg_stripe__payouts') }}
        union all
        select product_id from {{ ref('stg_stripe__products') }}
        union all
        select price_id from {{ ref('stg_stripe__prices') }}
        union all
        select coupon_id from {{ ref('stg_stripe__coupons') }}
        union all
        select subscription_id from {{ ref('stg_stripe__subscriptions') }}
    ) as silver_objects
    where object_id in (select object_id from webhook_events)

),

joined as (

    select
        coalesce(webhook_events.event_id, batch_events.event_id) as event_id,
        coalesce(webhook_events.event_type, batch_events.event_type) as event_type,
        coalesce(webhook_events.object_id, batch_events.object_id) as object_id,
        coalesce(webhook_events.object_type, batch_events.object_type) as object_type,
        coalesce(webhook_events.created_at, batch_events.created_at) as created_at,
        webhook_events.received_at as webhook_received_at,
        webhook_events.event_id is not null as is_seen_by_webhook,
        batch_events.event_id is not null as is_seen_by_batch,
        webhook_events.event_type as webhook_event_type,
        batch_events.event_type as batch_event_type,
        webhook_events.object_status as webhook_object_status,
        batch_events.object_status as batch_object_status,
        webhook_events.object_digest as webhook_object_digest,
        batch_events.object_digest as batch_object_digest
    from webhook_events
    full outer join batch_events
        on webhook_events.event_id = batch_events.event_id

),

classified as (

    select
        joined.*,
        joined.created_at >= webhook_coverage.webhooks_since as is_in_webhook_coverage,
        case
            when is_seen_by_webhook and is_seen_by_batch then 'event'
            when is_seen_by_webhook and batch_objects.object_id is not null then 'object'
        end as matched_by,
        case
            when is_seen_by_webhook and is_seen_by_batch
                and webhook_event_type = batch_event_type
                and webhook_object_digest = batch_object_digest
                then 'matched'
            when is_seen_by_webhook and is_seen_by_batch then 'state_mismatch'
            when is_seen_by_batch then 'missing_webhook'
            -- Webhook only: the batch may still hold the object from a list read.
            when batch_objects.object_id is not null then 'matched'
            -- Too recent for the batch to have read yet: within the overlap the extractor
            -- re-reads for late arrivals (its SAFETY_WINDOW_SECONDS, unless the var says).
            when {{ epoch_seconds('joined.created_at') }} >= batch_horizon.observed_until
                - {{ var('reconciliation_safety_window_seconds',
                         env_var('SAFETY_WINDOW_SECONDS', '600') | int) }}
                or batch_horizon.observed_until is null
                then 'pending'
            else 'missing_in_batch'
        end as reconciliation_status
    from joined
    cross join batch_horizon
    cross join webhook_coverage
    left join batch_objects
        on joined.object_id = batch_objects.object_id

),

final as (

    select
        event_id,
        event_type,
        object_id,
        object_type,
        created_at,
        webhook_received_at,
        {{ epoch_seconds('webhook_received_at') }} - {{ epoch_seconds('created_at') }} as webhook_delay_seconds,
        is_seen_by_webhook,
        is_seen_by_batch,
        coalesce(is_in_webhook_coverage, false) as is_in_webhook_coverage,
        matched_by,
        reconciliation_status,
        webhook_object_status,
        batch_object_status,
        webhook_object_digest,
        batch_object_digest,
        cast(created_at as date) as dt
    from classified

)

select * from final
