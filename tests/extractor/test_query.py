"""`payments-pipeline query` reads the lake and nothing else: no writes, no secrets shown."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from extractor.cli import main
from extractor.lake.storage import storage_for
from extractor.settings import Settings
from extractor.transform.dbt import warehouse_path

GOLD_FILE = "gold/model=agg_daily_revenue/dt=2026-01-01/data_0.parquet"


def make_warehouse(path: Path, select: str) -> None:
    """A warehouse like dbt's: a view over the lake."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"create or replace view agg_daily_revenue as {select}")
    con.close()


@pytest.fixture
def local_lake(tmp_path: Path, monkeypatch) -> Path:
    lake = tmp_path / "lake"
    (lake / GOLD_FILE).parent.mkdir(parents=True)
    duckdb.sql(f"copy (select 'usd' as currency, 1200 as net_minor) to '{lake / GOLD_FILE}'")
    make_warehouse(
        lake / "_state" / "warehouse.duckdb", f"select * from read_parquet('{lake / GOLD_FILE}')"
    )
    monkeypatch.setenv("LAKE_ROOT", str(lake))
    return lake


def test_a_select_prints_its_rows(local_lake: Path, capsys) -> None:
    assert main(["query", "select currency, net_minor from agg_daily_revenue"]) == 0
    out = capsys.readouterr().out
    assert "usd" in out and "1200" in out


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("copy (select 'x' as currency) to '{gold}'", "COPY"),
        ("export database '{lake}/exported'", "EXPORT"),
        ("attach '{lake}/other.duckdb' as other", "ATTACH"),
        ("create table t as select 1", "CREATE"),
        ("set allow_unredacted_secrets = true", "SET"),
        ("select 1; copy (select 1) to '{lake}/x.csv'", "COPY"),
        ("install httpfs", "LOAD"),
    ],
)
def test_statements_that_could_write_are_refused(local_lake, capsys, sql, kind) -> None:
    before = sorted(p.relative_to(local_lake) for p in local_lake.rglob("*"))
    gold_bytes = (local_lake / GOLD_FILE).read_bytes()
    code = main(["query", sql.format(gold=local_lake / GOLD_FILE, lake=local_lake)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"payments-pipeline: error: query is read-only: {kind}"), err
    assert sorted(p.relative_to(local_lake) for p in local_lake.rglob("*")) == before
    assert (local_lake / GOLD_FILE).read_bytes() == gold_bytes


@pytest.mark.integration
def test_no_secret_of_an_s3_lake_is_printed(s3_lake, capsys, monkeypatch) -> None:
    secret = "query-test-secret-9f3a"  # moto takes any; MOTO_ENV's equals its key id
    token = "query-test-session-token-51c7"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    settings = Settings.from_env()
    storage = storage_for(settings)
    make_warehouse(warehouse_path(storage), "select 'usd' as currency")
    assert main(["query", "select * from duckdb_secrets()", "--max-rows", "100"]) == 0
    assert main(["query", "select name, value from duckdb_settings()", "--max-rows", "1000"]) == 0
    out = capsys.readouterr().out
    assert "lake_s3" in out and "redacted" in out
    assert secret not in out and token not in out
    assert main(["query", "select * from duckdb_secrets(redact = false)"]) == 1
    err = capsys.readouterr().err
    assert "unredacted secrets is disabled" in err and secret not in err and token not in err


def test_views_over_a_moved_lake_are_refused_not_read(
    local_lake: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    moved = tmp_path / "moved"
    local_lake.rename(moved)
    (tmp_path / "lake" / GOLD_FILE).parent.mkdir(parents=True)  # the old path, with other data
    duckdb.sql(
        f"copy (select 'eur' as currency, 1 as net_minor) to '{tmp_path / 'lake' / GOLD_FILE}'"
    )
    monkeypatch.setenv("LAKE_ROOT", str(moved))
    assert main(["query", "select * from agg_daily_revenue"]) == 1
    err = capsys.readouterr().err
    assert f"holds views over the lake at {tmp_path / 'lake'}, not {moved}" in err
    assert "run `payments-pipeline run-transforms` to rebuild them" in err
