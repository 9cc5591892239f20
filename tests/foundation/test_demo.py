"""`make demo`'s program on a fresh lake: starts the mock, extracts, summarises, stops the mock."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

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
    lines = dict(
        line.split()[:2]
        for line in result.stdout.splitlines()
        if line.startswith("  ") and len(line.split()) == 2
    )
    assert set(lines) == {"customers", "charges", "payment_intents", "invoices", "events"}
    assert all(int(count) > 0 for count in lines.values())
    assert "NOT BUILT YET" in result.stdout
    assert "Revenue per currency" in result.stdout
    for currency in ("jpy", "krw", "kwd", "usd"):
        assert f"│ {currency}" in result.stdout
    assert list((tmp_path / "lake" / "gold" / "model=agg_daily_revenue").glob("dt=*/*.parquet"))
    assert list((tmp_path / "lake" / "_state" / "manifests").glob("run_*.json"))
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
