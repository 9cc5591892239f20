"""Which Bronze runs a build folds (ADR 0040): parts not yet folded, by run id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractor.fold import (
    RUN_IDS_ENV,
    STATE_KEY,
    FoldStateError,
    list_bronze_parts,
    plan_fold,
    record_fold,
)
from extractor.storage import LocalStorage


def part(storage: LocalStorage, entity: str, run_id: str, n: int = 0) -> None:
    key = f"bronze/source=stripe/entity={entity}/dt=2026-01-20/run_id={run_id}/part-{n:05d}.jsonl"
    storage.put(key, b"{}\n")


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path)


def test_first_build_is_full_then_only_new_runs_fold(storage: LocalStorage) -> None:
    part(storage, "charges", "A")
    part(storage, "customers", "A")
    # Webhook captures are not runs: never listed.
    storage.put("bronze/source=stripe/entity=webhook_events/dt=2026-01-20/evt_1.json", b"{}")

    first = plan_fold(storage)
    assert (first.incremental, first.dbt_env()) == (False, {RUN_IDS_ENV: None})
    assert list(first.parts) == ["A"]
    record_fold(storage, first)

    nothing = plan_fold(storage)
    assert (nothing.incremental, nothing.run_ids) == (True, [])
    assert nothing.dbt_env() == {RUN_IDS_ENV: "[]"}

    part(storage, "charges", "B")
    second = plan_fold(storage)
    assert second.run_ids == ["B"]
    assert json.loads(second.dbt_env()[RUN_IDS_ENV]) == ["B"]
    assert plan_fold(storage, full_refresh=True).incremental is False


def test_a_run_that_gains_parts_after_its_fold_is_folded_again(storage: LocalStorage) -> None:
    part(storage, "customers", "A")
    record_fold(storage, plan_fold(storage))
    # RUN_ID fixed across several run-batch calls: the same run id, a new entity's part.
    part(storage, "charges", "A")
    assert plan_fold(storage).run_ids == ["A"]
    assert list_bronze_parts(storage)["A"] == [
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
