"""A relative LAKE_ROOT means the caller's folder for every part of a run, dbt included.

dbt runs from the checkout, so a relative root handed to it as written would build the
checkout's lake (or fail creating `./<root>/silver/...`) while the extractor wrote elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_api.dataset import parse_time
from tests.support.cli import run_cli
from tests.support.servers import REPO_ROOT, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")


def test_run_pipeline_from_another_folder_builds_the_lake_there(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    mock = start_mock_api({"MOCK_NOW": str(NOW), "MOCK_VOLUME": "20"}, tmp_path / "mock")
    try:
        done = run_cli(
            "run-pipeline",
            "--days",
            "2",
            "--run-id",
            "relative-run",
            lake="rel/lake",
            api=mock.url,
            cwd=work,
        )
    finally:
        mock.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    lake = work / "rel" / "lake"
    assert (lake / "_state" / "manifests" / "run_relative-run.json").exists()
    assert list((lake / "silver/source=stripe/entity=charges").glob("dt=*/*.parquet"))
    assert list((lake / "gold/model=fct_payments").glob("dt=*/*.parquet"))
    assert (lake / "_state" / "warehouse.duckdb").exists()
    # Nothing of this run went to the checkout's default lake or to a root relative to it.
    assert not (REPO_ROOT / "_local_data/_state/manifests/run_relative-run.json").exists()
    assert not (REPO_ROOT / "rel").exists()
