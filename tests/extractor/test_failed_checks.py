"""A failing column_checks test names its failed checks in the gate's message (ADR 0060)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from extractor.transform.dbt import DbtOutcome, summarise
from extractor.transform.failed_checks import explain_failed_checks
from extractor.transform.gate import describe_failures

# The shape of column_checks' rows (dbt_project/tests/generic/column_checks.sql), over a table.
CHECKS_SQL = """
select 'charge_id' as column_name, 'null' as failed_check, count(*) as failing_values
from charges where charge_id is null having count(*) > 0
union all
select 'charge_id', 'duplicate', count(*)
from (select charge_id from charges where charge_id is not null group by 1 having count(*) > 1)
having count(*) > 0
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table charges as select * "
            "from (values (null), ('a'), ('a'), ('b'), ('b'), (null)) t(charge_id)"
        )
    return path


def failure(name: str) -> dict:
    return {"name": name, "kind": "test", "status": "fail", "message": "Got 4 results"}


def test_the_failed_checks_are_read_again_and_printed_under_the_failure(warehouse: Path) -> None:
    outcome = DbtOutcome(
        "build", 1, 1.0, failures=[failure("column_checks_charges"), failure("other")]
    )
    outcome.check_queries["column_checks_charges"] = CHECKS_SQL
    explain_failed_checks(outcome, lambda: duckdb.connect(str(warehouse), read_only=True))

    assert outcome.failures[0]["checks"] == [
        {"columns": "charge_id", "check": "null", "count": 2},
        {"columns": "charge_id", "check": "duplicate", "count": 2},
    ]
    assert "checks" not in outcome.failures[1]
    assert describe_failures(outcome.failures).splitlines() == [
        "  test column_checks_charges: fail Got 4 results",
        "    charge_id: 2 null values",
        "    charge_id: 2 key values repeat",
        "  test other: fail Got 4 results",
    ]
    # Kept with the failure, so the run's manifest has them too; the query is not.
    assert "check_queries" not in outcome.as_dict()


def test_a_warehouse_that_cannot_be_read_leaves_dbts_message_and_says_why(warehouse: Path) -> None:
    outcome = DbtOutcome("build", 1, 1.0, failures=[failure("column_checks_charges")])
    outcome.check_queries["column_checks_charges"] = CHECKS_SQL

    def held() -> duckdb.DuckDBPyConnection:
        raise duckdb.IOException("Could not set lock on file warehouse.duckdb")

    explain_failed_checks(outcome, held)
    assert describe_failures(outcome.failures).splitlines() == [
        "  test column_checks_charges: fail Got 4 results",
        "    (which checks failed is not known: IOException: Could not set lock on file "
        "warehouse.duckdb)",
    ]

    # A query that no longer runs (a model dropped since) is named the same way.
    outcome = DbtOutcome("build", 1, 1.0, failures=[failure("column_checks_charges")])
    outcome.check_queries["column_checks_charges"] = "select * from gone"
    explain_failed_checks(outcome, lambda: duckdb.connect(str(warehouse), read_only=True))
    assert outcome.failures[0]["checks_error"].startswith("CatalogException")


def test_only_failing_column_checks_keep_their_query() -> None:
    def result(uid: str, status: str) -> dict:
        return {"unique_id": uid, "status": status, "message": "m", "compiled_code": f"q {uid}"}

    outcome = summarise(
        "build",
        1,
        1.0,
        {
            "results": [
                result("test.p.column_checks_charges", "fail"),
                result("test.p.column_checks_refunds", "pass"),
                result("test.p.column_checks_payouts", "warn"),
                result("test.p.accepted_values_charges_status", "fail"),
            ]
        },
    )
    assert outcome.check_queries == {"column_checks_charges": "q test.p.column_checks_charges"}
