"""A webhook the batch never reads turns `missing_in_batch` on a quiet account too.

The reconciliation's batch horizon is how far the batch has read the events feed: the events
watermark. A run that only re-reads unchanged events writes no events page (ADR 0057), and
an account with no events has none at all, so the newest page would stop short. And a run
with nothing new keeps Gold (ADR 0054) but still moves the watermark, so while Gold holds
`pending` events that build rebuilds the reconciliation model.

The account is brand-new (the mock's lists are empty: MOCK_START_DATE after its clock), so
the batch reads no event at all; two captures are written as the receiver writes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractor.lake import layout
from extractor.lake.storage import LocalStorage
from extractor.settings import Settings
from extractor.transform.dbt import warehouse_path
from extractor.transform.warehouse import connect
from mock_api.dataset import HOUR, parse_time
from tests.support.cli import child_env, run_cli
from tests.support.servers import start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
OLD = NOW - 2 * HOUR  # older than the 600 s safety window when the batch reads up to NOW
RECENT = NOW - 300  # within it: pending after a run at NOW, past it after a run an hour later


def capture(event_id: str, created: int) -> bytes:
    """A capture in the receiver's envelope (tests/dbt/test_capture_quarantine.py's shape)."""
    return json.dumps(
        {
            "_run_id": None,
            "_loaded_at": "2026-02-19T23:59:59Z",
            "_received_at": "2026-02-19T23:59:59Z",
            "_observed_at": created,
            "_source": "webhook",
            "_event_id": event_id,
            "_event_type": "charge.succeeded",
            "data": {
                "id": event_id,
                "object": "event",
                "type": "charge.succeeded",
                "created": created,
                "livemode": False,
                "data": {"object": {"id": f"ch_{event_id}", "object": "charge", "amount": 100}},
            },
        },
        indent=2,
    ).encode()


def statuses(lake: Path) -> dict[str, str]:
    storage = LocalStorage(lake)
    con = connect(warehouse_path(storage), storage, Settings(lake_root=str(lake)))
    try:
        found = con.sql(
            "select event_id, reconciliation_status from rpt_webhook_reconciliation"
        ).fetchall()
    finally:
        con.close()
    return dict(found)


def mismatch_warning(lake: Path, run_id: str) -> int | None:
    """How many rows the gate's mismatch test warned about in that run (None: no warning)."""
    manifest = json.loads((lake / f"_state/manifests/run_{run_id}.json").read_text())
    for warning in manifest["quality"]["warnings"]:
        if warning["name"] == "assert_no_old_webhook_mismatches":
            return warning["failures"]
    return None


def test_the_events_watermark_moves_the_horizon_without_new_events(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    storage = LocalStorage(lake)
    storage.put(layout.webhook_event_key("2026-02-19", "evt_old"), capture("evt_old", OLD))
    storage.put(layout.webhook_event_key("2026-02-19", "evt_recent"), capture("evt_recent", RECENT))
    mock = start_mock_api({"MOCK_NOW": str(NOW), "MOCK_START_DATE": "2026-03-01"}, tmp_path)
    env = child_env(lake, mock.url)
    try:
        first = run_cli("run-pipeline", "--days", "3", "--run-id", "first", env=env)
        assert first.returncode == 0, first.stderr[-4000:]
        # No batch event ever: the batch read the feed up to NOW all the same.
        assert statuses(lake) == {"evt_old": "missing_in_batch", "evt_recent": "pending"}
        assert mismatch_warning(lake, "first") == 1

        mock.set_clock(NOW + HOUR)
        second = run_cli("run-pipeline", "--run-id", "second", env=env)
    finally:
        mock.stop()
    assert second.returncode == 0, second.stderr[-4000:]
    fold = json.loads((lake / "_state/manifests/run_second.json").read_text())["transform"]
    assert fold["fold"]["models"] == (
        "skipped: nothing new since the last passing build (only the time-dependent tests "
        "ran; refreshed: rpt_webhook_reconciliation)"
    )
    assert statuses(lake) == {"evt_old": "missing_in_batch", "evt_recent": "missing_in_batch"}
    assert mismatch_warning(lake, "second") == 2
    assert "webhook reconciliation: missing_in_batch 2" in second.stdout

    # Nothing pending any more: the next run with nothing new rebuilds nothing.
    third = run_cli("run-transforms", "--run-id", "third", env=env)
    assert third.returncode == 0, third.stderr[-4000:]
    fold = json.loads((lake / "_state/manifests/run_third.json").read_text())["transform"]
    assert fold["fold"]["models"].endswith("(only the time-dependent tests ran)")
