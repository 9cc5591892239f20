"""A failing column_checks test names its failed checks in the gate's message (ADR 0060)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from extractor.exits import PipelineError
from extractor.transform.dbt import DbtOutcome, summarise
from extractor.transform.failed_checks import counted, explain_failed_checks
from extractor.transform.gate import describe_failures

# The shape of column_checks' rows (dbt_project/tests/generic/column_checks.sql), over a table.
CHECKS_SQL = """
select 'charge_id' as column_name, 'null' as failed_check, count(*) as failing_values
from charges where charge_id is null having count(*) > 0
union all
select 'charge_id', 'duplicate', count(*)
from (select charge_id from charges where charge_id is not null group by 1 having count(*) > 1)
having count(*) > 0
union all
select 'status', 'not_accepted', count(distinct status)
from charges where status not in ('succeeded', 'failed') having count(distinct status) > 0
union all
select 'amount >= 0', 'not_true', sum(case when amount >= 0 then 0 else 1 end)
from charges having sum(case when amount >= 0 then 0 else 1 end) > 0
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table charges as select * "
            "from (values (null, 'succeeded', 1), ('a', 'succeeded', 1), ('a', 'lost', -1), "
            "('b', null, null), ('b', 'failed', 0), (null, 'succeeded', 2)) "
            "t(charge_id, status, amount)"
        )
    return path


def failure(name: str) -> dict:
    return {"name": name, "kind": "test", "status": "fail", "message": "Got 4 results"}


def test_the_failed_checks_are_read_again_and_printed_under_the_failure(warehouse: Path) -> None:
    outcome = DbtOutcome(
        "build", 1, 1.0, failures=[failure("column_checks_charges"), failure("other")]
    )
    outcome.failed_queries["column_checks_charges"] = CHECKS_SQL
    # Another failing test's query is kept too, but only column checks are read again.
    outcome.failed_queries["other"] = "select 1 / 0"
    explain_failed_checks(outcome, lambda: duckdb.connect(str(warehouse), read_only=True))

    assert outcome.failures[0]["checks"] == [
        {"columns": "charge_id", "check": "null", "count": 2},
        {"columns": "charge_id", "check": "duplicate", "count": 2},
        {"columns": "status", "check": "not_accepted", "count": 1},
        {"columns": "amount >= 0", "check": "not_true", "count": 2},
    ]
    assert "checks" not in outcome.failures[1]
    assert describe_failures(outcome.failures).splitlines() == [
        "  test column_checks_charges: fail Got 4 results",
        "    charge_id: 2 null values",
        "    charge_id: 2 key values repeat",
        "    status: 1 value not accepted",
        "    amount >= 0: 2 rows not true",
        "  test other: fail Got 4 results",
    ]
    # Kept with the failure, so the run's manifest has them too; the query is not.
    assert "failed_queries" not in outcome.as_dict()


def test_each_kind_of_check_is_counted_in_words() -> None:
    assert [
        counted({"check": check, "count": count})
        for check, count in [
            ("null", 1),
            ("null", 3),
            ("duplicate", 1),
            ("duplicate", 2),
            ("not_accepted", 1),
            ("not_accepted", 2),
            ("not_true", 1),
            ("not_true", 5),
            ("unknown_kind", 2),
        ]
    ] == [
        "1 null value",
        "3 null values",
        "1 key value repeats",
        "2 key values repeat",
        "1 value not accepted",
        "2 values not accepted",
        "1 row not true",
        "5 rows not true",
        "2 unknown_kind",
    ]


def test_a_warehouse_that_cannot_be_read_leaves_dbts_message_and_says_why(warehouse: Path) -> None:
    outcome = DbtOutcome("build", 1, 1.0, failures=[failure("column_checks_charges")])
    outcome.failed_queries["column_checks_charges"] = CHECKS_SQL

    def held() -> duckdb.DuckDBPyConnection:
        raise duckdb.IOException("Could not set lock on file warehouse.duckdb")

    explain_failed_checks(outcome, held)
    assert describe_failures(outcome.failures).splitlines() == [
        "  test column_checks_charges: fail Got 4 results",
        "    (which checks failed is not known: IOException: Could not set lock on file "
        "warehouse.duckdb)",
    ]

    # Nor does any other error (here what connect_warehouse raises for views over another
    # lake), a query that no longer runs, one dbt gave none of, or rows of another shape.
    def elsewhere() -> duckdb.DuckDBPyConnection:
        raise PipelineError("the warehouse's views read the lake at /old")

    outcome = DbtOutcome("build", 1, 1.0, failures=[failure("column_checks_charges")])
    outcome.failed_queries["column_checks_charges"] = CHECKS_SQL
    explain_failed_checks(outcome, elsewhere)
    assert outcome.failures[0]["checks_error"] == (
        "PipelineError: the warehouse's views read the lake at /old"
    )
    for query, error in (
        ("select * from gone", "CatalogException"),
        ("", "ValueError: dbt's results hold no compiled query for it"),
        ("select 1, 2", "ValueError: its query returns rows of 2 columns, not 3"),
    ):
        outcome = DbtOutcome("build", 1, 1.0, failures=[failure("column_checks_charges")])
        outcome.failed_queries["column_checks_charges"] = query
        explain_failed_checks(outcome, lambda: duckdb.connect(str(warehouse), read_only=True))
        assert outcome.failures[0]["checks_error"].startswith(error)
        assert "checks" not in outcome.failures[0]


def test_only_failing_data_tests_keep_their_query() -> None:
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
    assert outcome.failed_queries == {
        "column_checks_charges": "q test.p.column_checks_charges",
        "accepted_values_charges_status": "q test.p.accepted_values_charges_status",
    }
