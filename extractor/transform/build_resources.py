"""How much of the machine a dbt build may use: dbt's threads, and what to change when
DuckDB runs out of memory.

profiles.yml reads `DBT_THREADS` (how many dbt nodes run at once, default 2) and
`DUCKDB_MEMORY_LIMIT` (default 600MB). Every node shares one DuckDB and so one memory limit:
on a large lake a node that spills fills it and the node beside it fails (10M charges with
the defaults: docs/benchmarks.md, "10M charges in one piece"). So on a lake whose batch
Bronze holds at least LARGE_BRONZE_BYTES (or PIPELINE_LARGE_BRONZE_BYTES) the CLI runs dbt
one node at a time, lets DuckDB write rows in any order and has DuckDB's allocator return
freed memory at once (LARGE_LAKE), each unless the caller set that variable. A lower memory
limit was measured and not kept: it did not lower the peak at 10M (ADR 0058).

The threshold is measured on the benchmark's synthetic lake, where charges and payment
intents are nearly all of Bronze: 1M charges (3.0 GiB of Bronze) peak at 841-939 MiB with
the defaults, 3M (8.9 GiB) at 1,060 MiB. A real account's Bronze also holds events and the
other resources, so it crosses the threshold at fewer charges: one node at a time earlier,
slower but safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from extractor.settings import LARGE_BRONZE_BYTES

# What dbt and DuckDB use when the variables are unset: profiles.yml's defaults, and for
# DUCKDB_JE_MALLOC_CONF (read by the jemalloc inside DuckDB) none, so the settings DuckDB
# compiles in (dirty and muzzy pages decay over 1 s).
DEFAULT_SETTINGS = {
    "DBT_THREADS": "2",
    "DUCKDB_THREADS": "2",
    "DUCKDB_MEMORY_LIMIT": "600MB",
    "DUCKDB_PRESERVE_INSERTION_ORDER": "true",
    "DUCKDB_JE_MALLOC_CONF": "",
}
# What a large lake gets instead (docs/benchmarks.md, goal 3; ADR 0058), measured at 10M
# charges in one hour: 512.8 s and 1,167.5 MiB with DBT_THREADS=1 alone.
# - Row order within a Parquet file means nothing here (readers sort, group or join), and
#   DuckDB advises dropping it for data larger than memory: 495.0 s, 1,105.3 MiB.
# - jemalloc then returns freed pages at once instead of over DuckDB's 1 s decay, which is
#   most of the process's memory above DuckDB's limit: 579.9 s, 815.2 MiB.
LARGE_LAKE = {
    "DBT_THREADS": "1",
    "DUCKDB_PRESERVE_INSERTION_ORDER": "false",
    "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0",
}
# The threshold is in JSON lines' bytes; a gzipped part (BRONZE_GZIP=1) holds about this many
# times its size (zlib level 6 on the demo lake: 10.3x for charges, 10-17.5x per entity).
GZIP_JSON_RATIO = 10


def json_bytes(key: str, size: int) -> int:
    """About how many bytes of JSON lines a Bronze part of `size` bytes holds."""
    return size * GZIP_JSON_RATIO if key.endswith(".gz") else size


def large_lake_env(
    bronze_bytes: int,
    threshold: int = LARGE_BRONZE_BYTES,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables to add to dbt's environment for a lake with this much Bronze: from
    `threshold` (PIPELINE_LARGE_BRONZE_BYTES) on, each LARGE_LAKE variable the caller did not
    set (so raising DUCKDB_MEMORY_LIMIT, the out-of-memory advice, keeps one node at a
    time); nothing below it."""
    environ = os.environ if environ is None else environ
    if bronze_bytes < threshold:
        return {}
    return {name: value for name, value in LARGE_LAKE.items() if name not in environ}


def settings_in_force(environment: Mapping[str, str]) -> dict[str, str]:
    """The DEFAULT_SETTINGS variables as dbt and DuckDB see them in `environment`."""
    return {name: environment.get(name, default) for name, default in DEFAULT_SETTINGS.items()}


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
        return (
            f"{said}, one dbt node at a time). Raise DUCKDB_MEMORY_LIMIT and keep "
            f"DBT_THREADS=1{where}"
        )
    return (
        f"{said}, shared by DBT_THREADS={threads} dbt nodes at once). Run again with "
        "DBT_THREADS=1 (one node at a time: a 10M-charge build then finishes), or raise "
        f"DUCKDB_MEMORY_LIMIT on a machine with more memory{where}"
    )
