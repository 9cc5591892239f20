"""A webhook capture DuckDB cannot read is quarantined, visibly, instead of failing every build
(issue 16): the rest builds, the gate warns naming it, Bronze keeps it byte for byte, and once
it is fixed the next build reads it. On local disk and on moto S3.

The lake is a brand-new account's (the mock's lists are empty, so extraction is quick) plus two
captures written as an older receiver could have: one valid, one with a duplicate key.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from extractor.lake import layout
from extractor.lake.storage import Storage, storage_for
from extractor.settings import Settings
from mock_api.dataset import parse_time
from tests.support.cli import child_env, run_cli
from tests.support.servers import start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
GOOD = layout.webhook_event_key("2026-02-19", "evt_readable")
BAD = layout.webhook_event_key("2026-02-19", "evt_duplicate_key")


def capture(event_id: str, extra: str = "") -> bytes:
    """A capture in the receiver's envelope, pretty-printed; `extra` goes inside `data`."""
    return (
        "{\n"
        '  "_run_id": null, "_loaded_at": "2026-02-19T12:00:01Z",\n'
        '  "_received_at": "2026-02-19T12:00:01Z", "_observed_at": 1771502400,\n'
        f'  "_source": "webhook", "_event_id": "{event_id}", "_event_type": "charge.succeeded",\n'
        f'  "data": {{"id": "{event_id}", "object": "event", "type": "charge.succeeded",{extra}\n'
        '    "created": 1771502400, "livemode": false,\n'
        '    "data": {"object": {"id": "ch_q", "object": "charge", "amount": 100}}}\n'
        "}\n"
    ).encode()


# Python's json keeps the last of two equal keys; DuckDB refuses the whole file.
BAD_BYTES = capture("evt_duplicate_key", ' "type": "charge.failed",')


@pytest.fixture(params=["local", "s3"])
def env(request, tmp_path: Path) -> dict[str, str]:
    if request.param == "local":
        return child_env(str(tmp_path / "lake"))
    return child_env(**request.getfixturevalue("s3_lake"))


def silver_event_ids(storage: Storage, tmp_path: Path) -> list[str]:
    """The event ids in Silver, read from a copy of its Parquet files (not through the CLI)."""
    copy = tmp_path / f"silver-{len(list(tmp_path.glob('silver-*')))}"
    for key in storage.list(layout.silver_entity(layout.WEBHOOK_ENTITY)):
        if key.endswith(".parquet"):
            (copy / key).parent.mkdir(parents=True, exist_ok=True)
            (copy / key).write_bytes(storage.get(key))
    files = sorted(copy.glob("**/*.parquet"))
    if not files:
        return []
    paths = ", ".join(f"'{f}'" for f in files)
    found = duckdb.sql(f"select event_id from read_parquet([{paths}]) order by 1").fetchall()
    return [row[0] for row in found]


def test_an_unreadable_capture_is_quarantined_then_read_once_fixed(
    env: dict[str, str], tmp_path: Path
) -> None:
    storage = storage_for(Settings.from_env(env))
    storage.put(GOOD, capture("evt_readable"))
    storage.put(BAD, BAD_BYTES)
    mock = start_mock_api({"MOCK_NOW": str(NOW), "MOCK_START_DATE": "2026-03-01"}, tmp_path)
    try:
        run = run_cli("run-pipeline", "--days", "3", "--run-id", "q1", env={
            **env, "STRIPE_API_BASE": mock.url})  # fmt: skip
    finally:
        mock.stop()
    assert run.returncode == 0, run.stderr[-4000:]

    # The summary and the gate name the file; the log has DuckDB's reason.
    assert "1 unreadable webhook capture(s) quarantined" in run.stdout
    assert f"  {BAD}: Invalid Input Error: JSON transform error in file" in run.stdout
    # Two warnings: the quarantine, and the readable capture's event, which the batch never
    # read (the account is empty) although it read the events feed 12 h past it.
    assert "run q1 quality gate passed with 2 warnings" in run.stdout
    warning = "WARNING 1 webhook capture(s) quarantined as unreadable"
    assert f"{warning} (see {layout.QUARANTINE_KEY}): {BAD}" in run.stdout
    logged = [
        json.loads(line)
        for line in run.stderr.splitlines()
        if '"webhook_capture_quarantined"' in line
    ]
    assert [(x["level"], x["key"]) for x in logged] == [("warning", BAD)]
    assert 'has duplicate key "type"' in logged[0]["reason"]

    record = json.loads(storage.get(layout.QUARANTINE_KEY))
    assert [f["key"] for f in record["files"]] == [BAD]
    assert 'has duplicate key "type"' in record["files"][0]["reason"]
    manifest = json.loads(storage.get(layout.manifest_key("q1")))
    assert manifest["transform"]["quarantined_captures"] == record["files"]
    assert manifest["quality"]["quarantined_captures"] == 1
    assert [(w["kind"], w["name"]) for w in manifest["quality"]["warnings"]] == [
        ("test", "assert_no_old_webhook_mismatches"),
        ("quarantine", BAD),
    ]
    # Silver has the readable event; Bronze still holds the bad file, byte for byte.
    assert silver_event_ids(storage, tmp_path) == ["evt_readable"]
    assert storage.get(BAD) == BAD_BYTES

    # Fixed by hand: the next build reads it, and the record empties.
    storage.put(BAD, capture("evt_duplicate_key"))
    fixed = run_cli("run-transforms", "--run-id", "q2", env=env)
    assert fixed.returncode == 0, fixed.stderr[-4000:]
    assert "quarantined" not in fixed.stdout
    assert json.loads(storage.get(layout.QUARANTINE_KEY))["files"] == []
    assert silver_event_ids(storage, tmp_path) == ["evt_duplicate_key", "evt_readable"]
