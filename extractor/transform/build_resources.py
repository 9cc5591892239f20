"""How much of the machine a dbt build may use: dbt's threads and DuckDB's memory limit.

profiles.yml reads `DBT_THREADS` (how many dbt nodes run at once, default 2) and
`DUCKDB_MEMORY_LIMIT` (default 600MB). Every node shares one DuckDB and so one memory limit:
on a large lake a node that spills fills it and the node beside it fails (10M charges with
the defaults: docs/benchmarks.md, "10M charges in one piece"). So on a lake whose batch
Bronze holds at least LARGE_BRONZE_BYTES (or PIPELINE_LARGE_BRONZE_BYTES) the CLI runs dbt
one node at a time with a smaller limit, which keeps the process under 1 GiB there, unless
the caller set either variable: then the caller's choice stands whole (a bigger machine's
DUCKDB_MEMORY_LIMIT=4GB keeps two threads). ADR 0058.

The threshold is measured on the benchmark's synthetic lake, where charges and payment
intents are nearly all of Bronze: 1M charges (3.0 GiB of Bronze) peak at 841-899 MiB with
the defaults, 3M (8.9 GiB) at 1,060 MiB. A real account's Bronze also holds events and the
other resources, so it crosses the threshold at fewer charges: one node at a time earlier,
slower but safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# What profiles.yml uses when the variables are unset.
PROFILE_DEFAULTS = {"DBT_THREADS": "2", "DUCKDB_MEMORY_LIMIT": "600MB"}
# What a large lake gets instead (docs/benchmarks.md, goal 3).
LARGE_LAKE = {"DBT_THREADS": "1", "DUCKDB_MEMORY_LIMIT": "550MB"}
LARGE_BRONZE_BYTES = 4 * 1024**3


def large_lake_env(
    bronze_bytes: int,
    threshold: int = LARGE_BRONZE_BYTES,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables to add to dbt's environment for a lake with this much Bronze: LARGE_LAKE
    from `threshold` (PIPELINE_LARGE_BRONZE_BYTES) on, nothing below it or when the caller
    set either variable."""
    environ = os.environ if environ is None else environ
    if bronze_bytes < threshold or any(name in environ for name in LARGE_LAKE):
        return {}
    return dict(LARGE_LAKE)


def settings_in_force(environment: Mapping[str, str]) -> dict[str, str]:
    """DBT_THREADS and DUCKDB_MEMORY_LIMIT as dbt sees them in `environment`."""
    return {name: environment.get(name, default) for name, default in PROFILE_DEFAULTS.items()}


DUCKDB_OUT_OF_MEMORY = "Out of Memory Error"


def out_of_memory_hint(environment: Mapping[str, str]) -> str:
    """What to change when DuckDB ran out of its memory limit in a build that ran with
    `environment`: one node at a time fits where two side by side do not; with one node
    already, only more memory helps. A lower limit is not advised: 500MB failed
    fct_payments at 3M charges."""
    settings = settings_in_force(environment)
    limit, threads = settings["DUCKDB_MEMORY_LIMIT"], settings["DBT_THREADS"]
    said = f"  DuckDB ran out of its memory limit (DUCKDB_MEMORY_LIMIT={limit}"
    where = " (docs/architecture.md, Environment)."
    if threads.strip() == "1":
        return f"{said}, one dbt node at a time). Raise DUCKDB_MEMORY_LIMIT{where}"
    return (
        f"{said}, shared by DBT_THREADS={threads} dbt nodes at once). Run again with "
        "DBT_THREADS=1 (one node at a time: a 10M-charge build then finishes), or raise "
        f"DUCKDB_MEMORY_LIMIT on a machine with more memory{where}"
    )
