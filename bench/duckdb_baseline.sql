-- The hand-written baseline of bench/dbt_bench.py: every model of the dbt project (five
-- Silver entities, webhook captures, dim_customers, fct_payments, fct_invoices,
-- agg_daily_revenue, rpt_webhook_reconciliation) as one DuckDB script, run by one in-memory
-- `duckdb` connection in one process.
--
-- Each model is the SQL dbt compiles (macros expanded: dedup by `latest_version`, timestamps
-- by `unix_to_timestamp`, money by `to_major`), reading the same Bronze with the same explicit
-- `read_json(... columns={...})`. Each result is written straight to Parquet with the COPY
-- options dbt-duckdb uses (`partition_by (dt)`, `overwrite_or_ignore`,
-- `write_partition_columns`; the runner sets `partitioned_write_max_open_files` to 10000) and
-- read back by the downstream models through a view over the files, as dbt's external
-- materialization does. What it leaves out is dbt's own work: process start and parsing, the
-- intermediate table in the warehouse file before each COPY, and the data tests.
--
-- ${lake}, ${out} and ${seed} are filled in by the runner; each "step" comment line starts a
-- step it times on its own.

-- step: seed currency_exponents
create table currency_exponents as
    select * from read_csv('${seed}', header = true,
        columns = {'currency': 'VARCHAR', 'exponent': 'INTEGER'});
-- step: stg_stripe__customers
copy (
    with source as (

        select * from read_json('${lake}/bronze/source=stripe/entity=customers/dt=*/run_id=*/part-*.jsonl*', format='newline_delimited', columns={'_run_id': 'VARCHAR', '_loaded_at': 'TIMESTAMP', '_observed_at': 'BIGINT', '_source': 'VARCHAR', '_event_id': 'VARCHAR', '_event_type': 'VARCHAR', 'data': 'STRUCT("address" JSON, "balance" JSON, "created" JSON, "currency" JSON, "deleted" JSON, "delinquent" JSON, "description" JSON, "email" JSON, "id" JSON, "livemode" JSON, "metadata" JSON, "name" JSON, "tax_exempt" JSON)'})

    ),

    renamed as (

        select
            data."id" ->> '$' as customer_id,
            data."email" ->> '$' as email,
            data."name" ->> '$' as customer_name,
            data."description" ->> '$' as description,
            lower(data."currency" ->> '$') as currency,
            data."address" ->> '$.country' as address_country,
            data."address" ->> '$.city' as address_city,
            data."tax_exempt" ->> '$' as tax_exempt,
            cast(data."balance" -> '$' as bigint) as balance_minor,
            cast(data."delinquent" -> '$' as boolean) as is_delinquent,
            cast(data."livemode" -> '$' as boolean) as is_livemode,
            data."metadata" -> '$' as metadata,
            cast(to_timestamp(cast(data."created" -> '$' as bigint)) at time zone 'UTC' as timestamp) as created_at,
            (coalesce(cast(data."deleted" -> '$' as boolean), false) or coalesce(_event_type like '%.deleted', false)) as is_tombstone,
            _observed_at,
            _source,
            _loaded_at,
            _event_id
        from source

    ),

    with_deletion as (

        -- Deletion is final in Stripe: any tombstone marks the customer deleted, even if a
        -- list read observed later than the event (eventual consistency) still showed it.
        select
            *,
            bool_or(is_tombstone) over (partition by customer_id) as is_deleted,
            min(case when is_tombstone then _observed_at end)
                over (partition by customer_id) as deleted_epoch
        from renamed

    ),

    deduped as (

        select *
        from with_deletion
        qualify row_number() over (
          partition by customer_id
          order by
              _observed_at desc,
              (_source = 'event') desc,
              _loaded_at desc,
              coalesce(_event_id, '') desc
      ) = 1

    ),

    final as (

        select
            * exclude (_source, _loaded_at, _event_id, is_tombstone, deleted_epoch),
            cast(to_timestamp(deleted_epoch) at time zone 'UTC' as timestamp) as deleted_at,
            cast(created_at as date) as dt
        from deduped

    )

    select * from final
) to '${out}/silver/source=stripe/entity=customers'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view stg_stripe__customers as
    select * from read_parquet('${out}/silver/source=stripe/entity=customers/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: stg_stripe__charges
copy (
    with source as (

        select * from read_json('${lake}/bronze/source=stripe/entity=charges/dt=*/run_id=*/part-*.jsonl*', format='newline_delimited', columns={'_run_id': 'VARCHAR', '_loaded_at': 'TIMESTAMP', '_observed_at': 'BIGINT', '_source': 'VARCHAR', '_event_id': 'VARCHAR', '_event_type': 'VARCHAR', 'data': 'STRUCT("amount" JSON, "amount_captured" JSON, "amount_refunded" JSON, "balance_transaction" JSON, "billing_details" JSON, "captured" JSON, "created" JSON, "currency" JSON, "customer" JSON, "disputed" JSON, "failure_code" JSON, "failure_message" JSON, "id" JSON, "invoice" JSON, "livemode" JSON, "metadata" JSON, "outcome" JSON, "paid" JSON, "payment_intent" JSON, "payment_method_details" JSON, "refunded" JSON, "status" JSON)'})

    ),

    renamed as (

        select
            data."id" ->> '$' as charge_id,
            data."payment_intent" ->> '$' as payment_intent_id,
            data."customer" ->> '$' as customer_id,
            data."invoice" ->> '$' as invoice_id,
            data."balance_transaction" ->> '$' as balance_transaction_id,
            data."status" ->> '$' as status,
            cast(data."paid" -> '$' as boolean) as is_paid,
            cast(data."captured" -> '$' as boolean) as is_captured,
            cast(data."refunded" -> '$' as boolean) as is_refunded,
            cast(data."disputed" -> '$' as boolean) as is_disputed,
            cast(data."livemode" -> '$' as boolean) as is_livemode,
            data."failure_code" ->> '$' as failure_code,
            data."failure_message" ->> '$' as failure_message,
            lower(data."currency" ->> '$') as currency,
            cast(data."amount" -> '$' as bigint) as amount_minor,
            cast(data."amount_captured" -> '$' as bigint) as amount_captured_minor,
            cast(data."amount_refunded" -> '$' as bigint) as amount_refunded_minor,
            data."billing_details" ->> '$.address.country' as billing_country,
            data."payment_method_details" ->> '$.type' as payment_method_type,
            data."payment_method_details" ->> '$.card.brand' as card_brand,
            data."payment_method_details" ->> '$.card.last4' as card_last4,
            data."payment_method_details" ->> '$.card.funding' as card_funding,
            data."outcome" ->> '$.type' as outcome_type,
            data."outcome" ->> '$.risk_level' as risk_level,
            data."metadata" -> '$' as metadata,
            cast(to_timestamp(cast(data."created" -> '$' as bigint)) at time zone 'UTC' as timestamp) as created_at,
            _observed_at,
            _source,
            _loaded_at,
            _event_id
        from source

    ),

    deduped as (

        select *
        from renamed
        qualify row_number() over (
          partition by charge_id
          order by
              _observed_at desc,
              (_source = 'event') desc,
              _loaded_at desc,
              coalesce(_event_id, '') desc
      ) = 1

    ),

    final as (

        select
            * exclude (_source, _loaded_at, _event_id),
            cast(created_at as date) as dt
        from deduped

    )

    select * from final
) to '${out}/silver/source=stripe/entity=charges'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view stg_stripe__charges as
    select * from read_parquet('${out}/silver/source=stripe/entity=charges/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: stg_stripe__payment_intents
copy (
    with source as (

        select * from read_json('${lake}/bronze/source=stripe/entity=payment_intents/dt=*/run_id=*/part-*.jsonl*', format='newline_delimited', columns={'_run_id': 'VARCHAR', '_loaded_at': 'TIMESTAMP', '_observed_at': 'BIGINT', '_source': 'VARCHAR', '_event_id': 'VARCHAR', '_event_type': 'VARCHAR', 'data': 'STRUCT("amount" JSON, "amount_capturable" JSON, "amount_received" JSON, "canceled_at" JSON, "cancellation_reason" JSON, "capture_method" JSON, "created" JSON, "currency" JSON, "customer" JSON, "id" JSON, "invoice" JSON, "last_payment_error" JSON, "latest_charge" JSON, "livemode" JSON, "metadata" JSON, "payment_method" JSON, "status" JSON)'})

    ),

    renamed as (

        select
            data."id" ->> '$' as payment_intent_id,
            data."customer" ->> '$' as customer_id,
            data."latest_charge" ->> '$' as latest_charge_id,
            data."invoice" ->> '$' as invoice_id,
            data."payment_method" ->> '$' as payment_method_id,
            data."status" ->> '$' as status,
            data."capture_method" ->> '$' as capture_method,
            data."cancellation_reason" ->> '$' as cancellation_reason,
            data."last_payment_error" ->> '$.code' as last_payment_error_code,
            lower(data."currency" ->> '$') as currency,
            cast(data."amount" -> '$' as bigint) as amount_minor,
            cast(data."amount_received" -> '$' as bigint) as amount_received_minor,
            cast(data."amount_capturable" -> '$' as bigint) as amount_capturable_minor,
            cast(data."livemode" -> '$' as boolean) as is_livemode,
            data."metadata" -> '$' as metadata,
            cast(to_timestamp(cast(data."created" -> '$' as bigint)) at time zone 'UTC' as timestamp) as created_at,
            cast(to_timestamp(cast(data."canceled_at" -> '$' as bigint)) at time zone 'UTC' as timestamp) as canceled_at,
            _observed_at,
            _source,
            _loaded_at,
            _event_id
        from source

    ),

    deduped as (

        select *
        from renamed
        qualify row_number() over (
          partition by payment_intent_id
          order by
              _observed_at desc,
              (_source = 'event') desc,
              _loaded_at desc,
              coalesce(_event_id, '') desc
      ) = 1

    ),

    final as (

        select
            * exclude (_source, _loaded_at, _event_id),
            cast(created_at as date) as dt
        from deduped

    )

    select * from final
) to '${out}/silver/source=stripe/entity=payment_intents'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view stg_stripe__payment_intents as
    select * from read_parquet('${out}/silver/source=stripe/entity=payment_intents/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: stg_stripe__invoices
copy (
    with source as (

        select * from read_json('${lake}/bronze/source=stripe/entity=invoices/dt=*/run_id=*/part-*.jsonl*', format='newline_delimited', columns={'_run_id': 'VARCHAR', '_loaded_at': 'TIMESTAMP', '_observed_at': 'BIGINT', '_source': 'VARCHAR', '_event_id': 'VARCHAR', '_event_type': 'VARCHAR', 'data': 'STRUCT("amount_due" JSON, "amount_paid" JSON, "amount_remaining" JSON, "attempt_count" JSON, "billing_reason" JSON, "charge" JSON, "collection_method" JSON, "created" JSON, "currency" JSON, "customer" JSON, "due_date" JSON, "id" JSON, "livemode" JSON, "metadata" JSON, "number" JSON, "paid" JSON, "payment_intent" JSON, "period_end" JSON, "period_start" JSON, "status" JSON, "status_transitions" JSON, "subscription" JSON, "subtotal" JSON, "tax" JSON, "total" JSON)'})

    ),

    renamed as (

        select
            data."id" ->> '$' as invoice_id,
            data."customer" ->> '$' as customer_id,
            data."charge" ->> '$' as charge_id,
            data."payment_intent" ->> '$' as payment_intent_id,
            data."subscription" ->> '$' as subscription_id,
            data."number" ->> '$' as invoice_number,
            data."status" ->> '$' as status,
            data."billing_reason" ->> '$' as billing_reason,
            data."collection_method" ->> '$' as collection_method,
            lower(data."currency" ->> '$') as currency,
            cast(data."subtotal" -> '$' as bigint) as subtotal_minor,
            cast(data."tax" -> '$' as bigint) as tax_minor,
            cast(data."total" -> '$' as bigint) as total_minor,
            cast(data."amount_due" -> '$' as bigint) as amount_due_minor,
            cast(data."amount_paid" -> '$' as bigint) as amount_paid_minor,
            cast(data."amount_remaining" -> '$' as bigint) as amount_remaining_minor,
            cast(data."attempt_count" -> '$' as bigint) as attempt_count,
            cast(data."paid" -> '$' as boolean) as is_paid,
            cast(data."livemode" -> '$' as boolean) as is_livemode,
            data."metadata" -> '$' as metadata,
            cast(to_timestamp(cast(data."period_start" -> '$' as bigint)) at time zone 'UTC' as timestamp) as period_start_at,
            cast(to_timestamp(cast(data."period_end" -> '$' as bigint)) at time zone 'UTC' as timestamp) as period_end_at,
            cast(to_timestamp(cast(data."due_date" -> '$' as bigint)) at time zone 'UTC' as timestamp) as due_at,
            cast(to_timestamp(cast(data."created" -> '$' as bigint)) at time zone 'UTC' as timestamp) as created_at,
            cast(to_timestamp(cast(data."status_transitions" -> '$.finalized_at' as bigint)) at time zone 'UTC' as timestamp) as finalized_at,
            cast(to_timestamp(cast(data."status_transitions" -> '$.paid_at' as bigint)) at time zone 'UTC' as timestamp) as paid_at,
            cast(to_timestamp(cast(data."status_transitions" -> '$.voided_at' as bigint)) at time zone 'UTC' as timestamp) as voided_at,
            cast(to_timestamp(cast(data."status_transitions" -> '$.marked_uncollectible_at' as bigint)) at time zone 'UTC' as timestamp)
                as marked_uncollectible_at,
            _observed_at,
            _source,
            _loaded_at,
            _event_id
        from source

    ),

    deduped as (

        select *
        from renamed
        qualify row_number() over (
          partition by invoice_id
          order by
              _observed_at desc,
              (_source = 'event') desc,
              _loaded_at desc,
              coalesce(_event_id, '') desc
      ) = 1

    ),

    final as (

        select
            * exclude (_source, _loaded_at, _event_id),
            cast(created_at as date) as dt
        from deduped

    )

    select * from final
) to '${out}/silver/source=stripe/entity=invoices'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view stg_stripe__invoices as
    select * from read_parquet('${out}/silver/source=stripe/entity=invoices/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: stg_stripe__events
copy (
    with source as (

        select * from read_json('${lake}/bronze/source=stripe/entity=events/dt=*/run_id=*/part-*.jsonl*', format='newline_delimited', columns={'_run_id': 'VARCHAR', '_loaded_at': 'TIMESTAMP', '_observed_at': 'BIGINT', '_source': 'VARCHAR', '_event_id': 'VARCHAR', '_event_type': 'VARCHAR', 'data': 'STRUCT("api_version" JSON, "created" JSON, "data" JSON, "id" JSON, "livemode" JSON, "pending_webhooks" JSON, "request" JSON, "type" JSON)'})

    ),

    renamed as (

        select
            data."id" ->> '$' as event_id,
            data."type" ->> '$' as event_type,
            data."api_version" ->> '$' as api_version,
            data."data" ->> '$.object.id' as object_id,
            data."data" ->> '$.object.object' as object_type,
            data."data" ->> '$.object.status' as object_status,
            -- Compared with the webhook copy of the same event (rpt_webhook_reconciliation).
            md5(cast(data."data" -> '$.object' as varchar)) as object_digest,
            data."data" -> '$.previous_attributes' as previous_attributes,
            data."request" ->> '$.id' as request_id,
            cast(data."pending_webhooks" -> '$' as bigint) as pending_webhooks,
            cast(data."livemode" -> '$' as boolean) as is_livemode,
            cast(to_timestamp(cast(data."created" -> '$' as bigint)) at time zone 'UTC' as timestamp) as created_at,
            _observed_at,
            _source,
            _loaded_at,
            _event_id
        from source

    ),

    deduped as (

        -- Events never change; several copies of one are the same event fetched twice.
        select *
        from renamed
        qualify row_number() over (
          partition by event_id
          order by
              _observed_at desc,
              (_source = 'event') desc,
              _loaded_at desc,
              coalesce(_event_id, '') desc
      ) = 1

    ),

    final as (

        select
            * exclude (_source, _loaded_at, _event_id),
            cast(created_at as date) as dt
        from deduped

    )

    select * from final
) to '${out}/silver/source=stripe/entity=events'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view stg_stripe__events as
    select * from read_parquet('${out}/silver/source=stripe/entity=events/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: stg_stripe__webhook_events
-- No webhook capture in the bench lake: dbt compiles the model's no-rows branch, so
-- the same query is a view here (a COPY of no rows writes no file to read back).
create view stg_stripe__webhook_events as
    with source as (

        -- Nothing captured yet: the same columns, no rows.
        select
            cast(null as TEXT) as _run_id,
            cast(null as timestamp) as _loaded_at,
            cast(null as timestamp) as _received_at,
            cast(null as bigint) as _observed_at,
            cast(null as TEXT) as _source,
            cast(null as TEXT) as _event_id,
            cast(null as TEXT) as _event_type,
            cast(null as STRUCT("api_version" JSON, "created" JSON, "data" JSON, "id" JSON, "type" JSON)) as data
        where false

    ),

    renamed as (

        select
            data."id" ->> '$' as event_id,
            data."type" ->> '$' as event_type,
            data."api_version" ->> '$' as api_version,
            data."data" ->> '$.object.id' as object_id,
            data."data" ->> '$.object.object' as object_type,
            data."data" ->> '$.object.status' as object_status,
            -- Minified by DuckDB's JSON writer, so whitespace in the delivery does not matter.
            md5(cast(data."data" -> '$.object' as varchar)) as object_digest,
            data."data" -> '$.object' as object_state,
            cast(to_timestamp(cast(data."created" -> '$' as bigint)) at time zone 'UTC' as timestamp) as created_at,
            _received_at as received_at,
            _observed_at,
            _loaded_at,
            _source,
            _event_id
        from source

    ),

    deduped as (

        -- The receiver stores each event once; this only guards against a hand-copied file.
        select *
        from renamed
        qualify row_number() over (
          partition by event_id
          order by
              _observed_at desc,
              (_source = 'event') desc,
              _loaded_at desc,
              coalesce(_event_id, '') desc
      ) = 1

    ),

    final as (

        select
            * exclude (_source, _loaded_at, _event_id),
            cast(created_at as date) as dt
        from deduped

    )

    select * from final;

-- step: dim_customers
copy (
    with customers as (

        select * from stg_stripe__customers

    ),

    charges as (

        select * from stg_stripe__charges

    ),

    payment_activity as (

        select
            customer_id,
            min(case when is_paid then created_at end) as first_payment_at,
            max(case when is_paid then created_at end) as last_payment_at,
            cast(count(case when is_paid then 1 end) as bigint) as payment_count,
            cast(count(case when status = 'failed' then 1 end) as bigint) as failed_payment_count,
            cast(count(case when is_refunded then 1 end) as bigint) as refunded_payment_count,
            cast(count(distinct case when is_paid then currency end) as bigint) as currency_count
        from charges
        where customer_id is not null
        group by 1

    ),

    final as (

        select
            customers.customer_id,
            customers.email,
            customers.customer_name,
            customers.currency,
            customers.address_country,
            customers.is_delinquent,
            customers.is_deleted,
            customers.deleted_at,
            customers.created_at,
            payment_activity.first_payment_at,
            payment_activity.last_payment_at,
            coalesce(payment_activity.payment_count, 0) as payment_count,
            coalesce(payment_activity.failed_payment_count, 0) as failed_payment_count,
            coalesce(payment_activity.refunded_payment_count, 0) as refunded_payment_count,
            coalesce(payment_activity.currency_count, 0) as currency_count,
            customers.dt
        from customers
        left join payment_activity
            on customers.customer_id = payment_activity.customer_id

    )

    select * from final
) to '${out}/gold/model=dim_customers'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view dim_customers as
    select * from read_parquet('${out}/gold/model=dim_customers/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: fct_payments
copy (
    with charges as (

        select * from stg_stripe__charges

    ),

    payment_intents as (

        select * from stg_stripe__payment_intents

    ),

    exponents as (

        select * from currency_exponents

    ),

    joined as (

        select
            charges.charge_id,
            charges.payment_intent_id,
            charges.customer_id,
            coalesce(charges.invoice_id, payment_intents.invoice_id) as invoice_id,
            charges.status,
            payment_intents.status as payment_intent_status,
            charges.is_paid,
            charges.is_refunded,
            charges.is_disputed,
            charges.failure_code,
            charges.outcome_type,
            charges.card_brand,
            charges.billing_country,
            charges.currency,
            exponents.exponent as currency_exponent,
            cast(1.0 / pow(10, exponents.exponent) as decimal(4, 3)) as minor_unit,
            charges.amount_minor,
            charges.amount_refunded_minor as refunded_minor,
            -- What the merchant keeps: nothing from a charge that was not paid.
            case
                when charges.is_paid then charges.amount_minor - charges.amount_refunded_minor
                else 0
            end as net_minor,
            charges.created_at
        from charges
        left join payment_intents
            on charges.payment_intent_id = payment_intents.payment_intent_id
        -- A left join: a currency missing from the seed must fail a test, not drop revenue.
        left join exponents
            on charges.currency = exponents.currency

    ),

    final as (

        select
            charge_id,
            payment_intent_id,
            customer_id,
            invoice_id,
            status,
            payment_intent_status,
            is_paid,
            is_refunded,
            is_disputed,
            failure_code,
            outcome_type,
            card_brand,
            billing_country,
            currency,
            currency_exponent,
            amount_minor,
            cast(amount_minor as decimal(34, 0)) * minor_unit as amount,
            refunded_minor,
            cast(refunded_minor as decimal(34, 0)) * minor_unit as refunded,
            net_minor,
            cast(net_minor as decimal(34, 0)) * minor_unit as net,
            created_at,
            cast(created_at as date) as created_date,
            cast(created_at as date) as dt
        from joined

    )

    select * from final
) to '${out}/gold/model=fct_payments'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view fct_payments as
    select * from read_parquet('${out}/gold/model=fct_payments/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: fct_invoices
copy (
    with invoices as (

        select * from stg_stripe__invoices

    ),

    exponents as (

        select * from currency_exponents

    ),

    with_unit as (

        select
            invoices.*,
            exponents.exponent as currency_exponent,
            cast(1.0 / pow(10, exponents.exponent) as decimal(4, 3)) as minor_unit
        from invoices
        left join exponents
            on invoices.currency = exponents.currency

    ),

    final as (

        select
            invoice_id,
            customer_id,
            charge_id,
            payment_intent_id,
            invoice_number,
            status,
            billing_reason,
            collection_method,
            is_paid,
            currency,
            currency_exponent,
            subtotal_minor,
            cast(subtotal_minor as decimal(34, 0)) * minor_unit as subtotal,
            tax_minor,
            cast(tax_minor as decimal(34, 0)) * minor_unit as tax,
            total_minor,
            cast(total_minor as decimal(34, 0)) * minor_unit as total,
            amount_due_minor,
            cast(amount_due_minor as decimal(34, 0)) * minor_unit as amount_due,
            amount_paid_minor,
            cast(amount_paid_minor as decimal(34, 0)) * minor_unit as amount_paid,
            amount_remaining_minor,
            cast(amount_remaining_minor as decimal(34, 0)) * minor_unit as amount_remaining,
            attempt_count,
            period_start_at,
            period_end_at,
            due_at,
            created_at,
            finalized_at,
            paid_at,
            voided_at,
            marked_uncollectible_at,
            -- From sending (finalization) to payment, in days with hour precision.
            round(
                (epoch(paid_at) - epoch(coalesce(finalized_at, created_at)))
                / 86400.0, 2
            ) as days_to_pay,
            cast(created_at as date) as dt
        from with_unit

    )

    select * from final
) to '${out}/gold/model=fct_invoices'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view fct_invoices as
    select * from read_parquet('${out}/gold/model=fct_invoices/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: agg_daily_revenue
copy (
    with payments as (

        select * from fct_payments

    ),

    daily as (

        select
            created_date as revenue_date,
            currency,
            cast(sum(case when is_paid then amount_minor else 0 end) as bigint) as gross_minor,
            cast(sum(case when is_paid then refunded_minor else 0 end) as bigint) as refunded_minor,
            cast(sum(net_minor) as bigint) as net_minor,
            cast(count(case when status = 'succeeded' then 1 end) as bigint) as succeeded_count,
            cast(count(case when status = 'failed' then 1 end) as bigint) as failed_count,
            cast(count(case when is_refunded then 1 end) as bigint) as refunded_count
        from payments
        group by 1, 2

    ),

    exponents as (

        select * from currency_exponents

    ),

    final as (

        select
            daily.revenue_date,
            daily.currency,
            daily.gross_minor,
            daily.refunded_minor,
            daily.net_minor,
            -- Major units use the currency's own exponent: yen have none, dinars have three.
            cast(daily.gross_minor as decimal(34, 0)) * cast(1.0 / pow(10, exponents.exponent) as decimal(4, 3)) as gross,
            cast(daily.refunded_minor as decimal(34, 0)) * cast(1.0 / pow(10, exponents.exponent) as decimal(4, 3)) as refunded,
            cast(daily.net_minor as decimal(34, 0)) * cast(1.0 / pow(10, exponents.exponent) as decimal(4, 3)) as net,
            daily.succeeded_count,
            daily.failed_count,
            daily.refunded_count,
            daily.revenue_date as dt
        from daily
        left join exponents
            on daily.currency = exponents.currency

    )

    select * from final
) to '${out}/gold/model=agg_daily_revenue'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view agg_daily_revenue as
    select * from read_parquet('${out}/gold/model=agg_daily_revenue/*/*.parquet',
        union_by_name = false, hive_partitioning = false);

-- step: rpt_webhook_reconciliation
copy (
    with webhook_events as (

        select *
        from stg_stripe__webhook_events
        where split_part(event_type, '.', 1) in ('customer', 'charge', 'payment_intent', 'invoice')

    ),

    batch_events as (

        select * from stg_stripe__events

    ),

    batch_horizon as (

        -- The API time of the newest events page the batch has read.
        select max(_observed_at) as observed_until from batch_events

    ),

    webhook_coverage as (

        -- Before the first captured webhook the receiver was not listening: a missing webhook
        -- there is expected, not a fault.
        select min(created_at) as webhooks_since from webhook_events

    ),

    batch_objects as (

        select customer_id as object_id from stg_stripe__customers
        union all
        select charge_id from stg_stripe__charges
        union all
        select payment_intent_id from stg_stripe__payment_intents
        union all
        select invoice_id from stg_stripe__invoices

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
                -- Too recent for the batch to have read yet (its safety window).
                when epoch(joined.created_at) >= batch_horizon.observed_until
                    - 600
                    or batch_horizon.observed_until is null
                    then 'pending'
                else 'missing_in_batch'
            end as reconciliation_status
        from joined
        cross join batch_horizon
        cross join webhook_coverage
        left join (select distinct object_id from batch_objects) as batch_objects
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
            epoch(webhook_received_at) - epoch(created_at) as webhook_delay_seconds,
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
) to '${out}/gold/model=rpt_webhook_reconciliation'
    (format parquet, partition_by (dt), overwrite_or_ignore true,
     write_partition_columns true);
create view rpt_webhook_reconciliation as
    select * from read_parquet('${out}/gold/model=rpt_webhook_reconciliation/*/*.parquet',
        union_by_name = false, hive_partitioning = false);
