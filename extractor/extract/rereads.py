"""Re-reads of the safety window that change nothing are not written again (ADR 0057).

An incremental window starts `SAFETY_WINDOW_SECONDS` before the watermark, so every run reads
again the objects the last run read in its final minutes. Bronze and Silver are right either
way (Silver keeps one row per object version), but a copy in Bronze is new data to the
transform: a scheduled run on a quiet account would rebuild Silver and Gold for nothing.

`_state/rereads/<entity>.json` holds, for the objects a succeeded run read whose `created`
lies inside the next run's overlap, a digest of Stripe's bytes for each id. The next
incremental run drops an object whose id and digest are both there: that exact version is in
Bronze already. A changed object (another digest) or a new one is written as before. The
file is written after the entity's watermark, so it only ever names versions a succeeded run
committed; losing it (a crash, a deleted file) costs a duplicate copy, never an object.

The balance snapshot (one object, no id) keeps the digest of the last one written under the
key `balance`: an identical balance is not written again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from extractor.api.client import Item, Page
from extractor.lake.layout import reread_state_key
from extractor.lake.storage import Storage
from extractor.lake.watermarks import StateError

SNAPSHOT_KEY = "balance"


def digest(raw: str) -> str:
    """Stripe's bytes for one object version, hashed (16 hex digits: collisions between two
    versions of one id are out of reach)."""
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


@dataclass
class KnownVersions:
    """One entity's versions already in Bronze (read at the start of a run), and those this
    run read (kept for the next run's overlap)."""

    entity: str
    known: dict[str, str] = field(default_factory=dict)
    # Where the next run's overlap starts (the new watermark minus the safety window); None
    # when this run does not move the watermark (a backfill), so it keeps nothing.
    keep_since: int | None = None
    # id -> digest of the objects this run read, written or not, created from `keep_since`
    # (only those: the memory of a long first run stays flat).
    seen: dict[str, str] = field(default_factory=dict)
    dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def unchanged_dropped(self, page: Page, drop: bool) -> Page:
        """The page without the objects whose version is known (when `drop`); the objects the
        next run reads again are remembered, written or not."""
        kept: list[Item] = []
        remembered: dict[str, str] = {}
        for item in page.items:
            # Hashed only when needed: a first run's objects are mostly neither remembered
            # nor known, and this is on the path of every object fetched.
            remember = self._read_again(item.value.get("created"))
            known = self.known.get(item.id) if drop else None
            version = digest(item.raw) if remember or known else None
            if remember:
                remembered[item.id] = version
            if known is not None and known == version:
                continue
            kept.append(item)
        with self._lock:
            self.seen.update(remembered)
            self.dropped += len(page.items) - len(kept)
        if len(kept) == len(page.items):
            return page
        return Page(page.text, kept, page.has_more, page.served_at)

    def _read_again(self, created: object) -> bool:
        if self.keep_since is None or isinstance(created, bool) or not isinstance(created, int):
            return False
        return created >= self.keep_since

    def snapshot_unchanged(self, raw: str) -> bool:
        """Whether a snapshot is the last one written; remembers it for the next run."""
        version = digest(raw)
        with self._lock:
            unchanged = self.known.get(SNAPSHOT_KEY) == version
            self.seen[SNAPSHOT_KEY] = version
            self.dropped += unchanged
        return unchanged


def read_known(storage: Storage, entity: str, keep_since: int | None) -> KnownVersions:
    """The versions the last succeeded run left for this entity (none for a first run), to
    keep this run's from `keep_since`."""
    key = reread_state_key(entity)
    raw = storage.get(key)
    if raw is None:
        return KnownVersions(entity, keep_since=keep_since)
    try:
        doc = json.loads(raw)
        versions = doc["versions"]
        if not isinstance(versions, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in versions.items()
        ):
            raise TypeError("versions is not an object of id -> digest")
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(
            f"{storage.uri_for(key)} is unreadable ({exc}); fix or delete it (deleting only "
            "makes the next run write its safety window's objects again)"
        ) from None
    return KnownVersions(entity, known=versions, keep_since=keep_since)


def commit_known(storage: Storage, versions: KnownVersions, run_id: str) -> None:
    """Store the versions the next run will read again, replacing the last run's."""
    doc = {
        "entity": versions.entity,
        "since": versions.keep_since,
        "versions": dict(sorted(versions.seen.items())),
        "run_id": run_id,
        "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    storage.put(reread_state_key(versions.entity), (json.dumps(doc, indent=1) + "\n").encode())
