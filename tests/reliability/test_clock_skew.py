"""A watermark later than the API's clock stops the run: nothing read, nothing committed.

Reproduces the case where the clock moves back between runs (the mock's clock is moved back
an hour): extracting on would read `[clock, clock)`, exit 0 and skip, for good, everything
created before the clock caught up with the watermark.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from extractor.cli import main
from extractor.lake.manifest import read_manifest
from extractor.lake.storage import LocalStorage
from extractor.lake.watermarks import iso, read_watermark
from extractor.streams import ALL_STREAMS
from mock_api.dataset import parse_time
from tests.support.servers import set_clock

pytestmark = pytest.mark.integration

NOW = parse_time("2026-02-20T00:00:00Z")


def test_clock_moved_back_stops_with_entity_watermark_and_clock(
    mock_api, tmp_path: Path, monkeypatch, capsys
) -> None:
    mock = mock_api(MOCK_NOW=NOW)
    lake = tmp_path / "lake"
    monkeypatch.delenv("RUN_ID", raising=False)
    monkeypatch.setenv("LAKE_ROOT", str(lake))
    monkeypatch.setenv("STRIPE_API_BASE", mock.url)
    monkeypatch.setenv("STRIPE_RATE_LIMIT_RPS", "1000")
    storage = LocalStorage(lake)

    assert main(["run-all", "--days", "1", "--run-id", "base"]) == 0
    out = capsys.readouterr().out
    # The summary shows the state each window was cut from and what the run left.
    assert f"; watermark none -> {iso(NOW)}" in out
    before = {s.name: read_watermark(storage, s.name) for s in ALL_STREAMS}

    set_clock(mock.url, NOW - 3600)
    assert main(["run-all", "--run-id", "back"]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"payments-pipeline: error: run back failed: customers: the watermark {iso(NOW)} is "
        rf"3600 s later than the API's clock {iso(NOW - 3600)} \(its Date header\): .*",
        line,
    ), line
    assert {s.name: read_watermark(storage, s.name) for s in ALL_STREAMS} == before
    manifest = read_manifest(storage, "back")["extract"]
    assert manifest["status"] == "failed"
    assert manifest["error"]["type"] == "WatermarkAhead"
    assert not list(storage.list("bronze/source=stripe/entity=charges/dt=2026-02-19/run_id=back/"))
    assert storage.get("_state/lock.json") is None

    # Once the clock has passed the watermark, the next run goes on from it.
    set_clock(mock.url, NOW + 3600)
    assert main(["run-all", "--run-id", "later"]) == 0
    after = read_watermark(storage, "charges")
    assert after is not None and after.watermark == NOW + 3600
