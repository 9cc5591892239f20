"""A child stream's state: which parents' children are already in Bronze.

`_state/children/<entity>.json` holds the ids of the parents whose children a succeeded run
has listed and that are final: a payout's balance transactions (`?payout=po_...`) are fixed
when it is created; an invoice's lines (`/v1/invoices/in_.../lines`) once it is not a draft.
A run lists the children of every parent it sees (listed or routed from an event, and picked
by the stream's condition: an invoice whose `lines.has_more`) that is not in the set, writes
them with its other Bronze, and adds the final ones to the set only after its manifest says
succeeded, like a watermark. A crash before that leaves the set as it was; the parents come
back with the next run (their watermark did not move either), so nothing is lost, and at
worst a child is written twice, which Silver de-duplicates. A draft is listed again each
time a run sees it (its lines may still change), and never enters the set.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from extractor.lake.layout import child_state_key
from extractor.lake.storage import Storage
from extractor.lake.watermarks import StateError


def read_listed(storage: Storage, entity: str) -> set[str]:
    """The parent ids whose children are listed; empty for a first run."""
    raw = storage.get(child_state_key(entity))
    if raw is None:
        return set()
    try:
        doc = json.loads(raw)
        parents = doc["parents_listed"]
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise TypeError("parents_listed is not a list of ids")
        return set(parents)
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(
            f"{storage.uri_for(child_state_key(entity))} is unreadable ({exc}); fix or delete "
            "it (deleting makes the next run list the children of every parent it sees again)"
        ) from None


def commit_listed(storage: Storage, entity: str, listed: set[str], run_id: str) -> None:
    """Store the set (sorted, so the file diffs cleanly between runs)."""
    doc = {
        "entity": entity,
        "parents_listed": sorted(listed),
        "run_id": run_id,
        "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    storage.put(child_state_key(entity), (json.dumps(doc, indent=2) + "\n").encode())
