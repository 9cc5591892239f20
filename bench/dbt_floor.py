"""dbt-core's own floor: `dbt build` of a project whose SQL does nothing, with as many nodes
as ours.

    .venv/bin/python bench/dbt_floor.py [--runs 3] [--dbt-result bench/results/dbt_bench.json]

Goal 1 of issue 19 allows `dbt build` 1.5× a hand-written DuckDB script + 3 s. Part of any
build is dbt's work per node (compiling, its events, a connection, BEGIN/COMMIT, writing the
result) and per process (import, parse), whatever the SQL costs. This measures that part on
this machine: the project is parsed (to count its models, seeds, data tests and unit tests,
as `bench/dbt_bench.py`'s `dbt build` runs them), then a throwaway project with the same
counts is generated in a temporary folder, where every model is `select 1` materialised as a
table, every data test selects nothing from one model, and every unit test checks one row.
Each run is a fresh `dbt build` process on the same DuckDB settings as the real one (threads
and file log level; the partial-parse cache warmed by one untimed parse, as in
`bench/dbt_bench.py`), timed with its peak RSS. A project of one model, built in turn with
it, gives what a build pays before its nodes (start-up, parse, a connection); the difference
divided by the other nodes is dbt's own cost per node, which also bounds the incremental run
(goal 2): a run that rebuilds N nodes pays at least that one-model build and N of those.

The baseline is goal 1's allowance at 20k charges from the `dbt` row of the same `make bench`
(`--dbt-result`, written just before this by `bench/dbt_bench.py`): the allowance minus this
floor is what dbt leaves for the SQL that the script runs in its own time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import cmdline, fmt, median, run_measured, write_result  # noqa: E402

DBT = str(Path(sys.executable).parent / "dbt")
# The node kinds counted in the real project and generated in the floor's, with their names
# (singular, plural) for the table.
KINDS = {
    "model": ("model", "models"),
    "seed": ("seed", "seeds"),
    "test": ("data test", "data tests"),
    "unit_test": ("unit test", "unit tests"),
}


def dbt_args(verb: str, project: Path, target: Path) -> list[str]:
    return [DBT, verb, "--project-dir", str(project), "--profiles-dir", str(project)] + [
        "--target-path",
        str(target / "target"),
        "--log-path",
        str(target / "logs"),
    ]


def dbt_env(lake: Path) -> dict[str, str]:
    """The real project's environment for dbt (as `bench/dbt_bench.py` sets it)."""
    return {
        "LAKE_ROOT": str(lake),
        "WAREHOUSE_PATH": str(lake / "warehouse.duckdb"),
        "DUCKDB_EXTENSIONS_HOME": str(REPO / "target" / "duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
    }


def real_counts(work: Path) -> dict[str, int]:
    """How many nodes of each kind the repo's project has (`dbt parse`'s manifest)."""
    lake = work / "real-lake"
    lake.mkdir()
    done = run_measured(dbt_args("parse", REPO, work / "real"), dbt_env(lake), cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"dbt parse of the project failed:\n{done.stdout[-3000:]}")
    manifest = json.loads((work / "real" / "target" / "manifest.json").read_text())
    counts = dict.fromkeys(KINDS, 0)
    for node in [*manifest["nodes"].values(), *manifest.get("unit_tests", {}).values()]:
        if node["resource_type"] in counts:
            counts[node["resource_type"]] += 1
    return counts


def write_project(root: Path, counts: dict[str, int], threads: str) -> None:
    """A project of `counts` nodes whose SQL costs nothing; models are tables in one DuckDB
    file, as ours are in the warehouse before their Parquet COPY."""
    models = max(1, counts["model"])
    (root / "models").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "seeds").mkdir()
    (root / "dbt_project.yml").write_text(
        "name: floor\nversion: '1.0'\nprofile: floor\nconfig-version: 2\n"
        "models:\n  floor:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(
        "floor:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'floor.duckdb'}\n      threads: {threads}\n"
    )
    for n in range(models):
        (root / "models" / f"m{n}.sql").write_text(f"select {n} as x\n")
    for n in range(counts["test"]):
        (root / "tests" / f"t{n}.sql").write_text(
            f"select * from {{{{ ref('m{n % models}') }}}} where x < 0\n"
        )
    for n in range(counts["seed"]):
        (root / "seeds" / f"s{n}.csv").write_text("x\n1\n")
    unit_tests = [
        f"  - name: u{n}\n    model: m{n % models}\n    given: []\n"
        f"    expect:\n      rows:\n        - {{x: {n % models}}}\n"
        for n in range(counts["unit_test"])
    ]
    (root / "models" / "_unit_tests.yml").write_text(
        "version: 2\nunit_tests:\n" + "".join(unit_tests) if unit_tests else "version: 2\n"
    )


def prepared(project: Path, counts: dict[str, int], threads: str, env: dict[str, str]) -> Path:
    """`write_project`, then one untimed parse that fills dbt's partial-parse cache (as
    bench/dbt_bench.py does before its runs)."""
    write_project(project, counts, threads)
    first = run_measured(dbt_args("parse", project, project / "out"), env, cwd=REPO)
    if first.returncode != 0:
        raise SystemExit(f"dbt parse of {project} failed:\n{first.stdout[-3000:]}")
    return project


def timed_build(project: Path, env: dict[str, str]) -> dict[str, float]:
    """One `dbt build` of `project` as a fresh process, on an empty warehouse."""
    (project / "floor.duckdb").unlink(missing_ok=True)
    built = run_measured(dbt_args("build", project, project / "out"), env, cwd=REPO)
    if built.returncode != 0:
        raise SystemExit(f"dbt build of {project} failed:\n{built.stdout[-3000:]}")
    return {"seconds": round(built.seconds, 2), "peak_rss_mib": built.peak_rss_mib}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--dbt-result",
        type=Path,
        default=REPO / "bench" / "results" / "dbt_bench.json",
        help="bench/dbt_bench.py's result of the same make bench (for goal 1's allowance)",
    )
    parser.add_argument("--name", default="dbt_floor")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dbt-floor-"))
    try:
        counts = real_counts(work)
        threads = os.environ.get("DBT_THREADS", "2")  # profiles.yml's default
        env = dbt_env(work / "floor-lake")
        # The project's node counts, and one model alone: what a build pays before its nodes
        # (start-up, partial parse, connection). Alternating, so both see the same noise.
        projects = {
            "floor": prepared(work / "floor", counts, threads, env),
            "one_model": prepared(
                work / "one", {**dict.fromkeys(KINDS, 0), "model": 1}, threads, env
            ),
        }
        runs: dict[str, list[dict]] = {name: [] for name in projects}
        for _ in range(args.runs):
            for name, project in projects.items():
                runs[name].append(timed_build(project, env))
                print(json.dumps({name: runs[name][-1]}), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seconds = median([r["seconds"] for r in runs["floor"]])
    alone = median([r["seconds"] for r in runs["one_model"]])
    nodes = sum(counts.values())
    per_node = 1000 * (seconds - alone) / max(1, nodes - 1)
    allowance = allowance_from(args.dbt_result)
    described = ", ".join(f"{counts[k]} {KINDS[k][counts[k] != 1]}" for k in KINDS)
    rows = [
        {
            "benchmark": f"dbt-core's own floor: `dbt build` of {nodes} nodes whose SQL does "
            f"nothing, as many of each kind as the project's ({described}), {threads} threads",
            "figure": f"{fmt(seconds, 1)} s (runs "
            + " / ".join(fmt(r["seconds"], 1) for r in runs["floor"])
            + f"); one model alone {fmt(alone, 1)} s (start-up and parse), so "
            f"{per_node:,.0f} ms a node beyond it",
            "baseline": "—"
            if allowance is None
            else f"goal 1's allowance in the dbt row of this run: {fmt(allowance['seconds'], 1)} s"
            f" (1.5 × the script's {fmt(allowance['script'], 1)} s + 3 s)",
            "ratio": None if allowance is None else seconds / allowance["seconds"],
            "goal": "none of its own: the allowance minus this floor is what dbt leaves for "
            "the SQL",
            "met": None,
            "peak_rss_mib": median([r["peak_rss_mib"] for r in runs["floor"]]),
            "command": cmdline(),
        }
    ]
    details = {
        "counts": counts,
        "threads": threads,
        "runs": runs,
        "ms_per_node_beyond_one_model": round(per_node, 1),
        "allowance": allowance,
    }
    write_result(args.name, rows, details)
    return 0


def allowance_from(path: Path) -> dict[str, float] | None:
    """Goal 1's allowance (1.5 × the script + 3 s) from bench/dbt_bench.py's result, or None
    if there is none."""
    if not path.exists():
        return None
    summary = json.loads(path.read_text()).get("summary", {})
    script = summary.get("baseline script", {}).get("median_wall_seconds")
    if script is None:
        return None
    return {"script": script, "seconds": 1.5 * script + 3}


if __name__ == "__main__":
    sys.exit(main())
