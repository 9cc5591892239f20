"""run-pipeline end to end on local disk: the real mock over HTTP -> Bronze -> dbt -> Gold.

Gold is checked against figures computed in Python from the mock's own objects, per currency
to the minor unit; reruns must leave Silver and Gold content identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from extractor.lake.storage import storage_for
from extractor.settings import Settings
from extractor.streams import WATERMARKED_STREAMS
from extractor.transform.dbt import lake_target_dir, warehouse_path
from mock_api.dataset import Dataset, MockConfig, parse_time
from mock_api.dataset.mrr import subscription_mrr_at
from tests.dbt.expected import expected_after_first_run, major
from tests.dbt.lake_queries import PER_RUN_FOLDERS, content_digest, gold, rows, silver

# The payment-side ledger checks, collected here so they run on this module's lake.
from tests.dbt.payments_gold_checks import (  # noqa: F401
    test_daily_revenue_books_money_on_its_activity_date,
    test_disputes_carry_outcome_fee_and_funds,
    test_payments_settle_as_the_ledger_says,
    test_refunds_are_dated_when_refunded,
    test_settlement_figures_carry_exact_major_units,
)
from tests.dbt.query_plans import pairwise_joins_by_node
from tests.support.cli import child_env, run_cli
from tests.support.servers import REPO_ROOT, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Late enough that customers created in January get deleted inside the window.
NOW = parse_time("2026-02-20T00:00:00Z")
DAYS = 10
CONFIG = MockConfig(seed=42, start_date="2026-01-01", volume=200)
# Every model of the project builds, and each writes one Silver or Gold folder.
MODELS = len(list((REPO_ROOT / "dbt_project/models").rglob("*.sql")))


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = start_mock_api({"MOCK_NOW": str(NOW)}, tmp_path_factory.mktemp("mock"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory, mock) -> Path:
    root = tmp_path_factory.mktemp("pipeline") / "lake"
    result = run_cli(
        "run-pipeline", "--days", str(DAYS), "--run-id", "first", lake=root, api=mock.url
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "quality gate passed" in result.stdout
    return root


@pytest.fixture(scope="module")
def expected():
    return expected_after_first_run(Dataset(CONFIG), NOW, DAYS)


def test_every_object_lands_once_in_silver_and_gold(lake: Path, expected) -> None:
    for entity in ("customers", "charges", "payment_intents", "invoices"):
        key = "payment_intent_id" if entity == "payment_intents" else f"{entity[:-1]}_id"
        ids = [r[0] for r in rows(f"select {key} from {silver(lake, entity)}")]
        assert len(ids) == len(set(ids)), f"duplicates in Silver {entity}"
        assert set(ids) == expected.ids[entity], entity
    events = rows(f"select count(*), count(distinct event_id) from {silver(lake, 'events')}")
    assert events == [(expected.event_count, expected.event_count)]
    charge_ids = {r[0] for r in rows(f"select charge_id from {gold(lake, 'fct_payments')}")}
    assert charge_ids == expected.ids["charges"]


def test_daily_revenue_matches_the_mock_per_currency(lake: Path, expected) -> None:
    """Totals per currency: gross (money captured) and the charge-date cohort's refunds and
    counts, as the charges stand at `now`."""
    got = rows(
        f"""
        select currency, sum(gross_minor)::bigint, sum(cohort_refunded_minor)::bigint,
               sum(cohort_succeeded_count)::bigint, sum(cohort_failed_count)::bigint,
               sum(cohort_pending_count)::bigint, sum(cohort_refunded_count)::bigint,
               sum(gross), sum(cohort_refunded)
        from {gold(lake, "agg_daily_revenue")}
        group by 1 order by 1
        """
    )
    want = []
    for currency in sorted(expected.revenue):
        t = expected.revenue[currency]
        want.append(
            (
                currency,
                t["gross"],
                t["refunded"],
                t["succeeded"],
                t["failed"],
                t["pending"],
                t["refunds"],
                major(t["gross"], currency),
                major(t["refunded"], currency),
            )
        )
    assert got == want
    # Zero- and three-decimal currencies are present, so the exponent really is exercised.
    assert {"jpy", "krw", "kwd", "usd"} <= {row[0] for row in got}


def test_every_payment_is_worth_what_the_mock_says(lake: Path, expected) -> None:
    """Per charge: manual captures count what was captured (nothing when never captured),
    pending bank debits count nothing yet, and a missing billing address falls back to the
    card's country."""
    got = {
        charge_id: (status, captured, refunded, net, country)
        for charge_id, status, captured, refunded, net, country in rows(
            f"""
            select charge_id, status, captured_minor, refunded_minor,
                   captured_less_refunded_minor, billing_country
            from {gold(lake, "fct_payments")}
            """
        )
    }
    want = {
        charge_id: (p.status, p.captured, p.refunded, p.captured - p.refunded, p.billing_country)
        for charge_id, p in expected.payments.items()
    }
    assert got == want
    kinds = rows(
        f"""
        select
            count(*) filter (where capture_method = 'manual' and captured_minor = amount_minor),
            count(*) filter (where capture_method = 'manual' and captured_minor between 1
                             and amount_minor - 1),
            count(*) filter (where capture_method = 'manual' and status = 'succeeded'
                             and captured_minor = 0),
            count(*) filter (where status = 'pending'),
            count(*) filter (where payment_method_type <> 'card' and status = 'failed')
        from {gold(lake, "fct_payments")}
        """
    )[0]
    assert all(count > 0 for count in kinds), kinds
    no_address = rows(
        f"""
        select count(*) from {silver(lake, "charges")}
        where billing_country is null and card_country is not null
        """
    )[0][0]
    assert no_address > 0


def test_a_first_runs_mrr_is_every_subscriptions_mrr_now(lake: Path) -> None:
    """A first run lists every subscription, not only those of the last --days: each one's
    MRR in Gold is the billing engine's at the run (to the minor unit, every currency), and
    the month's closing MRR per currency is their sum."""
    dataset = Dataset(CONFIG)
    subscriptions = dataset.objects("subscriptions", NOW)
    want = {
        s["id"]: (s["currency"], subscription_mrr_at(dataset, s["id"], NOW)) for s in subscriptions
    }
    want = {sub_id: value for sub_id, value in want.items() if value[1]}
    created = [s["created"] for s in subscriptions if s["id"] in want]
    assert min(created) < NOW - DAYS * 86_400, "the lake needs subscriptions older than --days"
    got = rows(
        f"select subscription_id, currency, mrr_minor from {gold(lake, 'dim_subscriptions')} "
        "where mrr_minor <> 0"
    )
    assert {sub_id: (currency, mrr) for sub_id, currency, mrr in got} == want
    closing: dict[str, int] = {}
    for currency, mrr in want.values():
        closing[currency] = closing.get(currency, 0) + mrr
    month = rows(
        f"select currency, closing_mrr_minor from {gold(lake, 'agg_monthly_mrr')} "
        "where mrr_month = date '2026-02-01'"
    )
    assert dict(month) == closing and len(closing) == 6


def test_customers_without_email_and_taxed_invoices_reach_gold(lake: Path, expected) -> None:
    assert expected.customers_without_email
    no_email = {
        r[0]
        for r in rows(f"select customer_id from {gold(lake, 'dim_customers')} where email is null")
    }
    assert no_email == expected.customers_without_email
    tax = dict(
        rows(
            f"select currency, sum(tax_minor)::bigint from {gold(lake, 'fct_invoices')} group by 1"
        )
    )
    assert {c: t for c, t in tax.items() if t} == {
        c: t for c, t in expected.invoice_tax.items() if t
    }
    assert len([t for t in expected.invoice_tax.values() if t]) >= 3
    reasons = dict(
        rows(f"select billing_reason, count(*) from {gold(lake, 'fct_invoices')} group by 1")
    )
    assert reasons == expected.billing_reasons
    assert {"manual", "automatic_pending_invoice_item_invoice", "subscription_create"} <= set(
        reasons
    )


def test_payments_carry_exact_major_units(lake: Path) -> None:
    sample = rows(
        f"""
        select currency, amount_minor, amount, captured_minor, captured, refunded_minor,
               refunded, captured_less_refunded_minor, captured_less_refunded
        from {gold(lake, "fct_payments")}
        where currency in ('jpy', 'kwd', 'usd') and refunded_minor > 0
        order by currency, charge_id
        """
    )
    assert {row[0] for row in sample} == {"jpy", "kwd", "usd"}
    for row in sample:
        currency, amount_minor, amount, captured_minor, captured = row[:5]
        refunded_minor, refunded, kept_minor, kept = row[5:]
        assert amount == major(amount_minor, currency)
        assert captured == major(captured_minor, currency)
        assert refunded == major(refunded_minor, currency)
        assert kept_minor == captured_minor - refunded_minor
        assert kept == major(kept_minor, currency)


def test_invoices_match_the_mock_per_currency_and_status(lake: Path, expected) -> None:
    got = rows(
        f"""
        select currency, status, count(*), sum(amount_due_minor)::bigint,
               sum(amount_paid_minor)::bigint, sum(amount_remaining_minor)::bigint
        from {gold(lake, "fct_invoices")}
        group by 1, 2 order by 1, 2
        """
    )
    assert got == [(c, s, *expected.invoices[(c, s)]) for c, s in sorted(expected.invoices)]
    paid = rows(
        f"select min(days_to_pay), count(*) from {gold(lake, 'fct_invoices')} where status = 'paid'"
    )
    assert paid[0][0] >= 0 and paid[0][1] > 0


def test_deleted_customers_are_kept_and_flagged(lake: Path, expected) -> None:
    assert expected.deleted_customers, "the window should contain customer.deleted events"
    deleted = {
        r[0]
        for r in rows(
            f"select customer_id from {gold(lake, 'dim_customers')} "
            "where is_deleted and deleted_at is not null"
        )
    }
    assert deleted == expected.deleted_customers


def test_manifest_records_transform_and_gate(lake: Path) -> None:
    doc = json.loads((lake / "_state/manifests/run_first.json").read_text())
    assert doc["extract"]["status"] == "succeeded"
    assert doc["transform"]["status"] == "succeeded"
    assert doc["transform"]["counts_by_kind"]["model"] == {"success": MODELS}
    assert {m["name"] for m in doc["transform"]["models"]} >= {"fct_payments", "dim_customers"}
    assert doc["quality"]["status"] == "succeeded"
    assert doc["quality"]["failures"] == []
    assert doc["quality"]["tests"]["counts"]["pass"] > 50
    # Every watermarked source; the child stream and the snapshot have no freshness check.
    assert doc["quality"]["freshness"]["counts"] == {"pass": len(WATERMARKED_STREAMS)}


def test_no_node_pairs_every_row_of_one_table_with_every_row_of_another(
    lake: Path, tmp_path: Path
) -> None:
    """Every model, data test and unit test of the first build, run again from its compiled
    SQL with DuckDB's profiler: no join runs as a nested loop or cross product over two
    multi-row inputs (tests/dbt/query_plans.py), which would grow with the square of the
    account. Two did, an outer join on an OR each: the ledger's money-movement test and
    fct_mrr_movements' month-end versions."""
    storage = storage_for(Settings.from_env({"LAKE_ROOT": str(lake)}))
    compiled = lake_target_dir(storage) / "compiled"
    assert len(list(compiled.rglob("*.sql"))) > MODELS
    found = pairwise_joins_by_node(warehouse_path(storage), compiled, tmp_path)
    assert found == {}


def test_query_prints_gold(lake: Path, mock) -> None:
    result = run_cli(
        "query", "select count(*) as payments from fct_payments", lake=lake, api=mock.url
    )
    assert result.returncode == 0, result.stderr
    count = rows(f"select count(*) from {gold(lake, 'fct_payments')}")[0][0]
    assert "payments" in result.stdout and str(count) in result.stdout
    bad = run_cli("query", "select * from no_such_table", lake=lake, api=mock.url)
    assert bad.returncode == 1
    assert "query failed" in bad.stderr and "no_such_table" in bad.stderr


def test_rebuild_and_rerun_leave_silver_and_gold_identical(lake: Path, mock) -> None:
    before = content_digest(lake)  # every folder but the per-run balance snapshots
    assert len(before) == MODELS - len(PER_RUN_FOLDERS)
    snapshots = lake / "silver/source=stripe/entity=balance"
    assert snapshot_count(snapshots) == 1
    rebuilt = run_cli("run-transforms", "--run-id", "rebuild", lake=lake, api=mock.url)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert content_digest(lake) == before
    # The mock's clock has not moved: a second pipeline re-reads the safety window and the
    # balance, finds them unchanged, writes no Bronze (ADR 0057) and changes nothing downstream.
    bronze_before = sorted(lake.glob("bronze/**/*.jsonl"))
    rerun = run_cli(
        "run-pipeline", "--days", str(DAYS), "--run-id", "second", lake=lake, api=mock.url
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert sorted(lake.glob("bronze/**/*.jsonl")) == bronze_before
    second = json.loads((lake / "_state/manifests/run_second.json").read_text())
    assert second["extract"]["totals"]["records"] == 0
    assert second["extract"]["totals"]["unchanged_rereads"] > 0
    assert second["transform"]["fold"]["changed_sources"] == []
    assert content_digest(lake) == before
    assert snapshot_count(snapshots) == 1
    # Its freshness check read only the runs holding each source's newest lines (ADR 0057),
    # and found the newest `_loaded_at` of all of Bronze, source by source.
    storage = storage_for(Settings.from_env({"LAKE_ROOT": str(lake)}))
    checked = json.loads((lake_target_dir(storage) / "session-1-sources.json").read_text())
    found = {r["unique_id"].rsplit(".", 1)[1]: r["max_loaded_at"] for r in checked["results"]}
    assert set(found) == {s.name for s in WATERMARKED_STREAMS}
    for entity, max_loaded_at in found.items():
        newest = max(
            json.loads(line)["_loaded_at"]
            for part in lake.glob(f"bronze/source=stripe/entity={entity}/*/*/*.jsonl")
            for line in part.read_text().splitlines()
        )
        assert datetime.fromisoformat(max_loaded_at) == datetime.fromisoformat(newest), entity


def snapshot_count(folder: Path) -> int:
    return rows(f"select count(*) from read_parquet('{folder}/*/*.parquet')")[0][0]


def test_docs_site_builds_offline_and_describes_every_model_and_column(
    lake: Path, tmp_path: Path
) -> None:
    target = tmp_path / "docs"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "docs",
            "generate",
            "--static",
            "--project-dir",
            str(REPO_ROOT),
            "--profiles-dir",
            str(REPO_ROOT),
            "--target-path",
            str(target),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "LAKE_ROOT": str(lake)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (target / "static_index.html").stat().st_size > 100_000
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    models = {uid: node for uid, node in catalog["nodes"].items() if uid.startswith("model.")}
    assert len(models) == MODELS
    for uid, node in models.items():
        documented = manifest["nodes"][uid]
        assert documented["description"], uid
        # The columns the Parquet really has, every one described.
        undescribed = [
            column
            for column in node["columns"]
            if not documented["columns"].get(column, {}).get("description")
        ]
        assert undescribed == [], uid


def test_make_extract_then_plain_dbt_build_works_from_the_repo_root(mock, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    env = child_env(lake, mock.url, DAYS="2")
    extract = subprocess.run(
        ["make", "extract"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert extract.returncode == 0, extract.stdout[-2000:] + extract.stderr[-2000:]
    build = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build"],
        cwd=REPO_ROOT,
        env={**os.environ, "LAKE_ROOT": str(lake)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:]
    assert "Completed successfully" in build.stdout or "Completed with" in build.stdout
    assert list((lake / "gold/model=fct_payments").glob("dt=*/data_0.parquet"))
