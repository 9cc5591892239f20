"""profiles.yml's dbt threads: 2 by default, DBT_THREADS for large lakes (docs/benchmarks.md,
"10M charges in one piece": two spilling nodes side by side under one DuckDB memory limit
do not fit at 10M charges, one at a time does)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT

DBT = str(Path(sys.executable).parent / "dbt")

# Two real `dbt seed` runs (about 15 s each).
pytestmark = pytest.mark.slow


def dbt_seed_concurrency(tmp_path: Path, **env: str) -> int:
    """The number of threads dbt reports for a seed into an empty lake on the local target."""
    lake = tmp_path / "lake"
    (lake / "_state").mkdir(parents=True)
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DBT_THREADS", "WAREHOUSE_PATH", "LAKE_ROOT")
    }
    environment.update(LAKE_ROOT=str(lake), DBT_SEND_ANONYMOUS_USAGE_STATS="false", **env)
    result = subprocess.run(
        [DBT, "seed", "--project-dir", ".", "--profiles-dir", "."]
        + ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    found = re.search(r"Concurrency: (\d+) threads \(target='local'\)", result.stdout)
    assert found, result.stdout[-3000:]
    return int(found.group(1))


@pytest.mark.parametrize(("env", "threads"), [({}, 2), ({"DBT_THREADS": "1"}, 1)])
def test_dbt_threads_default_to_two_and_follow_dbt_threads(
    tmp_path: Path, env: dict[str, str], threads: int
) -> None:
    assert dbt_seed_concurrency(tmp_path, **env) == threads
