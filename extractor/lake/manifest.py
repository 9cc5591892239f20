"""Run manifests: `_state/manifests/run_<run_id>.json`, one JSON document per run.

Each pipeline step owns one top-level section (`extract`, `transform`, `quality`,
`webhooks`) and writes it with `update_section`, which replaces that section only and
keeps every other step's. Writers of one run are serialised by the run lock (one run per
lake) and, within a process, by a module lock; the write itself is atomic (Storage.put).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from extractor.exits import PipelineError
from extractor.lake import layout
from extractor.lake.layout import manifest_key
from extractor.lake.storage import Storage

_write_lock = threading.Lock()


class ManifestError(PipelineError):
    """A manifest exists but cannot be read as JSON."""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def read_manifest(storage: Storage, run_id: str) -> dict[str, Any] | None:
    """The manifest of `run_id`, or None if that run never wrote one."""
    raw = storage.get(manifest_key(run_id))
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ManifestError(f"{storage.uri_for(manifest_key(run_id))} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestError(f"{storage.uri_for(manifest_key(run_id))} is not a JSON object")
    return doc


def update_section(
    storage: Storage, run_id: str, section: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Replace `section` of the run's manifest with `data`, keep all other sections.

    Creates the manifest if needed. Returns the whole manifest as written.
    """
    if section in ("run_id", "created_at", "updated_at") or not section.isidentifier():
        raise ValueError(f"invalid manifest section name {section!r}")
    with _write_lock:
        doc = read_manifest(storage, run_id) or {"run_id": run_id, "created_at": _now_iso()}
        doc[section] = data
        doc["updated_at"] = _now_iso()
        storage.put(manifest_key(run_id), _dumps(doc))
    return doc


def list_run_ids(storage: Storage) -> list[str]:
    """Run ids that have a manifest, oldest first (run ids sort by time when generated)."""
    ids = (layout.run_id_of_manifest(key) for key in storage.list(layout.MANIFESTS))
    return sorted(run_id for run_id in ids if run_id is not None)


def _dumps(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n").encode()
