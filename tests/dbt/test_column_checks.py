"""The model-level test column_checks (dbt_project/tests/generic/column_checks.sql, ADR 0060):
one dbt node per model fails on a null in a not_null column, on a repeated key (single-column
or composite), on a value not accepted and on a row where an expression is not true; its
failure count adds up null values, duplicated key values, distinct values not accepted and
rows not true. The last two are checked against the tests they replaced, dbt's built-in
`accepted_values` and the project's `expression_is_true`, run on the same model.

It runs the project's own test file in a throwaway dbt project on DuckDB, over models whose
nulls and duplicates are known, so every count is asserted exactly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.support.servers import REPO_ROOT

DBT = str(Path(sys.executable).parent / "dbt")

# One real `dbt build` (a few seconds).
pytestmark = pytest.mark.slow

# id: 1 and 3 twice each (2 duplicated values), null twice (left out of a one-column key).
# (id, code): (1, a), (null, c) and (3, d) twice each: 3 duplicated combinations (a null is
# grouped like a value in a composite key). note: 1 null.
BROKEN = """
select * from (values
    (1, 'a', 'x'), (1, 'a', 'y'), (2, 'b', null), (null, 'c', 'z'), (null, 'c', 'z'),
    (3, 'd', 'w'), (3, 'd', 'w'), (4, 'e', 'v')
) as t(id, code, note)
"""
CLEAN = "select * from (values (1, 'a', 'x'), (2, 'a', 'y'), (3, 'b', 'z')) as t(id, code, note)"
# A key that is unique but has nulls: unique passes (nulls are not_null's job, as in dbt's
# `unique`), not_null fails with the number of null values.
NULL_KEY = "select * from (values (1, 'a'), (null, 'b'), (null, 'c')) as t(id, code)"
# status: 'lost' twice and 'weird' once are not accepted (2 distinct values), a null passes.
# flag: false is not accepted (1), a null passes. id: every value accepted.
# amount >= 0: false on -1, null on the null amount (2 rows). status <> 'it''s': null on the
# null status (1 row). id > 0: true everywhere.
VALUED = """
select * from (values
    (1, 'succeeded', 10, true), (2, 'lost', -1, true), (3, 'lost', 5, false),
    (4, 'weird', null, true), (5, null, 0, null)
) as t(id, status, amount, flag)
"""
# Only nulls besides accepted values and true expressions: it passes.
VALUED_CLEAN = """
select * from (values (1, 'succeeded', 0, true), (2, null, 1, null)) as t(id, status, amount, flag)
"""

SCHEMA = """
version: 2
models:
  - name: broken
    data_tests:
      - column_checks:
          name: column_checks_broken
          arguments:
            not_null: [id, code, note]
            unique: [id, [id, code]]
  - name: clean
    data_tests:
      - column_checks:
          name: column_checks_clean
          arguments:
            not_null: [id, code, note]
            unique: [id, [code, note]]
      - column_checks:
          name: column_checks_clean_unique_only
          arguments:
            unique: [id]
  - name: null_key
    data_tests:
      - column_checks:
          name: column_checks_null_key_nulls
          arguments:
            not_null: [id]
      - column_checks:
          name: column_checks_null_key_unique
          arguments:
            unique: [id]
  - name: valued
    data_tests:
      - column_checks:
          name: column_checks_valued
          arguments:
            not_null: [id]
            accepted_values:
              status: [succeeded, failed]
              flag: [true]
              id: [1, 2, 3, 4, 5]
            expressions:
              - amount >= 0
              - status <> 'it''s'
              - id > 0
      # The tests column_checks replaces, on the same rows, to compare the counts.
      - expression_is_true:
          name: old_expression_amount
          arguments:
            expression: amount >= 0
      - expression_is_true:
          name: old_expression_status
          arguments:
            expression: status <> 'it''s'
    columns:
      - name: status
        data_tests:
          - accepted_values:
              name: old_accepted_status
              arguments:
                values: [succeeded, failed]
      - name: flag
        data_tests:
          - accepted_values:
              name: old_accepted_flag
              arguments:
                values: [true]
                quote: false
  - name: valued_clean
    data_tests:
      - column_checks:
          name: column_checks_valued_clean
          arguments:
            accepted_values:
              status: [succeeded]
              flag: [true]
            expressions: [amount >= 0]
"""


def run_dbt(
    root: Path, models: dict[str, str], schema: str, *command: str
) -> subprocess.CompletedProcess:
    """A throwaway dbt project in `root` with the project's column_checks (and the
    expression_is_true it replaces), these models and this schema; runs `dbt <command>`."""
    (root / "models").mkdir(parents=True)
    (root / "tests" / "generic").mkdir(parents=True)
    for test in ("column_checks.sql", "expression_is_true.sql"):
        shutil.copy(
            REPO_ROOT / "dbt_project" / "tests" / "generic" / test, root / "tests" / "generic"
        )
    (root / "dbt_project.yml").write_text(
        "name: column_checks_fixture\nversion: '1.0.0'\nconfig-version: 2\nprofile: fixture\n"
        "models:\n  column_checks_fixture:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(
        "fixture:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'fixture.duckdb'}\n      threads: 1\n"
    )
    for name, sql in models.items():
        (root / "models" / f"{name}.sql").write_text(sql)
    (root / "models" / "_models.yml").write_text(schema)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return subprocess.run(
        [DBT, *command, "--project-dir", ".", "--profiles-dir", "."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`dbt build --store-failures` of the throwaway project: run results by test name, the
    stored failing rows of each test, and dbt's output."""
    root = tmp_path_factory.mktemp("column_checks")
    models = {
        "broken": BROKEN,
        "clean": CLEAN,
        "null_key": NULL_KEY,
        "valued": VALUED,
        "valued_clean": VALUED_CLEAN,
    }
    result = run_dbt(root, models, SCHEMA, "build", "--store-failures")
    # The failing tests make the build exit 1; anything else is a broken fixture.
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    by_name = {
        r["unique_id"].split(".")[2]: r for r in results if r["unique_id"].startswith("test.")
    }
    con = duckdb.connect(str(root / "fixture.duckdb"), read_only=True)
    stored = {}
    for name, result_row in by_name.items():
        if result_row["status"] == "fail":
            relation = result_row["relation_name"]
            if name.startswith("column_checks_"):
                query = f"select column_name, failed_check, failing_values from {relation}"
            else:
                query = f"select * from {relation}"
            stored[name] = sorted(con.execute(query).fetchall(), key=repr)
    con.close()
    return {"results": by_name, "stored": stored, "stdout": result.stdout}


def test_nulls_and_duplicates_fail_one_node_with_one_row_per_failed_check(built: dict) -> None:
    broken = built["results"]["column_checks_broken"]
    assert broken["status"] == "fail"
    # 1 null note + 2 duplicated ids + 3 duplicated (id, code) combinations; the 2 null ids
    # count as nulls, not as a duplicated id.
    assert broken["failures"] == 2 + 1 + 2 + 3
    assert "Got 8 results" in broken["message"]
    assert "column_checks_broken" in built["stdout"]
    assert built["stored"]["column_checks_broken"] == [
        ("id", "duplicate", 2),
        ("id", "null", 2),
        ("id, code", "duplicate", 3),
        ("note", "null", 1),
    ]


def test_a_clean_model_passes_with_or_without_not_null(built: dict) -> None:
    for name in ("column_checks_clean", "column_checks_clean_unique_only"):
        assert built["results"][name]["status"] == "pass", name
        assert built["results"][name]["failures"] == 0, name


def test_a_null_key_is_a_null_not_a_duplicate(built: dict) -> None:
    nulls = built["results"]["column_checks_null_key_nulls"]
    assert (nulls["status"], nulls["failures"]) == ("fail", 2)
    assert built["stored"]["column_checks_null_key_nulls"] == [("id", "null", 2)]
    unique = built["results"]["column_checks_null_key_unique"]
    assert (unique["status"], unique["failures"]) == ("pass", 0)


def test_values_not_accepted_and_rows_not_true_fail_as_the_tests_they_replace(built: dict) -> None:
    valued = built["results"]["column_checks_valued"]
    assert valued["status"] == "fail"
    # 2 distinct statuses + 1 flag not accepted; 2 rows with amount >= 0 not true (one false,
    # one null) + 1 row with the status expression null. Nulls in accepted-values columns pass.
    assert valued["failures"] == 2 + 1 + 2 + 1
    assert "Got 6 results" in valued["message"]
    assert built["stored"]["column_checks_valued"] == sorted(
        [
            ("status", "not_accepted", 2),
            ("flag", "not_accepted", 1),
            ("amount >= 0", "not_true", 2),
            # The expression's quotes survive as its text.
            ("status <> 'it''s'", "not_true", 1),
        ],
        key=repr,
    )
    # The same counts as dbt's accepted_values (distinct values, nulls pass) and the
    # project's expression_is_true (rows, a null result fails).
    old = {name: built["results"][name] for name in built["results"] if name.startswith("old_")}
    assert {name: (r["status"], r["failures"]) for name, r in old.items()} == {
        "old_accepted_status": ("fail", 2),
        "old_accepted_flag": ("fail", 1),
        "old_expression_amount": ("fail", 2),
        "old_expression_status": ("fail", 1),
    }
    assert built["stored"]["old_accepted_status"] == [("lost", 2), ("weird", 1)]


def test_nulls_in_accepted_values_columns_and_true_expressions_pass(built: dict) -> None:
    clean = built["results"]["column_checks_valued_clean"]
    assert (clean["status"], clean["failures"]) == ("pass", 0)


def test_a_string_where_a_list_belongs_is_refused_when_dbt_parses(tmp_path: Path) -> None:
    """Read letter by letter, `not_null: id` would check columns i and d."""
    cases = {
        "not_null: id": "not_null must be a list, not 'id'",
        "accepted_values: {code: a}": "accepted_values of code must be a list, not 'a'",
        "accepted_values: {code: [2024-01-01]}": "accepted value '2024-01-01' of code must be",
    }
    for number, (arguments, message) in enumerate(cases.items()):
        schema = f"""
version: 2
models:
  - name: bare
    data_tests:
      - column_checks:
          name: column_checks_bare
          arguments: {{{arguments}}}
"""
        result = run_dbt(tmp_path / str(number), {"bare": CLEAN}, schema, "parse")
        assert result.returncode == 2, result.stdout[-2000:]
        assert message in result.stdout, result.stdout[-2000:]
