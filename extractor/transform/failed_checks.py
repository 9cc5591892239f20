"""Which of a model's column checks failed, for the gate's message (ADR 0060).

One dbt node checks all of a model's not-null columns, unique keys, accepted values and
row expressions (`column_checks`), so dbt's own line says only `column_checks_<model>: fail
Got N results`. After a build or a `dbt test` with such a failure the CLI runs that test's
compiled query once more, read-only on the warehouse, and adds its rows to the failure: each
column with nulls, each key with repeated values, each column with values not accepted and
each expression not true on some rows, with how many. Only failing checks are read again, so
a passing run pays nothing; if the query cannot run (the warehouse held by another client,
say) the failure says so and keeps dbt's own message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from extractor.transform.dbt import DbtOutcome

# What a failing row's count means, per check: (one, several).
COUNTED = {
    "null": ("null value", "null values"),
    "duplicate": ("key value repeats", "key values repeat"),
    # Distinct values, as dbt's accepted_values counts them.
    "not_accepted": ("value not accepted", "values not accepted"),
    # Rows where the expression is false or null (expression_is_true's meaning).
    "not_true": ("row not true", "rows not true"),
}


def explain_failed_checks(outcome: DbtOutcome, connect: Callable[[], Any]) -> None:
    """Adds `checks` (or `checks_error`) to each failing column_checks test of `outcome`."""
    failing = [f for f in outcome.failures if f["name"] in outcome.check_queries]
    if not failing:
        return
    import duckdb  # here: only a failed gate reads the warehouse again

    try:
        connection = connect()
    except (duckdb.Error, OSError) as error:
        for failure in failing:
            failure["checks_error"] = f"{type(error).__name__}: {error}"
        return
    try:
        for failure in failing:
            try:
                rows = connection.execute(outcome.check_queries[failure["name"]]).fetchall()
            except duckdb.Error as error:
                failure["checks_error"] = f"{type(error).__name__}: {error}"
                continue
            failure["checks"] = [
                {"columns": str(columns), "check": str(check), "count": int(count)}
                for columns, check, count in rows
            ]
    finally:
        connection.close()


def describe_checks(failure: dict[str, Any]) -> list[str]:
    """The lines under a failure's own: one per failed check, or why they are not known."""
    if "checks_error" in failure:
        return [f"    (which checks failed is not known: {failure['checks_error']})"]
    return [f"    {check['columns']}: {counted(check)}" for check in failure.get("checks", [])]


def counted(check: dict[str, Any]) -> str:
    """`1 null value`, `3 key values repeat`, `1 value not accepted`, `2 rows not true`."""
    one, several = COUNTED.get(check["check"], (check["check"], check["check"]))
    return f"{check['count']} {one if check['count'] == 1 else several}"
