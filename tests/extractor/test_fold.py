"""Which Bronze runs a build folds (ADR 0040): parts not yet folded, by run id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractor.lake import layout
from extractor.lake.storage import LocalStorage
from extractor.settings import REPO_ROOT, ConfigError, Settings
from extractor.transform.build_resources import LARGE_LAKE
from extractor.transform.fold import (
    FRESHNESS_ENV,
    RUN_IDS_ENV,
    STATE_KEY,
    FoldStateError,
    code_fingerprint,
    plan_fold,
    record_fold,
    scan_bronze,
)
from extractor.transform.unit_test_record import (
    RECORD_ENV,
    passed_here,
    record_passed,
    unit_tests_in,
)


def part(storage: LocalStorage, entity: str, run_id: str, n: int = 0) -> None:
    key = f"bronze/source=stripe/entity={entity}/dt=2026-01-20/run_id={run_id}/part-{n:05d}.jsonl"
    storage.put(key, b"{}\n")


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path)


@pytest.fixture(autouse=True)
def no_unit_test_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This machine's record of passed unit tests (ADR 0059), empty for each test here: the
    suite's own builds write the real one."""
    folder = tmp_path / "unit-tests-passed"
    monkeypatch.setenv(RECORD_ENV, str(folder))
    return folder


def test_first_build_is_full_then_only_new_runs_fold(storage: LocalStorage) -> None:
    part(storage, "charges", "A")
    part(storage, "customers", "A")
    # Webhook captures are not runs: never listed.
    storage.put("bronze/source=stripe/entity=webhook_events/dt=2026-01-20/evt_1.json", b"{}")

    first = plan_fold(storage)
    assert (first.incremental, first.dbt_env()[RUN_IDS_ENV]) == (False, None)
    assert list(first.parts) == ["A"]
    record_fold(storage, first)

    nothing = plan_fold(storage)
    assert (nothing.incremental, nothing.run_ids) == (True, [])
    assert nothing.dbt_env()[RUN_IDS_ENV] == "[]"

    part(storage, "charges", "B")
    second = plan_fold(storage)
    assert second.run_ids == ["B"]
    assert json.loads(second.dbt_env()[RUN_IDS_ENV]) == ["B"]
    assert plan_fold(storage, full_refresh=True).incremental is False


def test_freshness_reads_the_runs_with_each_entitys_newest_lines(storage: LocalStorage) -> None:
    part(storage, "charges", "A")
    part(storage, "customers", "A")
    first = plan_fold(storage)
    # A first build knows no order: every run of an entity (a superset is always right).
    assert first.latest_runs == {"charges": ["A"], "customers": ["A"]}
    record_fold(storage, first)
    part(storage, "charges", "B")
    part(storage, "charges", "C")
    second = plan_fold(storage)
    # Charges' newest lines are in the runs written since; customers' still in A.
    assert json.loads(second.dbt_env()[FRESHNESS_ENV]) == {
        "charges": ["B", "C"],
        "customers": ["A"],
    }
    record_fold(storage, second)
    part(storage, "customers", "D")
    third = plan_fold(storage)
    assert third.latest_runs == {"charges": ["B", "C"], "customers": ["D"]}
    record_fold(storage, third)
    # Nothing new: what the state recorded, not all of Bronze again.
    assert plan_fold(storage).latest_runs == {"charges": ["B", "C"], "customers": ["D"]}
    # A recorded run gone from Bronze (deleted by hand): back to every run of the entity.
    storage.delete("bronze/source=stripe/entity=charges/dt=2026-01-20/run_id=C/part-00000.jsonl")
    assert plan_fold(storage).latest_runs["charges"] == ["A", "B"]


def test_a_run_that_gains_parts_after_its_fold_is_folded_again(storage: LocalStorage) -> None:
    part(storage, "customers", "A")
    record_fold(storage, plan_fold(storage))
    # RUN_ID fixed across several run-batch calls: the same run id, a new entity's part.
    part(storage, "charges", "A")
    assert plan_fold(storage).run_ids == ["A"]
    assert scan_bronze(storage).parts["A"] == [
        "entity=charges/dt=2026-01-20/run_id=A/part-00000.jsonl",
        "entity=customers/dt=2026-01-20/run_id=A/part-00000.jsonl",
    ]


def test_an_unreadable_state_file_names_the_way_out(storage: LocalStorage) -> None:
    part(storage, "charges", "A")
    storage.put(STATE_KEY, b"not json")
    with pytest.raises(FoldStateError, match="--full-refresh"):
        plan_fold(storage)
    # A full refresh does not need the old state, and writes a good one.
    plan = plan_fold(storage, full_refresh=True)
    record_fold(storage, plan)
    assert plan_fold(storage).run_ids == []


def test_changed_silver_code_makes_the_next_build_full(storage: LocalStorage) -> None:
    part(storage, "charges", "A")
    record_fold(storage, plan_fold(storage, code="v1"))
    assert json.loads(storage.get(STATE_KEY))["silver_code"] == "v1"
    part(storage, "charges", "B")

    same = plan_fold(storage, code="v1")
    assert (same.incremental, same.run_ids) == (True, ["B"])
    changed = plan_fold(storage, code="v2")
    assert changed.incremental is False
    assert "changed" in changed.reason
    # After that full build the new code is the recorded one.
    record_fold(storage, changed)
    assert plan_fold(storage, code="v2").incremental is True


def test_the_fingerprint_follows_the_staging_models_and_macros(tmp_path: Path) -> None:
    (tmp_path / "dbt_project/models/staging").mkdir(parents=True)
    (tmp_path / "dbt_project/models/marts").mkdir(parents=True)
    (tmp_path / "dbt_project/macros").mkdir(parents=True)
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    model = tmp_path / "dbt_project/models/staging/stg.sql"
    model.write_text("select 1")
    first = code_fingerprint(tmp_path)
    # A Gold model does not shape Silver.
    (tmp_path / "dbt_project/models/marts/fct.sql").write_text("select 2")
    assert code_fingerprint(tmp_path) == first
    model.write_text("select 1 as id")
    assert code_fingerprint(tmp_path) != first
    model.write_text("select 1")
    (tmp_path / "dbt_project/macros/new.sql").write_text("{% macro m() %}{% endmacro %}")
    assert code_fingerprint(tmp_path) != first
    # The repository's own fingerprint is stable between calls.
    assert code_fingerprint() == code_fingerprint()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small dbt project whose fingerprint the fold computes instead of the repository's."""
    from extractor.transform import fold

    project = tmp_path / "project"
    for folder in ("models/marts", "models/staging", "macros"):
        (project / "dbt_project" / folder).mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    (project / "requirements.lock").write_text("dbt-core==1.11.0\n")
    (project / "profiles.yml").write_text("x: {}\n")
    real = fold.code_fingerprint
    monkeypatch.setattr(
        fold,
        "code_fingerprint",
        lambda root=project, entries=fold.SILVER_CODE: real(project, entries),
    )
    return project


def test_unit_tests_run_on_full_builds_and_when_the_project_changes(
    storage: LocalStorage, project: Path
) -> None:
    part(storage, "charges", "A")
    first = plan_fold(storage)
    assert (first.unit_tests, first.build_command()) == (True, "build")
    record_fold(storage, first)

    part(storage, "charges", "B")
    unchanged = plan_fold(storage)
    assert unchanged.incremental and not unchanged.unit_tests
    assert unchanged.build_command() == (
        "build --select source:stripe.charges+ tag:time_dependent --exclude-resource-type unit_test"
    )
    assert unchanged.as_dict()["unit_tests"].startswith("skipped: project unchanged")
    assert plan_fold(storage, full_refresh=True).unit_tests is True

    # A Gold model (which does not make the build full) or a new dbt pin runs them again.
    (project / "dbt_project/models/marts/fct.sql").write_text("select 2")
    gold_changed = plan_fold(storage)
    assert gold_changed.incremental and gold_changed.unit_tests
    # A changed project rebuilds every model (its outputs may differ).
    assert (gold_changed.changed_sources, gold_changed.build_command()) == (None, "build")
    record_fold(storage, gold_changed)
    assert plan_fold(storage).unit_tests is False
    (project / "requirements.lock").write_text("dbt-core==1.11.1\n")
    assert plan_fold(storage).unit_tests is True


def test_a_project_whose_unit_tests_passed_on_this_machine_skips_them_in_any_lake(
    tmp_path: Path, project: Path, no_unit_test_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from extractor.transform import fold

    lakes = [LocalStorage(tmp_path / name) for name in ("one", "two")]
    for lake in lakes:
        part(lake, "charges", "A")
    first = plan_fold(lakes[0])
    assert first.unit_tests and first.as_dict()["unit_tests"] == "run"
    record_passed(first.project_code, "r1", lakes[0].root, 14)

    # Another lake's first build, and a full refresh, leave them out and say why.
    for plan in (plan_fold(lakes[1]), plan_fold(lakes[0], full_refresh=True)):
        assert (plan.incremental, plan.unit_tests) == (False, False)
        assert plan.build_command() == "build --exclude-resource-type unit_test"
        assert plan.as_dict()["unit_tests"] == (
            "skipped: this project's unit tests passed on this machine in run r1"
        )

    # An unreadable record is none.
    (record,) = no_unit_test_record.glob("*.json")
    kept = record.read_text()
    record.write_text("{not json")
    assert plan_fold(lakes[1]).unit_tests is True
    record.write_text(kept)
    assert plan_fold(lakes[1]).unit_tests is False

    # A changed project (here a new pin), or other installed dbt or DuckDB, has no record yet.
    with monkeypatch.context() as patched:
        patched.setattr(fold, "installed_versions", lambda: {"duckdb": "0.0.1"})
        assert plan_fold(lakes[1]).unit_tests is True
    assert plan_fold(lakes[1]).unit_tests is False
    (project / "requirements.lock").write_text("dbt-core==1.11.1\n")
    assert plan_fold(lakes[1]).unit_tests is True


def test_a_record_that_cannot_be_written_is_a_warning_and_a_relative_one_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(RECORD_ENV, str(blocker / "record"))
    record_passed("abc", "r1", "/lake", 3)  # no exception: the unit tests just run again
    assert passed_here("abc") is None
    warned = [r for r in caplog.records if r.getMessage() == "unit_test_record_not_written"]
    assert len(warned) == 1 and "NotADirectoryError" in warned[0].fields["detail"]

    monkeypatch.setenv(RECORD_ENV, "target/record")
    with pytest.raises(ConfigError, match="PIPELINE_UNIT_TEST_RECORD='target/record' must be"):
        passed_here("abc")
    with pytest.raises(ConfigError, match="must be an absolute path"):
        Settings.from_env({RECORD_ENV: "target/record"})


def test_a_build_with_nothing_new_runs_only_the_time_dependent_tests(
    storage: LocalStorage,
) -> None:
    part(storage, "charges", "A")
    first = plan_fold(storage)
    assert first.nothing_new is False
    record_fold(storage, first)

    same = plan_fold(storage)
    assert same.nothing_new is True
    # Tests only: no model is written, so dbt skips listing the warehouse's relations.
    assert same.build_command() == (
        "build --select tag:time_dependent --no-populate-cache --exclude-resource-type unit_test"
    )
    assert same.as_dict()["models"].startswith("skipped: nothing new")
    assert plan_fold(storage, full_refresh=True).nothing_new is False

    # A new webhook capture (stg_stripe__webhook_events rebuilds from all of them) is new.
    storage.put("bronze/source=stripe/entity=webhook_events/dt=2026-01-20/evt_2.json", b"{}")
    captured = plan_fold(storage)
    assert (captured.nothing_new, captured.build_command()) == (
        False,
        "build --select source:stripe.webhook_events+ tag:time_dependent "
        "--exclude-resource-type unit_test",
    )
    record_fold(storage, captured)
    assert plan_fold(storage).nothing_new is True
    # So is a new Bronze part.
    part(storage, "charges", "B")
    assert plan_fold(storage).nothing_new is False


def test_only_the_sources_with_new_parts_are_rebuilt_while_the_outputs_are_kept(
    storage: LocalStorage,
) -> None:
    part(storage, "charges", "A")
    part(storage, "customers", "A")
    record_fold(storage, plan_fold(storage))
    # Run B brings charges and events; run A gains a customers part later (RUN_ID fixed).
    part(storage, "charges", "B")
    part(storage, "events", "B")
    part(storage, "customers", "A", n=1)
    plan = plan_fold(storage)
    assert plan.changed_sources == ["charges", "customers", "events"]
    assert plan.as_dict()["models"].startswith("built downstream of the sources with new data")
    # Dbt still folds whole runs: the runs holding new parts.
    assert plan.run_ids == ["A", "B"]
    # Without the last build's outputs, or its warehouse, every model is rebuilt.
    assert plan_fold(storage, warehouse_current=False).changed_sources is None
    storage.put("gold/model=fct_payments/dt=2026-01-20/data_0.parquet", b"x")
    assert plan_fold(storage).changed_sources is None
    assert plan_fold(storage).as_dict()["models"] == "built"


def test_a_build_of_new_data_also_rebuilds_the_empty_models(storage: LocalStorage) -> None:
    """Their placeholders (a null `dt` partition) are removed before any build that writes
    models, so that such a build must write them again, even when their sources are old."""
    part(storage, "charges", "A")
    storage.put("silver/source=stripe/entity=charges/dt=2026-01-20/data_0.parquet", b"x")
    storage.put(f"silver/source=stripe/entity=coupons{layout.NULL_PARTITION}data_0.parquet", b"x")
    storage.put(f"gold/model=dim_products{layout.NULL_PARTITION}data_0.parquet", b"x")
    record_fold(storage, plan_fold(storage))
    part(storage, "charges", "B")
    plan = plan_fold(storage)
    assert plan.placeholders == ["dim_products", "stg_stripe__coupons"]
    assert plan.rebuilds_models
    assert plan.build_command() == (
        "build --select source:stripe.charges+ dim_products stg_stripe__coupons "
        "tag:time_dependent --exclude-resource-type unit_test"
    )
    # Nothing new: no model is written, so the placeholders stay where they are.
    record_fold(storage, plan)
    idle = plan_fold(storage)
    assert idle.nothing_new and not idle.rebuilds_models
    assert idle.build_command() == (
        "build --select tag:time_dependent --no-populate-cache --exclude-resource-type unit_test"
    )
    # Nothing new but a model refreshed (rpt_webhook_reconciliation with pending events):
    # it writes that model, so dbt keeps its relation cache.
    idle.refreshed_models = ["rpt_webhook_reconciliation"]
    assert idle.rebuilds_models
    assert idle.build_command() == (
        "build --select rpt_webhook_reconciliation dim_products stg_stripe__coupons "
        "tag:time_dependent --exclude-resource-type unit_test"
    )


def test_a_setting_the_tests_read_counts_as_a_project_change(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_WHOLE_HISTORY", raising=False)
    part(storage, "charges", "A")
    record_fold(storage, plan_fold(storage))
    assert plan_fold(storage).nothing_new is True
    # The ledger test's answer changes with it: everything runs again, unit tests included.
    monkeypatch.setenv("LEDGER_WHOLE_HISTORY", "true")
    changed = plan_fold(storage)
    assert (changed.nothing_new, changed.unit_tests, changed.build_command()) == (
        False,
        True,
        "build",
    )


def test_a_deleted_silver_or_gold_file_makes_the_build_run_again(storage: LocalStorage) -> None:
    part(storage, "charges", "A")
    storage.put("silver/source=stripe/entity=charges/dt=2026-01-20/data_0.parquet", b"x")
    storage.put("gold/model=fct_payments/dt=2026-01-20/data_0.parquet", b"x")
    record_fold(storage, plan_fold(storage))
    assert plan_fold(storage).nothing_new is True
    storage.delete("gold/model=fct_payments/dt=2026-01-20/data_0.parquet")
    assert plan_fold(storage).nothing_new is False


def test_a_missing_warehouse_makes_the_build_run_again(storage: LocalStorage) -> None:
    part(storage, "charges", "A")
    record_fold(storage, plan_fold(storage))
    assert plan_fold(storage, warehouse_current=True).nothing_new is True
    assert plan_fold(storage, warehouse_current=False).nothing_new is False


def test_a_capture_leaving_the_quarantine_is_new_but_a_new_check_time_is_not(
    storage: LocalStorage,
) -> None:
    from extractor.lake import layout

    bad = "bronze/source=stripe/entity=webhook_events/dt=2026-01-20/evt_bad.json"
    storage.put(bad, b"{")

    def quarantine(files: list[str], checked_at: str) -> None:
        record = {"checked_at": checked_at, "files": [{"key": k, "reason": "x"} for k in files]}
        storage.put(layout.QUARANTINE_KEY, json.dumps(record).encode())

    quarantine([bad], "2026-01-20T00:00:00Z")
    record_fold(storage, plan_fold(storage))
    quarantine([bad], "2026-01-21T00:00:00Z")
    assert plan_fold(storage).nothing_new is True
    # Fixed in place by hand: same key, and the check no longer quarantines it.
    storage.put(bad, b"{}")
    quarantine([], "2026-01-22T00:00:00Z")
    assert plan_fold(storage).nothing_new is False


def test_a_warehouse_is_current_only_when_its_views_read_this_lake(tmp_path: Path) -> None:
    import duckdb

    from extractor.transform.warehouse import views_read_this_lake

    lake = LocalStorage(tmp_path / "lake")
    path = tmp_path / "warehouse.duckdb"
    assert views_read_this_lake(path, lake) is False  # no warehouse yet

    def view_over(root: str) -> None:
        con = duckdb.connect(str(path))
        con.execute(f"create or replace view v as select '{root}/silver/x' as folder")
        con.close()

    view_over(lake.root)
    assert views_read_this_lake(path, lake) is True
    # The same lake with its root spelled otherwise (`make demo`'s ./_local_data), or moved.
    view_over("./_local_data")
    assert views_read_this_lake(path, lake) is False


def test_a_large_lake_builds_one_dbt_node_at_a_time_unless_the_caller_chose(
    storage: LocalStorage, monkeypatch
) -> None:
    for name in LARGE_LAKE.keys() | {"DUCKDB_MEMORY_LIMIT", "DUCKDB_THREADS"}:
        monkeypatch.delenv(name, raising=False)
    part(storage, "charges", "A")  # 3 bytes each
    part(storage, "customers", "A")
    storage.put("bronze/source=stripe/entity=webhook_events/dt=2026-01-20/evt_1.json", b"{}" * 50)
    small = plan_fold(storage)
    assert small.bronze_bytes == 6  # batch parts only, not the webhook capture
    # A gzipped part counts as the JSON lines it holds, about 10x its size.
    gz = "bronze/source=stripe/entity=charges/dt=2026-01-20/run_id=B/part-00000.jsonl.gz"
    storage.put(gz, b"x" * 7)
    assert plan_fold(storage).bronze_bytes == 6 + 70
    storage.delete(gz)
    assert "DBT_THREADS" not in small.dbt_env()
    assert "DUCKDB_PRESERVE_INSERTION_ORDER" not in small.dbt_env()
    assert small.as_dict()["dbt_settings"] == {
        "DBT_THREADS": "2",
        "DUCKDB_THREADS": "2",
        "DUCKDB_MEMORY_LIMIT": "600MB",
        "DUCKDB_PRESERVE_INSERTION_ORDER": "true",
        "DUCKDB_JE_MALLOC_CONF": "",
    }

    large = plan_fold(storage, large_bronze_bytes=6)
    assert large.dbt_env()["DBT_THREADS"] == "1"
    assert large.dbt_env()["DUCKDB_PRESERVE_INSERTION_ORDER"] == "false"
    assert large.dbt_env()["DUCKDB_JE_MALLOC_CONF"] == "dirty_decay_ms:0,muzzy_decay_ms:0"
    assert "DUCKDB_MEMORY_LIMIT" not in large.dbt_env()
    assert large.as_dict()["dbt_settings"] == {
        "DBT_THREADS": "1",
        "DUCKDB_THREADS": "2",
        "DUCKDB_MEMORY_LIMIT": "600MB",
        "DUCKDB_PRESERVE_INSERTION_ORDER": "false",
        "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0",
    }

    # A memory limit the caller set (the out-of-memory advice) keeps one node at a time; a
    # variable of the rule that the caller set wins, each on its own.
    monkeypatch.setenv("DUCKDB_MEMORY_LIMIT", "4GB")
    chosen = plan_fold(storage, large_bronze_bytes=6)
    assert chosen.as_dict()["dbt_settings"] == {
        "DBT_THREADS": "1",
        "DUCKDB_THREADS": "2",
        "DUCKDB_MEMORY_LIMIT": "4GB",
        "DUCKDB_PRESERVE_INSERTION_ORDER": "false",
        "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0",
    }
    monkeypatch.setenv("DBT_THREADS", "2")
    assert "DBT_THREADS" not in plan_fold(storage, large_bronze_bytes=6).dbt_env()
    assert plan_fold(storage, large_bronze_bytes=6).as_dict()["dbt_settings"] == {
        "DBT_THREADS": "2",
        "DUCKDB_THREADS": "2",
        "DUCKDB_MEMORY_LIMIT": "4GB",
        "DUCKDB_PRESERVE_INSERTION_ORDER": "false",
        "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0",
    }
    monkeypatch.setenv("DUCKDB_PRESERVE_INSERTION_ORDER", "true")
    monkeypatch.setenv("DUCKDB_JE_MALLOC_CONF", "dirty_decay_ms:500")
    assert plan_fold(storage, large_bronze_bytes=6).dbt_env().keys().isdisjoint(LARGE_LAKE)
    assert plan_fold(storage, large_bronze_bytes=6).as_dict()["dbt_settings"] == {
        "DBT_THREADS": "2",
        "DUCKDB_THREADS": "2",
        "DUCKDB_MEMORY_LIMIT": "4GB",
        "DUCKDB_PRESERVE_INSERTION_ORDER": "true",
        "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:500",
    }


def test_only_a_passing_build_that_ran_every_unit_test_is_recorded(
    storage: LocalStorage, project: Path, no_unit_test_record: Path
) -> None:
    from types import SimpleNamespace

    from extractor.pipeline import record_unit_tests
    from extractor.transform.dbt import DbtOutcome

    part(storage, "charges", "A")
    plan = plan_fold(storage)
    ctx = SimpleNamespace(run_id="r1", storage=storage)

    def build(**unit_tests: int) -> DbtOutcome:
        return DbtOutcome(
            "build", 0, 1.0, kind_counts={"unit_test": unit_tests} if unit_tests else {}
        )

    declared = unit_tests_in(REPO_ROOT / "dbt_project")
    assert declared >= 14
    # A failed or skipped unit test, none at all, or fewer than the project declares (a
    # selector in dbt's environment variables, say): no record.
    record_unit_tests(ctx, plan, build(**{"pass": declared - 1, "fail": 1}))
    record_unit_tests(ctx, plan, build(**{"pass": declared - 1, "skipped": 1}))
    record_unit_tests(ctx, plan, build())
    record_unit_tests(ctx, plan, build(**{"pass": declared - 1}))
    # Nor when the project changed while dbt ran: what it tested may not be what is recorded.
    (project / "dbt_project/models/marts/fct.sql").write_text("select 2")
    record_unit_tests(ctx, plan, build(**{"pass": declared}))
    assert not no_unit_test_record.exists()

    (project / "dbt_project/models/marts/fct.sql").unlink()
    record_unit_tests(ctx, plan, build(**{"pass": declared}))
    record = passed_here(plan.project_code)
    assert (record["run_id"], record["lake"], record["passed"]) == ("r1", storage.root, declared)
