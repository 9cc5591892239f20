"""Each dbt node's query as DuckDB runs it: which joins compare every row with every row.

DuckDB joins on equalities with a hash table; a join whose condition it cannot split into
comparisons (an OR across both sides of an outer join, for one) runs as a nested loop, and a
join without any condition as a cross product. On one-row inputs (a count, the build's clock)
both are fine; on two tables they grow with the product of their sizes: at 20k charges one
such test took 1.3 s, and 50 times the rows on each side would take 2,500 times that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

# The physical operators that pair every left row with every right row.
PAIRWISE = ("NESTED_LOOP_JOIN", "BLOCKWISE_NL_JOIN", "CROSS_PRODUCT")


def pairwise_joins(profile: dict[str, Any]) -> list[tuple[str, list[int]]]:
    """The pairwise joins of a query's JSON profile whose inputs all have more than one row,
    each as (operator, input row counts)."""
    found = []
    name = profile.get("operator_name") or profile.get("operator_type") or ""
    children = profile.get("children", [])
    inputs = [child.get("operator_cardinality", 0) for child in children]
    if name.strip() in PAIRWISE and len(inputs) == 2 and min(inputs) > 1:
        found.append((name.strip(), inputs))
    for child in children:
        found.extend(pairwise_joins(child))
    return found


def pairwise_joins_by_node(warehouse: Path, compiled: Path, scratch: Path) -> dict[str, list]:
    """Every compiled node under `compiled` (dbt's target/compiled) run against the lake's
    warehouse, read-only: the nodes whose plans pair two multi-row inputs."""
    profile = scratch / "profile.json"
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        connection.execute("set enable_profiling = 'json'")
        connection.execute(f"set profiling_output = '{profile}'")
        found = {}
        for sql in sorted(compiled.rglob("*.sql")):
            connection.execute(sql.read_text()).fetchall()
            joins = pairwise_joins(json.loads(profile.read_text()))
            if joins:
                found[str(sql.relative_to(compiled))] = joins
        return found
    finally:
        connection.close()
