"""`make demo`'s program on a fresh lake: starts the mock, runs the pipeline, summarises the
layers and the gate, prints an example query, stops the mock."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_extracts_into_a_fresh_lake_and_stops_what_it_started(tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
        "LAKE_ROOT": str(tmp_path / "lake"),
        "MOCK_NOW": "2026-02-01T00:00:00Z",
        "STRIPE_RATE_LIMIT_RPS": "200",
        "DAYS": "2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "extractor.demo"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"started the mock Stripe API at http://127.0.0.1:{port}" in result.stdout
    out = result.stdout
    assert "quality gate passed" in out
    assert "Quality gate: succeeded" in out
    layer_rows = {
        parts[0]: (int(parts[1]), int(parts[2]))
        for parts in (line.split() for line in out.splitlines())
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit()
    }
    assert set(layer_rows) == {"customers", "charges", "payment_intents", "invoices", "events"}
    # Bronze keeps every copy; Silver has one row per object, never more.
    assert all(0 < silver <= bronze for bronze, silver in layer_rows.values())
    gold_rows = {
        parts[0]: int(parts[1])
        for parts in (line.split() for line in out.splitlines())
        if len(parts) == 3 and parts[2] == "rows"
    }
    assert set(gold_rows) == {"dim_customers", "fct_payments", "fct_invoices", "agg_daily_revenue"}
    assert gold_rows["fct_payments"] == layer_rows["charges"][1]
    assert 'Example query: payments-pipeline query "select currency' in out
    for currency in ("jpy", "krw", "kwd", "usd"):
        assert f"│ {currency}" in out
    assert "stopped the mock Stripe API" in out
    report = next(line for line in out.splitlines() if line.startswith("Run report: "))
    report_path = Path(report.removeprefix("Run report: "))
    assert report_path.is_file() and "<svg" in report_path.read_text()
    assert list((tmp_path / "lake" / "gold" / "model=agg_daily_revenue").glob("dt=*/*.parquet"))
    assert list((tmp_path / "lake" / "_state" / "manifests").glob("run_*.json"))
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
