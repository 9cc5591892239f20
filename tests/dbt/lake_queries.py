"""Read Silver and Gold Parquet straight from a local lake (not through dbt's views)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from extractor.streams import SNAPSHOT_STREAMS


def parquet(lake: Path, layer_glob: str) -> str:
    return f"read_parquet('{lake}/{layer_glob}/*/*.parquet', hive_partitioning = false)"


def gold(lake: Path, model: str) -> str:
    return parquet(lake, f"gold/model={model}")


def silver(lake: Path, entity: str) -> str:
    return parquet(lake, f"silver/source=stripe/entity={entity}")


def rows(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


# A snapshot is a reading taken by each run (the balance at that moment): two lakes built
# by different runs differ there by design, so content comparisons leave it out.
PER_RUN_FOLDERS = frozenset(f"silver/source=stripe/entity={s.name}" for s in SNAPSHOT_STREAMS)


def content_digest(lake: Path) -> dict[str, str]:
    """Per Silver/Gold folder (but the per-run snapshots): a digest of its rows in a stable
    order, and its file names."""
    digests = {}
    for folder in sorted(lake.glob("silver/source=stripe/entity=*")) + sorted(
        lake.glob("gold/model=*")
    ):
        if str(folder.relative_to(lake)) in PER_RUN_FOLDERS:
            continue
        files = sorted(str(p.relative_to(lake)) for p in folder.glob("*/*.parquet"))
        table = duckdb.sql(f"select * from read_parquet('{folder}/*/*.parquet') order by all")
        body = "\n".join(repr(row) for row in table.fetchall())
        digests[str(folder.relative_to(lake))] = hashlib.sha256(
            (body + "\n".join(files)).encode()
        ).hexdigest()
    return digests
