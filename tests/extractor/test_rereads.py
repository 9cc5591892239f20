"""The safety window's unchanged re-reads (extractor/extract/rereads.py, ADR 0057)."""

from __future__ import annotations

import json

import pytest

from extractor.api.client import Item, Page
from extractor.api.rawjson import Span
from extractor.extract.rereads import KnownVersions, commit_known, digest, read_known
from extractor.lake.storage import storage_for
from extractor.lake.watermarks import StateError
from extractor.settings import Settings


def page_of(*objects: dict) -> Page:
    items = []
    for obj in objects:
        raw = json.dumps(obj)
        items.append(Item(obj["id"], raw, obj, Span(0, len(raw), obj)))
    return Page("", items, False, 1_000)


def test_only_the_known_version_of_a_known_id_is_dropped() -> None:
    same = {"id": "ch_1", "created": 900, "amount": 100}
    changed = {"id": "ch_2", "created": 900, "amount": 250}
    versions = KnownVersions(
        "charges",
        known={
            "ch_1": digest(json.dumps(same)),
            "ch_2": digest(json.dumps({**changed, "amount": 200})),
        },
        keep_since=950,
    )
    new = {"id": "ch_3", "created": 960}
    kept = versions.unchanged_dropped(page_of(same, changed, new), drop=True)
    assert [item.id for item in kept.items] == ["ch_2", "ch_3"]
    assert versions.dropped == 1
    # Only what the next run's overlap (from 950) reads again is remembered.
    assert versions.seen == {"ch_3": digest(json.dumps(new))}


def test_a_window_that_does_not_overlap_drops_nothing_but_remembers() -> None:
    obj = {"id": "ch_1", "created": 990}
    versions = KnownVersions("charges", known={"ch_1": digest(json.dumps(obj))}, keep_since=900)
    page = page_of(obj, {"id": "ch_x", "created": True}, {"id": "ch_y"})
    assert versions.unchanged_dropped(page, drop=False) is page
    assert versions.dropped == 0
    assert set(versions.seen) == {"ch_1"}  # no integer `created`: never remembered


def test_a_backfill_remembers_nothing() -> None:
    versions = KnownVersions("charges", keep_since=None)
    versions.unchanged_dropped(page_of({"id": "ch_1", "created": 5}), drop=False)
    assert versions.seen == {}


def test_an_identical_snapshot_is_dropped_and_a_new_one_kept() -> None:
    versions = KnownVersions("balance", keep_since=0)
    assert not versions.snapshot_unchanged('{"object":"balance","available":[]}')
    versions = KnownVersions("balance", known=dict(versions.seen), keep_since=0)
    assert versions.snapshot_unchanged('{"object":"balance","available":[]}')
    assert not versions.snapshot_unchanged('{"object":"balance","available":[1]}')
    assert versions.dropped == 1


def test_stored_versions_round_trip_and_a_broken_file_names_itself(tmp_path) -> None:
    storage = storage_for(Settings.from_env({"LAKE_ROOT": str(tmp_path / "lake")}))
    assert read_known(storage, "charges", 10).known == {}
    versions = KnownVersions("charges", keep_since=10)
    versions.unchanged_dropped(page_of({"id": "ch_1", "created": 11}), drop=False)
    commit_known(storage, versions, "run1")
    again = read_known(storage, "charges", 20)
    assert again.known == {"ch_1": digest(json.dumps({"id": "ch_1", "created": 11}))}
    assert again.keep_since == 20
    storage.put("_state/rereads/charges.json", b'{"versions": ["ch_1"]}')
    with pytest.raises(StateError, match=r"lake/_state/rereads/charges\.json is unreadable"):
        read_known(storage, "charges", 20)
