"""Resources with no objects are normal: an account that never used Invoicing, and a brand-new
account with nothing at all, run `run-pipeline` twice with exit 0 (Silver and Gold empty for
them, the gate green); the first invoice that appears later flows through to Gold."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from extractor.streams import WATERMARKED_STREAMS
from mock_api.dataset import DAY, Dataset, MockConfig, parse_time
from tests.support.cli import run_cli
from tests.support.servers import start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
LATER = NOW + 2 * DAY
FIRST_INVOICES = NOW + DAY  # the account starts using Invoicing a day after the first runs
# Without Invoicing there are no subscriptions either: each one bills through invoices.
NO_INVOICING = "invoices=never,subscriptions=never"


def pipeline(lake: Path, mock_url: str, run_id: str) -> str:
    done = run_cli("run-pipeline", "--days", "3", "--run-id", run_id, lake=lake, api=mock_url)
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"run {run_id} quality gate passed" in done.stdout
    return done.stdout


def count(lake: Path, table: str, where: str = "true") -> int:
    con = duckdb.connect(str(lake / "_state" / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(f"select count(*) from {table} where {where}").fetchone()[0]
    finally:
        con.close()


def manifest(lake: Path, run_id: str) -> dict:
    return json.loads((lake / "_state" / "manifests" / f"run_{run_id}.json").read_text())


def test_an_account_without_invoices_then_its_first_invoices(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    mock = start_mock_api(
        {"MOCK_NOW": str(NOW), "MOCK_VOLUME": "20", "MOCK_RESOURCE_START": NO_INVOICING},
        tmp_path / "mock1",
    )
    try:
        for run_id in ("first", "second"):
            pipeline(lake, mock.url, run_id)
            invoices = manifest(lake, run_id)["extract"]["entities"]["invoices"]
            assert (invoices["records"], invoices["files"]) == (0, [])
            assert invoices["watermark_after"] == NOW  # the empty window is recorded
        assert count(lake, "stg_stripe__invoices") == 0
        assert count(lake, "fct_invoices") == 0
        for billing in ("subscriptions", "subscription_versions", "invoice_line_items"):
            assert count(lake, f"stg_stripe__{billing}") == 0
        assert count(lake, "stg_stripe__charges") > 0
        assert not list((lake / "bronze/source=stripe/entity=invoices").glob("**/*.jsonl"))
    finally:
        mock.stop()

    starts = f"invoices={FIRST_INVOICES},subscriptions={FIRST_INVOICES}"
    mock = start_mock_api(
        {"MOCK_NOW": str(LATER), "MOCK_VOLUME": "20", "MOCK_RESOURCE_START": starts},
        tmp_path / "mock2",
    )
    try:
        pipeline(lake, mock.url, "third")
    finally:
        mock.stop()
    config = MockConfig(
        volume=20,
        resource_start=(("invoices", FIRST_INVOICES), ("subscriptions", FIRST_INVOICES)),
    )
    invoices = Dataset(config).objects("invoices", LATER)
    truth = {i["id"] for i in invoices}
    assert truth, "the mock should have created invoices by then"
    assert count(lake, "stg_stripe__invoices") == len(truth)
    assert count(lake, "fct_invoices") == len(truth)
    # Every invoice here embeds all its lines.
    lines = sum(len(i["lines"]["data"]) for i in invoices if not i["lines"]["has_more"])
    assert lines and all(not i["lines"]["has_more"] for i in invoices)
    assert count(lake, "stg_stripe__invoice_line_items") == lines
    # The empty models' placeholders (a null `dt` partition) did not outlive their first rows,
    # although this build only rebuilt what lies downstream of new data (ADR 0056).
    for folder in ("silver/source=stripe/entity=invoices", "gold/model=fct_invoices"):
        assert not list((lake / folder).glob("dt=__HIVE_DEFAULT_PARTITION__/*")), folder


def test_a_brand_new_account_with_nothing_at_all(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    # The account opens after the mock's clock: every list and the event feed are empty.
    mock = start_mock_api(
        {"MOCK_NOW": str(NOW), "MOCK_START_DATE": "2026-03-01"}, tmp_path / "mock"
    )
    try:
        # Nothing but the balance snapshot: even an empty account has a balance. The second
        # run reads the same balance and does not write it again (ADR 0057).
        for run_id, records in (("first", 1), ("second", 0)):
            out = pipeline(lake, mock.url, run_id)
            assert f"total {records} records" in out
    finally:
        mock.stop()
    for table in ("stg_stripe__customers", "stg_stripe__events", "fct_payments", "dim_customers"):
        assert count(lake, table) == 0, table
    marks = sorted(p.name for p in (lake / "_state" / "watermarks").iterdir())
    # Every watermarked stream confirmed its empty window (a child stream and the snapshot
    # have no watermark).
    entities = manifest(lake, "first")["extract"]["entities"]
    assert marks == sorted(f"{s.name}.json" for s in WATERMARKED_STREAMS)
    assert {s.name for s in WATERMARKED_STREAMS} <= set(entities)
