"""Which of a model's column checks failed, for the gate's message (ADR 0060).

One dbt node checks all of a model's not-null columns, unique keys, accepted values and
row expressions (`column_checks`), so dbt's own line says only `column_checks_<model>: fail
Got N results`. After a build or a `dbt test` with such a failure the CLI runs that test's
compiled query once more, read-only on the warehouse, and adds its rows to the failure: each
column with nulls, each key with repeated values, each column with values not accepted and
each expression not true on some rows, with how many. Only failing checks are read again, so
a passing run pays nothing. This only adds to a failure dbt already reported: whatever goes
wrong while reading (the warehouse held by another client, views over another lake, a query
without rows of the expected shape) is said under the failure, and dbt's message and the
run's exit stand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from extractor.transform.build_resources import settings_in_force
from extractor.transform.dbt import DbtOutcome

# The node names of the project's column_checks tests (dbt_project/tests/generic/).
CHECKS_PREFIX = "column_checks_"
# What a failing row's count means, per check: (one, several).
COUNTED = {
    "null": ("null value", "null values"),
    "duplicate": ("key value repeats", "key values repeat"),
    # Distinct values, as dbt's accepted_values counts them.
    "not_accepted": ("value not accepted", "values not accepted"),
    # Rows where the expression is false or null (expression_is_true's meaning).
    "not_true": ("row not true", "rows not true"),
}


def duckdb_limits() -> dict[str, str]:
    """The memory and threads dbt's DuckDB runs with (profiles.yml's defaults), so that
    reading a failing check of a large model stays within what the build may use."""
    settings = settings_in_force(os.environ)
    return {"memory_limit": settings["DUCKDB_MEMORY_LIMIT"], "threads": settings["DUCKDB_THREADS"]}


def explain_failed_checks(outcome: DbtOutcome, connect: Callable[[], Any]) -> None:
    """Adds `checks` (or `checks_error`) to each failing column_checks test of `outcome`;
    `connect` opens the warehouse read-only."""
    failing = [
        f
        for f in outcome.failures
        if f["name"].startswith(CHECKS_PREFIX) and f["name"] in outcome.failed_queries
    ]
    if not failing:
        return
    try:
        connection = connect()
    # Anything: a message that could not be made better must not replace dbt's (or skip the
    # run's bookkeeping after it).
    except Exception as error:
        for failure in failing:
            failure["checks_error"] = f"{type(error).__name__}: {error}"
        return
    try:
        for failure in failing:
            try:
                failure["checks"] = read_checks(connection, outcome.failed_queries[failure["name"]])
            except Exception as error:  # as above
                failure["checks_error"] = f"{type(error).__name__}: {error}"
    finally:
        connection.close()


def read_checks(connection: Any, query: str) -> list[dict[str, Any]]:
    """The failed checks a column_checks query returns: (column_name, failed_check, count)."""
    if not query.strip():
        raise ValueError("dbt's results hold no compiled query for it")
    rows = connection.execute(query).fetchall()
    # A query's rows all have its width: the first one says it.
    if rows and len(rows[0]) != 3:
        raise ValueError(f"its query returns rows of {len(rows[0])} columns, not 3")
    return [
        {"columns": str(columns), "check": str(check), "count": int(count)}
        for columns, check, count in rows
    ]


def describe_checks(failure: dict[str, Any]) -> list[str]:
    """The lines under a failure's own: one per failed check, or why they are not known."""
    if "checks_error" in failure:
        return [f"    (which checks failed is not known: {failure['checks_error']})"]
    return [f"    {check['columns']}: {counted(check)}" for check in failure.get("checks", [])]


def counted(check: dict[str, Any]) -> str:
    """`1 null value`, `3 key values repeat`, `1 value not accepted`, `2 rows not true`."""
    one, several = COUNTED.get(check["check"], (check["check"], check["check"]))
    return f"{check['count']} {one if check['count'] == 1 else several}"
