"""The same dbt models on DuckDB and on Spark give the same Gold (issue 9, ADR 0030).

One demo lake: the real mock over HTTP -> Bronze, plus webhook captures written by the
receiver's own capture code. DuckDB builds it in place (`run-transforms`, tests included);
Spark (`--target spark`, dbt-spark `session`) builds a copy of its Bronze in a second lake,
running the same data tests (generic, built-in and singular; unit tests stay DuckDB-only).
Both sides' Parquet is then read with DuckDB and compared row by row, and every data test's
status and failure count on Spark with DuckDB's. One Spark build only: its start-up costs
minutes on a 2-core box.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from extractor.lake import layout
from extractor.lake.storage import LocalStorage
from extractor.transform.dbt import lake_target_dir
from mock_api.dataset import parse_time
from tests.dbt.expected import major
from tests.support.cli import child_env, run_cli
from tests.support.servers import REPO_ROOT, start_mock_api
from webhook_app.capture import capture, parse_event

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

NOW = parse_time("2026-02-20T00:00:00Z")
DAYS = 2
GOLD = {
    "fct_payments": "charge_id",
    "dim_customers": "customer_id",
    "fct_invoices": "invoice_id",
    "fct_refunds": "refund_id",
    "fct_disputes": "dispute_id",
    "agg_daily_revenue": "activity_date, currency",
    "rpt_webhook_reconciliation": "event_id",
    "fct_balance_transactions": "balance_transaction_id",
    "fct_payouts": "payout_id",
    "rpt_payout_reconciliation": "payout_id",
    "agg_daily_balance": "currency, balance_date",
    "dim_products": "product_id",
    "dim_prices": "price_id",
    "dim_subscriptions": "subscription_id",
    "dim_subscription_history": "subscription_id, version_number, subscription_item_id",
    "fct_invoice_line_items": "invoice_id, line_item_id",
    "fct_mrr_movements": "subscription_id, mrr_month",
    "agg_monthly_mrr": "currency, mrr_month",
}
SILVER = {
    "customers": "customer_id",
    "charges": "charge_id",
    "payment_intents": "payment_intent_id",
    "invoices": "invoice_id",
    "events": "event_id",
    "webhook_events": "event_id",
    "balance_transactions": "balance_transaction_id",
    "refunds": "refund_id",
    "disputes": "dispute_id",
    "payouts": "payout_id",
    "payout_balance_transactions": "balance_transaction_id",
    "balance": "snapshot_run_id",
    "products": "product_id",
    "prices": "price_id",
    "coupons": "coupon_id",
    "subscriptions": "subscription_id",
    "subscription_versions": "subscription_id, version_at",
    "invoice_line_items": "invoice_id, line_item_id",
}


TRUNCATED = layout.webhook_event_key("2026-02-19", "evt_cut")
QUARANTINE = Path(layout.QUARANTINE_KEY)
# The extractor's watermarks: a data test reads one (assert_ledger_ties_to_balance_snapshot).
WATERMARKS = Path(layout.WATERMARKS)


def capture_webhooks(lake: Path) -> int:
    """Every third batch event, delivered as Stripe does (pretty-printed) and stored by the
    receiver's capture code, so both engines read real webhook files."""
    events = []
    for part in sorted(lake.glob("bronze/source=stripe/entity=events/dt=*/run_id=*/part-*")):
        events += [json.loads(line)["data"] for line in part.read_text().splitlines()]
    storage = LocalStorage(lake)
    captured = 0
    for event in sorted(events, key=lambda e: e["id"])[::3]:
        body = json.dumps(event, indent=2).encode()
        result = capture(storage, parse_event(body), event["created"] + 2, event["created"] + 3)
        captured += not result.duplicate
    return captured


def gold_sql(lake: Path, model: str, *, dt_in_path: bool) -> str:
    """Spark keeps `dt` in the folder name only (Hive layout); DuckDB also writes it inside."""
    files = f"'{lake}/gold/model={model}/*/*.parquet'"
    if dt_in_path:
        return (
            f"select * exclude (model) from read_parquet({files}, hive_partitioning = true, "
            "hive_types = {'dt': 'DATE'})"
        )
    return f"select * from read_parquet({files}, hive_partitioning = false)"


@pytest.fixture(scope="module")
def lakes(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("engines")
    duck, spark = base / "duckdb", base / "spark"
    mock = start_mock_api({"MOCK_NOW": str(NOW)}, base)
    env = child_env(duck, mock.url, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    try:
        extract = run_cli("run-all", "--days", str(DAYS), "--run-id", "x", env=env)
    finally:
        mock.stop()
    assert extract.returncode == 0, extract.stderr[-4000:]
    webhooks = capture_webhooks(duck)
    # One capture neither engine can read (cut short on disk): DuckDB's build quarantines it,
    # and Spark, given the same record, leaves it out too.
    (duck / TRUNCATED).parent.mkdir(parents=True, exist_ok=True)
    (duck / TRUNCATED).write_text('{"_source": "webhook", "_event_id": "evt_cut", "data": {"id"')
    shutil.copytree(duck / "bronze", spark / "bronze")
    shutil.copytree(duck / WATERMARKS, spark / WATERMARKS)

    started = time.monotonic()
    duck_build = run_cli("run-transforms", env=env)
    duck_seconds = time.monotonic() - started
    assert duck_build.returncode == 0, duck_build.stderr[-4000:]
    # run-transforms' own artifacts: the build's results, tests included.
    duck_results = json.loads(
        (lake_target_dir(LocalStorage(duck)) / "run_results.json").read_text()
    )
    shutil.copytree(duck / QUARANTINE.parent, spark / QUARANTINE.parent)

    state = base / "spark_state"
    started = time.monotonic()
    # The README's command: `make build-spark` (-o: the outer `make test` already set it up):
    # seed, models and the data tests in one dbt build.
    spark_build = subprocess.run(
        ["make", "-s", "-o", "setup-spark", "build-spark"],
        cwd=REPO_ROOT,
        env={**env, "LAKE_ROOT": str(spark), "SPARK_STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=1100,
    )
    spark_seconds = time.monotonic() - started
    assert spark_build.returncode == 0, spark_build.stdout[-6000:]
    print(f"\nbuild seconds (with tests): duckdb {duck_seconds:.1f}, spark {spark_seconds:.1f}")
    return {
        "duckdb": duck,
        "spark": spark,
        "state": state,
        "webhooks": webhooks,
        "duckdb_results": duck_results,
        # build-spark's --target-path in the Makefile.
        "spark_results": json.loads(
            (REPO_ROOT / "target" / "spark" / "dbt" / "run_results.json").read_text()
        ),
    }


def test_spark_builds_every_model_and_the_seed(lakes) -> None:
    results = {
        r["unique_id"].split(".")[-1]: r["status"]
        for r in lakes["spark_results"]["results"]
        if r["unique_id"].startswith(("model.", "seed."))
    }
    expected = {f"stg_stripe__{entity}" for entity in SILVER} | set(GOLD) | {"currency_exponents"}
    assert results == dict.fromkeys(expected, "success")


def data_tests(run_results: dict) -> dict[str, tuple[str, int | None]]:
    """Every data test's (status, failure count) by node id: generic (ours and dbt's
    built-in ones) and singular; unit tests are `unit_test.` nodes and not among them."""
    return {
        r["unique_id"]: (r["status"], r["failures"])
        for r in run_results["results"]
        if r["unique_id"].startswith("test.")
    }


def test_spark_runs_every_data_test_with_duckdbs_results(lakes) -> None:
    duck = data_tests(lakes["duckdb_results"])
    spark = data_tests(lakes["spark_results"])
    assert sorted(spark) == sorted(duck)
    differing = {test: (duck[test], spark[test]) for test in duck if spark[test] != duck[test]}
    assert differing == {}, "(duckdb, spark) status and failures"
    # What the equality covers: every singular test file, the generic tests that read Bronze
    # themselves, dbt's built-in ones, and warnings with their counts (not only passes).
    names = {test.split(".")[2] for test in spark}
    tests_dir = REPO_ROOT / "dbt_project" / "tests"
    singular = {
        p.stem for p in tests_dir.rglob("*.sql") if p.relative_to(tests_dir).parts[0] != "generic"
    }
    assert singular and singular <= names
    for prefix in (
        "source_api_version_contract_",
        "ids_reconcile_bronze_silver_gold_",
        # Each model's not-null, unique, accepted-values and expression checks, one node per
        # model (ADRs 0055, 0060), and dbt's built-in not_null and the project's
        # expression_is_true where they are conditional (a `where:` config).
        "column_checks_",
        "not_null_",
        "expression_is_true_",
        "relationships_",
    ):
        assert any(name.startswith(prefix) for name in names), prefix
    assert any(status == "warn" and failures for status, failures in spark.values())
    # Unit tests stay on DuckDB (`--exclude-resource-type unit_test`, docs/spark.md).
    assert not [
        r for r in lakes["spark_results"]["results"] if r["unique_id"].startswith("unit_test.")
    ]


def test_spark_writes_the_same_lake_layout(lakes) -> None:
    for layer in [f"silver/source=stripe/entity={e}" for e in SILVER] + [
        f"gold/model={m}" for m in GOLD
    ]:
        folders = {
            name: sorted(p.parent.name for p in (lakes[name] / layer).glob("dt=*/*.parquet"))
            for name in ("duckdb", "spark")
        }
        assert folders["spark"], f"Spark wrote nothing under {layer}"
        assert set(folders["spark"]) == set(folders["duckdb"]), layer
    # Spark's warehouse (the seed's table) lives in SPARK_STATE_DIR, never in the checkout,
    # and the in-memory catalog leaves no metastore anywhere.
    assert (lakes["state"] / "warehouse").is_dir()
    assert not (lakes["state"] / "metastore_db").exists()
    for litter in ("metastore_db", "spark-warehouse", "derby.log"):
        assert not (REPO_ROOT / litter).exists(), litter


def test_silver_holds_the_same_objects(lakes) -> None:
    for entity, key in SILVER.items():
        ids = {}
        for name in ("duckdb", "spark"):
            files = f"'{lakes[name]}/silver/source=stripe/entity={entity}/*/*.parquet'"
            ids[name] = duckdb.sql(
                f"select {key} from read_parquet({files}, hive_partitioning = false)"
            ).fetchall()
        assert len(ids["spark"]) == len(set(ids["spark"])), f"duplicates in Spark {entity}"
        assert sorted(ids["spark"]) == sorted(ids["duckdb"]), entity
        if entity == "webhook_events":
            assert len(ids["spark"]) == lakes["webhooks"] > 0


def test_spark_leaves_out_the_capture_duckdb_quarantined(lakes) -> None:
    record = json.loads((lakes["duckdb"] / QUARANTINE).read_text())
    assert [f["key"] for f in record["files"]] == [TRUNCATED]
    assert "Malformed JSON" in record["files"][0]["reason"]
    for engine in ("duckdb", "spark"):
        found = duckdb.sql(
            f"select count(*) from read_parquet('{lakes[engine]}/silver/source=stripe/"
            "entity=webhook_events/*/*.parquet') where event_id = 'evt_cut' or event_id is null"
        ).fetchone()
        assert found == (0,), engine
        assert (lakes[engine] / TRUNCATED).exists()


# Object digests are md5s of each engine's own minified JSON (macro json_digest): equal
# within an engine, not across (Spark and DuckDB print floats differently). What must agree
# is whether the webhook's copy equals the batch's.
ENGINE_LOCAL = {
    "rpt_webhook_reconciliation": (
        "* replace (webhook_object_digest is not distinct from batch_object_digest"
        " as webhook_object_digest, batch_object_digest is null as batch_object_digest)"
    ),
}


@pytest.mark.parametrize("model", sorted(GOLD))
def test_gold_rows_are_identical(lakes, model: str) -> None:
    columns = ENGINE_LOCAL.get(model, "*")
    duck = duckdb.sql(
        f"select {columns} from ({gold_sql(lakes['duckdb'], model, dt_in_path=False)})"
    )
    spark = duckdb.sql(
        f"select {columns} from ({gold_sql(lakes['spark'], model, dt_in_path=True)})"
    )
    assert spark.columns == duck.columns
    assert spark.types == duck.types
    order = f"order by {GOLD[model]}"
    duck_rows = duckdb.sql(f"select * from duck {order}").fetchall()
    spark_rows = duckdb.sql(f"select * from spark {order}").fetchall()
    assert len(duck_rows) > 0
    assert spark_rows == duck_rows


def test_payments_and_revenue_agree_in_minor_and_major_units(lakes) -> None:
    """The figures readers look at, spelled out: ids, amounts, currencies, counts."""
    figures = {}
    for name in ("duckdb", "spark"):
        lake = lakes[name]
        payments = gold_sql(lake, "fct_payments", dt_in_path=name == "spark")
        revenue = gold_sql(lake, "agg_daily_revenue", dt_in_path=name == "spark")
        figures[name] = {
            "payments": duckdb.sql(
                f"select charge_id, currency, amount_minor, amount, "
                f"captured_less_refunded_minor, captured_less_refunded, settlement_currency, "
                f"fee_minor, net_settlement_minor, net_settlement "
                f"from ({payments}) order by charge_id"
            ).fetchall(),
            "revenue": duckdb.sql(
                f"select currency, sum(gross_minor)::bigint, sum(refunded_minor)::bigint, "
                f"sum(gross), sum(fee_minor)::bigint, sum(net_settlement_minor)::bigint, "
                f"sum(cohort_succeeded_count)::bigint, sum(cohort_failed_count)::bigint, "
                f"sum(cohort_refunded_count)::bigint from ({revenue}) group by 1 order by 1"
            ).fetchall(),
        }
    assert figures["spark"] == figures["duckdb"]
    currencies = {row[1] for row in figures["spark"]["payments"]}
    # Zero- and three-decimal currencies are in the demo data: the exponent is exercised.
    assert {"jpy", "kwd", "usd"} <= currencies
    for row in figures["spark"]["payments"]:
        _, currency, amount_minor, amount, kept_minor, kept, settles_in = row[:7]
        net_minor, net = row[8:]
        assert amount == major(amount_minor, currency)
        assert kept == major(kept_minor, currency)
        if settles_in is not None:
            assert net == major(net_minor, settles_in)
        assert isinstance(amount, Decimal)


def test_webhook_reconciliation_matches_on_both_engines(lakes) -> None:
    statuses = {}
    for name in ("duckdb", "spark"):
        report = gold_sql(lakes[name], "rpt_webhook_reconciliation", dt_in_path=name == "spark")
        statuses[name] = duckdb.sql(
            f"select reconciliation_status, count(*) from ({report}) group by 1 order by 1"
        ).fetchall()
    assert statuses["spark"] == statuses["duckdb"]
    assert ("matched", lakes["webhooks"]) in statuses["spark"]
