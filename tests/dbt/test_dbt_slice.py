"""First dbt slice: Bronze from the real mock -> stg_stripe__charges -> agg_daily_revenue.

Gold must equal figures computed independently from the mock's own objects, per currency,
to the minor unit, and a second `dbt build` must leave the Parquet content unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from mock_api.dataset import CURRENCY_EXPONENT, Dataset, MockConfig, parse_time
from tests.support.servers import REPO_ROOT, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-01T00:00:00Z")
CONFIG = MockConfig(seed=42, start_date="2026-01-01", volume=200)
DBT = str(Path(sys.executable).parent / "dbt")


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dbt") / "lake"
    mock = start_mock_api({"MOCK_NOW": str(NOW)})
    env = {
        **os.environ,
        "STRIPE_API_BASE": mock.url,
        "LAKE_ROOT": str(root),
        "STRIPE_RATE_LIMIT_RPS": "500",
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "extractor", "run-all", "--days", "3"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        mock.stop()
    # DuckDB creates a partitioned write's folder but not its parents (see the closing note).
    (root / "silver" / "source=stripe").mkdir(parents=True)
    (root / "gold").mkdir()
    return root


def dbt_build(lake: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DBT, "build", "--project-dir", ".", "--profiles-dir", "."],
        cwd=REPO_ROOT,
        env={**os.environ, "LAKE_ROOT": str(lake)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def gold_rows(lake: Path) -> list[tuple]:
    return duckdb.sql(
        f"""
        select currency, sum(gross_minor)::bigint, sum(refunded_minor)::bigint,
               sum(succeeded_count)::bigint, sum(failed_count)::bigint, sum(gross)
        from read_parquet('{lake}/gold/model=agg_daily_revenue/*/*.parquet')
        group by 1 order by 1
        """
    ).fetchall()


def test_gold_matches_the_mock_and_a_rebuild_changes_nothing(lake: Path) -> None:
    first = dbt_build(lake)
    assert first.returncode == 0, first.stdout[-3000:]

    silver_ids = [
        row[0]
        for row in duckdb.sql(
            f"select charge_id from read_parquet('{lake}/silver/source=stripe/"
            "entity=charges/*/*.parquet')"
        ).fetchall()
    ]
    assert len(silver_ids) == len(set(silver_ids)) > 0

    # Independent figures: each charge's true state at NOW, straight from the mock.
    dataset = Dataset(CONFIG)
    want: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0])
    for charge_id in silver_ids:
        charge = dataset.retrieve(charge_id, NOW, "charges")
        totals = want[charge["currency"]]
        if charge["status"] == "succeeded":
            totals[0] += charge["amount"]
            totals[1] += charge["amount_refunded"]
            totals[2] += 1
        else:
            totals[3] += 1

    got = gold_rows(lake)
    gold_glob = f"{lake}/gold/model=agg_daily_revenue/*/*.parquet"
    described = duckdb.sql(f"describe select * from read_parquet('{gold_glob}')").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types["gross_minor"] == "BIGINT" and types["refunded_minor"] == "BIGINT"
    assert types["gross"].startswith("DECIMAL")
    assert [row[:5] for row in got] == [(cur, *want[cur]) for cur in sorted(want)]
    assert {"jpy", "krw", "kwd"} <= set(want)
    for currency, gross_minor, *_rest, gross in got:
        expected = Decimal(gross_minor) / (10 ** CURRENCY_EXPONENT[currency])
        assert Decimal(str(gross)) == expected, currency

    files_before = sorted(p.relative_to(lake) for p in lake.glob("silver/**/*.parquet"))
    second = dbt_build(lake)
    assert second.returncode == 0, second.stdout[-3000:]
    assert gold_rows(lake) == got
    assert sorted(p.relative_to(lake) for p in lake.glob("silver/**/*.parquet")) == files_before
