"""The same dbt project on DuckDB and on local Spark, on one Bronze lake: wall time and memory.

    .venv/bin/python bench/spark_bench.py [--charges 1000000] [--runs 1] [--work-dir DIR]
        [--source synthetic|extract] [--modes models,gate]

Why: docs/spark.md says when Spark is worth its cost; this measures the cost on this machine.
The lake is dbt_bench.py's (same generator, same parameters, reused when present): by default
its synthetic generator (`--source synthetic`: charges and payment intents templated from the
mock's, plus the mock's customers, invoices and events; 1M charges in about 30 s), because
extracting 1M charges from the mock takes hours; `--source extract` uses the extracted lake
(every resource) for small sizes.

Two modes, each on both engines, same work on both sides:
- `models`: `dbt build` of the seed and the models, without dbt's tests;
- `gate`: `dbt build --exclude-resource-type unit_test`: the seed, the models and every data
  test, as `make build-spark` runs it (the unit tests are DuckDB-only, ADR 0030, so the gate
  here is the whole gate minus them on both engines). On a synthetic lake the three tests
  of SYNTHETIC_GAPS are left out: they fail there for want of resources the generator does
  not write (billing catalogue, ids on balance events), which would skip 27 nodes downstream.
DuckDB writes into the lake itself; Spark (`--target spark`, in-process `session`, local[2])
into a second root whose `bronze` is a symlink to the same files.

Each command runs in dbt_bench's wrapper process (wall time; `getrusage` peak RSS, which sees
dbt's Python process but not Spark's JVM: pyspark starts it and never waits for it), while a
thread samples /proc every 0.25 s (`measure(..., sample_tree=True)`, `bench/proc_tree.py`) for
every descendant of the wrapper: `peak_tree_rss_mib` is the largest sum of their RSS at one
instant (dbt's Python + the JVM), `peak_jvm_rss_mib` the JVM's part (a child the JVM has forked
and not yet exec'd shares its pages and is left out, or the JVM would count twice). After each
mode, Silver/Gold row counts and agg_daily_revenue are compared between the engines, and dbt's
node statuses are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import duckdb  # noqa: E402
from dbt_bench import (  # noqa: E402
    RESULTS,
    dbt_command,
    dbt_env,
    ensure_lake,
    measure,
    reset,
)

from extractor.lake import layout  # noqa: E402

MODES = {
    # Seed and models only: like for like with the first figures of docs/spark.md.
    "models": ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
    # The gate as `make build-spark` runs it: seed, models and every data test.
    "gate": ["--exclude-resource-type", "unit_test"],
}
# Data tests that fail on dbt_bench's synthetic lake because of what it does not generate,
# not because of either engine: it has no prices, subscriptions or invoice line items past the
# 10 an invoice embeds (the two billing tests), and it copies the mock's `balance.available`
# events, whose object has no id (the not-null check of stg_stripe__events.object_id). Failing
# with severity error they would skip 27 downstream nodes (agg_daily_revenue among them), so
# the gate on a synthetic lake runs every other data test. Since ADR 0060 the events' checks
# are one node, so leaving out the object_id null check leaves out event_id's uniqueness too.
SYNTHETIC_GAPS = (
    "assert_invoice_lines_have_prices_and_subscriptions",
    "assert_invoice_lines_sum_to_subtotal",
    "column_checks_stg_stripe__events",
)


def dbt_nodes(work: Path, keep_as: str) -> dict[str, Any]:
    """Seconds per node kind and the count of each (kind, status) from run_results.json, which
    is kept as `work/run_results-<keep_as>.json` (per-node times; the next build overwrites it)."""
    run_results = work / "dbt-target" / "run_results.json"
    shutil.copyfile(run_results, work / f"run_results-{keep_as}.json")
    results = json.loads(run_results.read_text())["results"]
    seconds: dict[str, float] = {}
    statuses: dict[str, int] = {}
    for node in results:
        kind = node["unique_id"].split(".", 1)[0]
        seconds[kind] = round(seconds.get(kind, 0.0) + node["execution_time"], 2)
        key = f"{kind}:{node['status']}"
        statuses[key] = statuses.get(key, 0) + 1
    return {"seconds": seconds, "statuses": statuses}


def spark_root(work: Path, lake: Path) -> Path:
    """A second lake root sharing the Bronze files (a symlink), with its own Silver/Gold."""
    root = work / f"spark-{lake.name}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "bronze").symlink_to(lake / "bronze", target_is_directory=True)
    return root


def gold_revenue(root: Path, spark: bool) -> list[tuple]:
    """agg_daily_revenue, every column by name, in a stable order, without the partition
    columns (`dt`, and `model` that hive partitioning finds in Spark's paths; Spark keeps
    `dt` in the folder name only)."""
    hive = "true" if spark else "false"
    source = (
        f"read_parquet('{root}/{layout.gold_model('agg_daily_revenue')}*/*.parquet', "
        f"hive_partitioning = {hive})"
    )
    columns = sorted(
        name for (name, *_rest) in duckdb.sql(f"describe select * from {source}").fetchall()
    )
    listed = ", ".join(f'"{name}"' for name in columns if name not in ("dt", "model"))
    return duckdb.sql(f"select {listed} from {source} order by all").fetchall()


def model_counts(root: Path, spark: bool) -> dict[str, int]:
    """Rows per Silver and Gold model with rows. DuckDB writes an empty model as one all-null
    row (`dt` null, inside the file); Spark writes no file and keeps `dt` in the folder name."""
    hive = "true" if spark else "false"
    counts = {}
    for folder in sorted(root.glob(layout.silver_entity("*"))) + sorted(
        root.glob(layout.gold_model("*"))
    ):
        if not any(folder.glob("*/*.parquet")):
            continue
        name = folder.name.split("=")[1]
        model = name if folder.parent.name == "gold" else f"stg_stripe__{name}"
        count = duckdb.sql(
            f"select count(*) from read_parquet('{folder}/*/*.parquet', "
            f"hive_partitioning = {hive}) where dt is not null"
        ).fetchone()[0]
        if count:
            counts[model] = count
    return counts


def summarise(runs: list[dict]) -> dict[str, Any]:
    def peak(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return max(values) if values else None

    return {
        "median_wall_seconds": round(statistics.median(r["wall_seconds"] for r in runs), 1),
        "walls": [r["wall_seconds"] for r in runs],
        # getrusage: dbt's Python (and DuckDB inside it); not the JVM.
        "peak_rss_mib": peak("peak_rss_mib"),
        # /proc samples of the whole tree: dbt's Python + the JVM (Spark).
        "peak_tree_rss_mib": peak("peak_tree_rss_mib"),
        "peak_jvm_rss_mib": peak("peak_jvm_rss_mib"),
        "exit_codes": [r["exit_code"] for r in runs],
        "nodes": runs[-1]["nodes"],
    }


def compare(lake: Path, spark: Path) -> dict[str, Any]:
    duck_rows = model_counts(lake, spark=False)
    spark_rows = model_counts(spark, spark=True)
    return {
        "rows_duckdb": duck_rows,
        "rows_spark": spark_rows,
        "row_counts_equal": duck_rows == spark_rows,
        "agg_daily_revenue_rows": len(gold_revenue(lake, spark=False)),
        "agg_daily_revenue_equal": gold_revenue(lake, spark=False)
        == gold_revenue(spark, spark=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=RESULTS / "work")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--source",
        choices=("synthetic", "extract"),
        default="synthetic",
        help="generated lake: dbt_bench's synthetic charges (default) or extracted from the mock",
    )
    parser.add_argument(
        "--modes",
        default="models,gate",
        help="comma-separated: models (seed + models), gate (+ every data test)",
    )
    parser.add_argument(
        "--lake",
        type=Path,
        help="an existing lake (e.g. the demo's) instead of a generated one; its Silver, Gold "
        "and _state are rebuilt",
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes: {sorted(unknown)}")
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.lake:
        lake = args.lake.resolve()
        counts = {"lake": str(lake), "bronze_files": len(list(lake.glob("bronze/**/*.*")))}
    else:
        lake, counts = ensure_lake(work, args.charges, args.seed, args.source)
    spark = spark_root(work, lake)
    state = work / "spark-state"
    report: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "commit": subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count()},
        "lake": counts,
        "modes": {},
    }
    synthetic = not args.lake and args.source == "synthetic"
    report["excluded_tests"] = list(SYNTHETIC_GAPS) if synthetic else []
    for mode in modes:
        runs: dict[str, list[dict]] = {"duckdb": [], "spark": []}
        selection = [*MODES[mode]]
        if mode == "gate" and synthetic:
            selection += ["--exclude", *SYNTHETIC_GAPS]
        for index in range(args.runs):
            reset(lake, ("silver", "gold", "_state"))
            command = [*dbt_command("build", work, REPO), *selection]
            result = measure(command, dbt_env(lake), work / f"duckdb-{mode}.log", sample_tree=True)
            result["nodes"] = dbt_nodes(work, f"duckdb-{mode}-{index + 1}")
            result["load_after"] = os.getloadavg()
            runs["duckdb"].append(result)
            print(f"{mode} run {index + 1} duckdb: {json.dumps(result)}", flush=True)
            for layer in ("silver", "gold"):
                shutil.rmtree(spark / layer, ignore_errors=True)
            env = {**dbt_env(spark), "SPARK_STATE_DIR": str(state)}
            command = [*dbt_command("build", work, REPO), "--target", "spark", *selection]
            result = measure(command, env, work / f"spark-{mode}.log", sample_tree=True)
            result["nodes"] = dbt_nodes(work, f"spark-{mode}-{index + 1}")
            result["load_after"] = os.getloadavg()
            runs["spark"].append(result)
            print(f"{mode} run {index + 1} spark: {json.dumps(result)}", flush=True)
        entry = {name: summarise(rs) for name, rs in runs.items()}
        entry["spark_over_duckdb"] = round(
            entry["spark"]["median_wall_seconds"] / entry["duckdb"]["median_wall_seconds"], 2
        )
        entry["check"] = compare(lake, spark)
        entry["runs"] = runs
        report["modes"][mode] = entry
        print(f"{mode}: " + json.dumps({k: v for k, v in entry.items() if k != "runs"}), flush=True)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    out = args.out or RESULTS / f"spark_bench_{'lake' if args.lake else args.charges}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
