"""Shared by the crash and fault suites: a fault-free baseline lake and the checks that a
recovered lake equals it and never committed a watermark past undurable data."""

from __future__ import annotations

import json
from pathlib import Path

from extractor.lake.manifest import read_manifest
from extractor.lake.storage import Storage
from extractor.lake.watermarks import read_watermark
from extractor.streams import ALL_STREAMS, ENTITY_NAMES
from extractor.transform.gate import GOLD_MODELS
from mock_api.dataset import parse_time
from tests.dbt.lake_queries import PER_RUN_FOLDERS, content_digest
from tests.support.cli import child_env, run_cli

NOW = parse_time("2026-02-20T00:00:00Z")
DAYS = "2"
# Small parts, so a run writes several per entity and "between parts" exists.
PART_RECORDS = "150"


def pipeline_env(lake_root: str, api_base: str, **extra: str) -> dict[str, str]:
    """The CLI's env for these suites: small Bronze parts, no failpoint inherited."""
    return child_env(
        lake_root,
        api_base,
        clear=("RUN_ID", "PIPELINE_FAILPOINTS"),
        **{"BRONZE_PART_MAX_RECORDS": PART_RECORDS, **extra},
    )


def build_baseline(lake: Path, api_base: str) -> dict[str, str]:
    """A fault-free pipeline run; returns the content digest of its Silver and Gold."""
    done = run_cli("run-pipeline", "--days", DAYS, env=pipeline_env(str(lake), api_base))
    assert done.returncode == 0, done.stderr[-3000:]
    digest = content_digest(lake)
    # Every batch entity has Silver rows and every gated Gold model was built.
    silver = {f"silver/source=stripe/entity={e}" for e in ENTITY_NAMES} - PER_RUN_FOLDERS
    assert silver <= set(digest), digest
    assert {f"gold/model={m}" for m in GOLD_MODELS} <= set(digest), digest
    return digest


def assert_watermarks_only_over_durable_data(storage: Storage) -> list[str]:
    """Every watermark was written by a run whose manifest says succeeded and whose parts
    all exist. Returns the entities that have a watermark."""
    marked = []
    for stream in ALL_STREAMS:
        mark = read_watermark(storage, stream.name)
        if mark is None:
            continue
        marked.append(stream.name)
        doc = read_manifest(storage, mark.run_id) or {}
        extract = doc.get("extract") or {}
        assert extract.get("status") == "succeeded", (stream.name, mark.run_id, extract)
        for part in extract["entities"][stream.name]["files"]:
            body = storage.get(part["key"])
            assert body is not None, part["key"]
            assert body.count(b"\n") == part["rows"], part["key"]
    return marked


def manifest_statuses(storage: Storage) -> dict[str, str]:
    out = {}
    for key in storage.list("_state/manifests/"):
        doc = json.loads(storage.get(key) or b"{}")
        out[doc["run_id"]] = (doc.get("extract") or {}).get("status")
    return out
