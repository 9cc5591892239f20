"""bench/dbt_floor.py: the generated project holds the nodes the row claims, and they run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import dbt_floor


def test_the_floor_project_builds_exactly_the_counted_nodes(tmp_path: Path) -> None:
    counts = {"model": 3, "seed": 1, "test": 4, "unit_test": 2}
    project = tmp_path / "floor"
    dbt_floor.write_project(project, counts, threads="2")
    out = tmp_path / "out"
    done = subprocess.run(
        dbt_floor.dbt_args("build", project, out),
        env={**dbt_floor.dbt_env(tmp_path / "lake"), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    results = json.loads((out / "target" / "run_results.json").read_text())["results"]
    kinds: dict[str, list[str]] = {}
    for result in results:
        kinds.setdefault(result["unique_id"].split(".")[0], []).append(result["status"])
    assert {kind: len(statuses) for kind, statuses in kinds.items()} == counts
    # Every test selects nothing and every unit test expects the row its model gives.
    assert set(kinds["test"]) == set(kinds["unit_test"]) == {"pass"}
    assert set(kinds["model"]) == set(kinds["seed"]) == {"success"}


def test_the_allowance_is_goal_1s_from_the_dbt_rows_script(tmp_path: Path) -> None:
    result = tmp_path / "dbt_bench.json"
    result.write_text(json.dumps({"summary": {"baseline script": {"median_wall_seconds": 6.0}}}))
    assert dbt_floor.allowance_from(result) == {"script": 6.0, "seconds": 12.0}
    assert dbt_floor.allowance_from(tmp_path / "missing.json") is None
    result.write_text(json.dumps({"summary": {}}))
    assert dbt_floor.allowance_from(result) is None
