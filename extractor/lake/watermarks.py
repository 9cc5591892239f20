"""Watermarks: `_state/watermarks/<entity>.json`, the run start of the last good run.

A watermark only moves forward: `advance` keeps the stored value if it is newer, so a
backfill or a run with a skewed clock can never reopen or shrink a window. It also keeps
`history_start`, the earliest `created` this lake has covered, which bounds a full re-list.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from extractor.exits import PipelineError
from extractor.lake.layout import watermark_key
from extractor.lake.storage import Storage


class StateError(PipelineError):
    """A watermark file exists but is unreadable."""


@dataclass(frozen=True)
class Watermark:
    entity: str
    watermark: int  # unix seconds; the next window starts here (minus the safety window)
    watermark_iso: str
    history_start: int  # earliest `created` ever covered for this entity
    run_id: str
    updated_at: str


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_watermark(storage: Storage, entity: str) -> Watermark | None:
    raw = storage.get(watermark_key(entity))
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        return Watermark(
            entity=entity,
            watermark=int(doc["watermark"]),
            watermark_iso=str(doc.get("watermark_iso") or iso(int(doc["watermark"]))),
            history_start=int(doc.get("history_start", doc["watermark"])),
            run_id=str(doc.get("run_id", "")),
            updated_at=str(doc.get("updated_at", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(
            f"{storage.uri_for(watermark_key(entity))} is unreadable ({exc}); "
            "fix or delete it (deleting makes the next run a first run over --days)"
        ) from None


def advance(
    storage: Storage, entity: str, new_watermark: int, history_start: int, run_id: str
) -> Watermark:
    """Store max(current, new_watermark); returns what is stored afterwards."""
    current = read_watermark(storage, entity)
    if current is not None:
        history_start = min(history_start, current.history_start)
        if current.watermark >= new_watermark:
            if history_start == current.history_start:
                return current
            new_watermark = current.watermark
    mark = Watermark(
        entity=entity,
        watermark=new_watermark,
        watermark_iso=iso(new_watermark),
        history_start=history_start,
        run_id=run_id,
        updated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    storage.put(watermark_key(entity), (json.dumps(asdict(mark), indent=2) + "\n").encode())
    return mark
