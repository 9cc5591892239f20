"""Read Silver and Gold Parquet straight from a local lake (not through dbt's views)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb


def parquet(lake: Path, layer_glob: str) -> str:
    return f"read_parquet('{lake}/{layer_glob}/*/*.parquet', hive_partitioning = false)"


def gold(lake: Path, model: str) -> str:
    return parquet(lake, f"gold/model={model}")


def silver(lake: Path, entity: str) -> str:
    return parquet(lake, f"silver/source=stripe/entity={entity}")


def rows(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


def content_digest(lake: Path) -> dict[str, str]:
    """Per Silver/Gold folder: a digest of its rows in a stable order, and its file names."""
    digests = {}
    for folder in sorted(lake.glob("silver/source=stripe/entity=*")) + sorted(
        lake.glob("gold/model=*")
    ):
        files = sorted(str(p.relative_to(lake)) for p in folder.glob("*/*.parquet"))
        table = duckdb.sql(f"select * from read_parquet('{folder}/*/*.parquet') order by all")
        body = "\n".join(repr(row) for row in table.fetchall())
        digests[str(folder.relative_to(lake))] = hashlib.sha256(
            (body + "\n".join(files)).encode()
        ).hexdigest()
    return digests
