"""Incremental builds (ADR 0040) give the same Silver and Gold as a full rebuild, and reruns
change nothing.

One lake is built the way production builds it: a full first run-pipeline over run A, then a
second run-pipeline over run B, which folds only B into Silver. A second lake holds a copy of
the same Bronze and is built in one full run-transforms. Run B carries updates to objects
created before it (refunds on older charges, customer updates and deletions), so merges into
old partitions and their effect through Gold's joins are covered.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from extractor.streams import ENTITY_NAMES as ENTITIES
from extractor.transform.build_resources import LARGE_LAKE
from mock_api.dataset import parse_time
from tests.dbt.lake_queries import content_digest
from tests.dbt.test_partition_rewrites import set_clock
from tests.support.cli import child_env, run_cli
from tests.support.servers import start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Late enough that customers created in January are deleted between the two runs.
T1 = parse_time("2026-02-14T00:00:00Z")
T2 = T1 + 4 * 86_400
STATE = "_state/transforms/folded_bronze.json"


# run-transforms talks to no API.
NO_API = "http://127.0.0.1:9"


def tables(lake: Path) -> dict[str, list[tuple]]:
    """Every Silver and Gold folder's rows, sorted (the files' own `dt` column included)."""
    out = {}
    for folder in sorted(lake.glob("silver/source=stripe/entity=*")) + sorted(
        lake.glob("gold/model=*")
    ):
        sql = f"select * from read_parquet('{folder}/*/*.parquet') order by all"
        out[str(folder.relative_to(lake))] = duckdb.sql(sql).fetchall()
    return out


def manifest(lake: Path, run_id: str) -> dict:
    return json.loads((lake / "_state" / "manifests" / f"run_{run_id}.json").read_text())


def bronze_rows(lake: Path, entity: str, run_id: str, where: str) -> list[tuple]:
    glob = f"{lake}/bronze/source=stripe/entity={entity}/dt=*/run_id={run_id}/part-*.jsonl*"
    return duckdb.sql(
        f"select data ->> '$.id' from read_json('{glob}', format = 'newline_delimited', "
        f"columns = {{'_event_type': 'VARCHAR', 'data': 'JSON'}}) where {where}"
    ).fetchall()


@pytest.fixture(scope="module")
def lakes(tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("incremental")
    mock = start_mock_api({"MOCK_NOW": str(T1)}, work / "mock")
    incremental = work / "incremental"
    # dbt's settings are the CLI's own choice in this fixture's builds, whatever the shell says.
    own_settings = ("RUN_ID", "DUCKDB_MEMORY_LIMIT", "DUCKDB_THREADS", *LARGE_LAKE)
    # This machine's record of passed unit tests starts empty here (ADR 0059).
    record = {"PIPELINE_UNIT_TEST_RECORD": str(work / "unit-tests-passed")}
    env = child_env(incremental, mock.url, clear=own_settings, **record)
    try:
        first = run_cli("run-pipeline", "--days", "10", "--run-id", "A", env=env)
        assert first.returncode == 0, first.stderr[-4000:]
        set_clock(mock.url, T2)
        second = run_cli("run-pipeline", "--days", "10", "--run-id", "B", env=env)
        assert second.returncode == 0, second.stderr[-4000:]
    finally:
        mock.stop()
    full = work / "full"
    shutil.copytree(incremental / "bronze", full / "bronze")
    # The full rebuild runs as a large lake's would (ADR 0058): one dbt node at a time. The
    # equality test below then also shows that this changes no answer.
    env = child_env(full, mock.url, clear=own_settings, PIPELINE_LARGE_BRONZE_BYTES="1", **record)
    rebuilt = run_cli("run-transforms", "--run-id", "F", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr[-4000:]
    (work / "F.stderr").write_text(rebuilt.stderr)
    return incremental, full


def test_a_large_lake_builds_one_node_at_a_time_and_says_so(lakes) -> None:
    incremental, full = lakes
    bronze = [
        path
        for path in (full / "bronze").rglob("part-*")
        if "entity=webhook_events" not in path.parts[-4] and path.is_file()
    ]
    fold = manifest(full, "F")["transform"]["fold"]
    assert fold["bronze_bytes"] == sum(path.stat().st_size for path in bronze) > 0
    assert fold["dbt_settings"] == {
        "DBT_THREADS": "1",
        "DUCKDB_THREADS": "2",
        "DUCKDB_MEMORY_LIMIT": "600MB",
        "DUCKDB_PRESERVE_INSERTION_ORDER": "false",
        "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0",
    }
    assert "Concurrency: 1 threads" in (full.parent / "F.stderr").read_text()
    # Below the threshold (4 GiB by default): profiles.yml's defaults.
    first = manifest(incremental, "A")["transform"]["fold"]["dbt_settings"]
    assert first == {
        "DBT_THREADS": "2",
        "DUCKDB_THREADS": "2",
        "DUCKDB_MEMORY_LIMIT": "600MB",
        "DUCKDB_PRESERVE_INSERTION_ORDER": "true",
        "DUCKDB_JE_MALLOC_CONF": "",
    }


def test_the_second_run_folds_only_its_own_bronze(lakes) -> None:
    incremental, full = lakes
    assert manifest(incremental, "A")["transform"]["fold"]["mode"] == "full"
    fold = manifest(incremental, "B")["transform"]["fold"]
    assert fold["mode"] == "incremental"
    assert fold["bronze_run_ids"] == ["B"]
    # The project did not change between A and B: B's build leaves dbt's unit tests out.
    assert fold["unit_tests"] == "skipped: project unchanged since the last passing build"
    assert "unit_test" not in manifest(incremental, "B")["transform"]["counts_by_kind"]
    passed = manifest(incremental, "A")["transform"]["counts_by_kind"]["unit_test"]["pass"]
    assert passed > 0
    # A's build ran every unit test and passed: the machine's record says so, and the other
    # lake's full build of the same project leaves them out, naming the run (ADR 0059).
    (record,) = (incremental.parent / "unit-tests-passed").glob("*.json")
    assert json.loads(record.read_text()) == {
        "project_code": record.stem,
        "run_id": "A",
        "lake": str(incremental),
        "passed": passed,
    }
    rebuilt = manifest(full, "F")["transform"]
    assert rebuilt["fold"]["mode"] == "full"
    assert rebuilt["fold"]["unit_tests"] == (
        "skipped: this project's unit tests passed on this machine in run A"
    )
    assert "unit_test" not in rebuilt["counts_by_kind"]
    # Only the sources B wrote Bronze for, and what lies downstream of them, were rebuilt
    # (ADR 0056); the equality with a full rebuild below is what proves that safe.
    written = sorted(
        {
            p.parent.parent.parent.name.removeprefix("entity=")
            for p in incremental.glob("bronze/source=stripe/entity=*/dt=*/run_id=B/part-*")
        }
    )
    assert fold["changed_sources"] == written
    built = {m["name"] for m in manifest(incremental, "B")["transform"]["models"]}
    for entity in set(ENTITIES) - set(written):
        assert f"stg_stripe__{entity}" not in built, entity
    assert {f"stg_stripe__{entity}" for entity in written} <= built
    state = json.loads((incremental / STATE).read_text())["runs"]
    assert sorted(state) == ["A", "B"]


def test_run_b_updates_objects_in_old_partitions(lakes) -> None:
    """The scenario the equivalence below depends on (else it proves little)."""
    incremental, _ = lakes
    # Created before T1: partitions run A's build wrote, which run B's must merge into.
    old = "cast(to_timestamp(cast(data ->> '$.created' as bigint)) as date) < '2026-02-14'"
    assert bronze_rows(incremental, "charges", "B", f"{old} and _event_type = 'charge.refunded'")
    assert bronze_rows(incremental, "customers", "B", f"{old} and _event_type = 'customer.updated'")
    assert bronze_rows(incremental, "customers", "B", f"{old} and _event_type = 'customer.deleted'")
    assert bronze_rows(incremental, "invoices", "B", f"{old} and _event_type = 'invoice.paid'")


def test_incremental_silver_and_gold_equal_a_full_rebuild(lakes) -> None:
    incremental, full = lakes
    got, want = tables(incremental), tables(full)
    assert sorted(got) == sorted(want)
    for name in want:
        assert want[name], f"{name} is empty: the comparison would prove nothing"
        assert got[name] == want[name], name
    # No placeholder (null dt) partitions, no stray files: the same file layout.
    assert content_digest(incremental) == content_digest(full)


def test_rerunning_with_nothing_new_or_refolding_a_run_changes_nothing(lakes) -> None:
    incremental, _ = lakes
    before = content_digest(incremental)

    again = run_cli("run-transforms", "--run-id", "again", lake=incremental, api=NO_API)
    assert again.returncode == 0, again.stderr[-4000:]
    fold = manifest(incremental, "again")["transform"]["fold"]
    assert (fold["mode"], fold["bronze_run_ids"]) == ("incremental", [])
    # Nothing new: no model rebuilt, only the time-dependent test ran (ADR 0054).
    assert fold["models"].startswith("skipped: nothing new")
    assert manifest(incremental, "again")["transform"]["models"] == []
    tests = manifest(incremental, "again")["transform"]["counts_by_kind"]["test"]
    assert sum(tests.values()) == 1
    assert content_digest(incremental) == before

    # As after a crash between the Silver writes and the state write: B is folded again.
    state_path = incremental / STATE
    state = json.loads(state_path.read_text())
    del state["runs"]["B"]
    state_path.write_text(json.dumps(state))
    refold = run_cli("run-transforms", "--run-id", "refold", lake=incremental, api=NO_API)
    assert refold.returncode == 0, refold.stderr[-4000:]
    assert manifest(incremental, "refold")["transform"]["fold"]["bronze_run_ids"] == ["B"]
    assert content_digest(incremental) == before

    # A full refresh agrees too.
    full = run_cli(
        "run-transforms", "--full-refresh", "--run-id", "refresh", lake=incremental, api=NO_API
    )
    assert full.returncode == 0, full.stderr[-4000:]
    assert manifest(incremental, "refresh")["transform"]["fold"]["mode"] == "full"
    assert content_digest(incremental) == before
