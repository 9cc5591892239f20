"""Webhooks and batch reconciled end to end, on local disk and on moto S3.

The sender posts the mock's events as signed deliveries (duplicates, shuffled order, some
dropped) to the real receiver; the batch pipeline then reads the same mock over HTTP; Gold's
rpt_webhook_reconciliation must mark every delivered event `matched` and every dropped one
`missing_webhook`.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pytest

from extractor.lake.storage import storage_for
from extractor.settings import Settings
from extractor.streams import event_type_filters
from extractor.transform.dbt import warehouse_path
from extractor.transform.warehouse import connect
from mock_api.dataset import DAY, EVENT_TYPES, Dataset, MockConfig, parse_time
from tests.support.cli import child_env, run_cli
from tests.support.servers import REPO_ROOT, start_mock_api
from tests.webhooks.conftest import SECRET

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
SINCE = NOW - DAY


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


def reconcile(lake_root: str, tmp_path: Path, start_webhook_server) -> None:
    mock = start_mock_api({"MOCK_NOW": str(NOW)}, tmp_path / "mock")
    receiver = start_webhook_server(lake_root)
    env = child_env(lake_root, mock.url, STRIPE_WEBHOOK_SECRET=SECRET)
    try:
        sent = run(
            [
                sys.executable,
                "-m",
                "mock_api.send_webhooks",
                "--to",
                f"{receiver.url}/webhooks/stripe",
                "--secret",
                SECRET,
                "--now",
                str(NOW),
                "--since",
                str(SINCE),
                "--duplicate-rate",
                "0.2",
                "--drop-rate",
                "0.03",
                "--reorder",
                "--concurrency",
                "4",
                "--seed",
                "7",
                # The endpoint subscribes to what the batch reads, as a Stripe endpoint's
                # enabled_events would: every delivered event can then be matched.
                *[arg for t in event_type_filters() for arg in ("--enabled-events", t)],
            ],
            env,
        )
        assert sent.returncode == 0, sent.stderr[-3000:]
        summary = json.loads(sent.stdout.strip().splitlines()[-1])
        assert summary["duplicated"] > 0 and summary["dropped"] > 0

        pipeline = run_cli("run-pipeline", "--days", "3", "--run-id", "rec", env=env)
    finally:
        mock.stop()
    assert pipeline.returncode == 0, pipeline.stderr[-4000:]

    subscribed = tuple(
        t for t in EVENT_TYPES if any(fnmatch.fnmatchcase(t, p) for p in event_type_filters())
    )
    events = {
        e["id"]: e["created"]
        for e in Dataset(MockConfig()).events(NOW, subscribed)
        if e["created"] >= SINCE
    }
    dropped = set(summary["dropped_ids"])
    delivered = set(events) - dropped
    assert len(delivered) == summary["events"] - summary["dropped"]

    settings = Settings.from_env(env)
    storage = storage_for(settings)
    con = connect(warehouse_path(storage), storage, settings)
    report = {
        row[0]: row[1:]
        for row in con.sql(
            "select event_id, reconciliation_status, matched_by, is_in_webhook_coverage "
            "from rpt_webhook_reconciliation"
        ).fetchall()
    }
    con.close()
    assert {e for e, r in report.items() if r[0] == "matched"} == delivered
    # An event at the clock itself (a payout paid at midnight) is after the batch's window
    # (created < run start): its webhook matches by the object the batch listed.
    at_clock = {e for e in delivered if events[e] >= NOW}
    assert all(report[e][1] == ("object" if e in at_clock else "event") for e in delivered)
    first_webhook = min(events[e] for e in delivered)
    for event_id in dropped:
        if events[event_id] >= NOW:  # seen by neither path
            assert event_id not in report
            continue
        assert report[event_id][0] == "missing_webhook"
        assert report[event_id][2] == (events[event_id] >= first_webhook)
    # Older batch events (before the receiver listened) are outside webhook coverage.
    older = {e for e, r in report.items() if e not in events}
    assert older and all(report[e] == ("missing_webhook", None, False) for e in older)
    statuses = {r[0] for r in report.values()}
    assert statuses <= {"matched", "missing_webhook"}

    covered_missing = sum(1 for e in dropped if first_webhook <= events[e] < NOW)
    assert f"webhook reconciliation: matched {len(delivered)}, " in pipeline.stdout
    assert f"missing_webhook {covered_missing}" in pipeline.stdout
    assert "quality gate passed" in pipeline.stdout
    manifest = (
        Path(lake_root) / "_state/manifests/run_rec.json"
        if not lake_root.startswith("s3://")
        else None
    )
    if manifest is not None:
        quality = json.loads(manifest.read_text())["quality"]
        assert quality["webhook_reconciliation"]["matched"] == len(delivered)
        assert "assert_no_old_webhook_mismatches" in {w["name"] for w in quality["warnings"]}


def test_reconciliation_on_local_disk(tmp_path: Path, start_webhook_server) -> None:
    reconcile(str(tmp_path / "lake"), tmp_path, start_webhook_server)


def test_reconciliation_on_s3(s3_lake: dict[str, str], tmp_path: Path, start_webhook_server):
    reconcile(s3_lake["LAKE_ROOT"], tmp_path, start_webhook_server)
