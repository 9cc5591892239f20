"""The same dbt models on DuckDB and on local Spark, on one Bronze lake: wall time and memory.

    .venv/bin/python bench/spark_bench.py [--charges 1000000] [--runs 1] [--work-dir DIR]

Why: docs/spark.md says when Spark is worth its cost; this measures the cost on this machine.
The lake is dbt_bench.py's (same generator, same parameters, reused when present). Both
engines run `dbt build` without dbt's data and unit tests (unit tests are DuckDB-only, ADR
0030; `make build-spark` runs the data tests), so both do the same work: the seed and the
11 models. DuckDB writes into the lake itself;
Spark (`--target spark`, in-process `session`, local[2]) into a second root whose `bronze`
is a symlink to the same files. Each command runs in dbt_bench's wrapper process (wall time,
peak RSS). Spark's peak RSS is not reported: the JVM is pyspark's child and is not waited
for, so getrusage does not see it. Silver/Gold row counts and agg_daily_revenue are compared
between the engines afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

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
    row_counts,
)

from extractor.lake import layout  # noqa: E402

MODELS_ONLY = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def spark_root(work: Path, lake: Path) -> Path:
    """A second lake root sharing the Bronze files (a symlink), with its own Silver/Gold."""
    root = work / f"spark-{lake.name}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "bronze").symlink_to(lake / "bronze", target_is_directory=True)
    return root


def gold_revenue(root: Path, spark: bool) -> list[tuple]:
    """agg_daily_revenue in a stable order; Spark keeps `dt` in the folder name only."""
    hive = "true" if spark else "false"
    return duckdb.sql(
        f"select revenue_date, currency, gross_minor, refunded_minor, net_minor, gross, net, "
        f"succeeded_count, failed_count, refunded_count from read_parquet("
        f"'{root}/{layout.gold_model('agg_daily_revenue')}*/*.parquet', "
        f"hive_partitioning = {hive}) "
        "order by 1, 2"
    ).fetchall()


def spark_counts(root: Path) -> dict[str, int]:
    """Rows per model; Spark writes no file at all for an empty model."""
    counts = {}
    for folder in sorted(root.glob(layout.silver_entity("*"))) + sorted(
        root.glob(layout.gold_model("*"))
    ):
        if not any(folder.glob("*/*.parquet")):
            continue
        name = folder.name.split("=")[1]
        model = name if folder.parent.name == "gold" else f"stg_stripe__{name}"
        counts[model] = duckdb.sql(
            f"select count(*) from read_parquet('{folder}/*/*.parquet', hive_partitioning = false)"
        ).fetchone()[0]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=RESULTS / "work")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--lake",
        type=Path,
        help="an existing lake (e.g. the demo's) instead of a generated one; its Silver, Gold "
        "and _state are rebuilt",
    )
    args = parser.parse_args()
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.lake:
        lake = args.lake.resolve()
        counts = {"lake": str(lake), "bronze_files": len(list(lake.glob("bronze/**/*.*")))}
    else:
        lake, counts = ensure_lake(work, args.charges, args.seed)
    spark = spark_root(work, lake)
    state = work / "spark-state"
    runs: dict[str, list[dict]] = {"duckdb": [], "spark": []}
    for index in range(args.runs):
        reset(lake, ("silver", "gold", "_state"))
        env = dbt_env(lake)
        result = measure(
            [*dbt_command("build", work, REPO), *MODELS_ONLY], env, work / "duckdb.log"
        )
        runs["duckdb"].append(result)
        print(f"run {index + 1} duckdb: {result}", flush=True)
        for layer in ("silver", "gold"):
            shutil.rmtree(spark / layer, ignore_errors=True)
        env = {**dbt_env(spark), "SPARK_STATE_DIR": str(state)}
        command = [*dbt_command("build", work, REPO), "--target", "spark", *MODELS_ONLY]
        result = measure(command, env, work / "spark.log")
        runs["spark"].append(result)
        print(f"run {index + 1} spark: {result}", flush=True)
    duck_rows = {m: n for m, n in row_counts(lake).items() if n}
    spark_rows = spark_counts(spark)
    revenue_equal = gold_revenue(lake, spark=False) == gold_revenue(spark, spark=True)
    summary = {
        name: {
            "median_wall_seconds": round(statistics.median(r["wall_seconds"] for r in rs), 1),
            "walls": [r["wall_seconds"] for r in rs],
            # Spark's JVM is not a waited-for child: its memory is not in this figure.
            "peak_rss_mib": max(r["peak_rss_mib"] for r in rs) if name == "duckdb" else None,
            "exit_codes": [r["exit_code"] for r in rs],
        }
        for name, rs in runs.items()
    }
    report = {
        "command": " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count()},
        "lake": counts,
        "summary": summary,
        "rows_duckdb": duck_rows,
        "rows_spark": spark_rows,
        "row_counts_equal": duck_rows == spark_rows,
        "agg_daily_revenue_equal": revenue_equal,
    }
    print(json.dumps(report, indent=2))
    out = args.out or RESULTS / f"spark_bench_{'lake' if args.lake else args.charges}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
