"""The Bronze writer: DESIGN §3 envelope lines, streamed into bounded part files.

Lines are built by string assembly around the object's exact source text (see
`extractor.rawjson` and ADR 0002), never by re-serialising the object. Each entity has one
`PartWriter` shared by all workers of a run; it flushes a part as soon as the buffer
reaches `part_max_records` or `part_max_bytes`, so memory stays bounded however many
records a run fetches. Parts are written through `Storage.put`, which is atomic.
"""

from __future__ import annotations

import gzip
import itertools
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from extractor import failpoints
from extractor.ids import validate_entity, validate_run_id
from extractor.storage import Storage

SOURCE_LIST = "list"
SOURCE_EVENT = "event"


def loaded_at_iso(ts: float) -> str:
    """`2026-11-28T12:00:00.123456Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope_line(
    raw_object: str,
    *,
    run_id: str,
    loaded_at: str,
    observed_at: int,
    source: str,
    event_id: str | None = None,
    event_type: str | None = None,
) -> str:
    """One Bronze line (with its trailing newline); `raw_object` is embedded verbatim."""
    head = json.dumps(
        {
            "_run_id": run_id,
            "_loaded_at": loaded_at,
            "_observed_at": observed_at,
            "_source": source,
            "_event_id": event_id,
            "_event_type": event_type,
        },
        separators=(",", ":"),
    )
    return f'{head[:-1]},"data":{raw_object}}}\n'


def part_prefix(entity: str, run_date: str, run_id: str) -> str:
    return (
        f"bronze/source=stripe/entity={validate_entity(entity)}/dt={run_date}/"
        f"run_id={validate_run_id(run_id)}/"
    )


@dataclass(frozen=True)
class PartFile:
    key: str
    rows: int
    bytes: int


class PartWriter:
    """Buffers lines for one entity and writes `part-NNNNN.jsonl[.gz]` files of bounded size."""

    def __init__(
        self,
        storage: Storage,
        entity: str,
        run_id: str,
        run_date: str,
        max_records: int,
        max_bytes: int,
        compress: bool = False,
    ) -> None:
        self.storage = storage
        self.prefix = part_prefix(entity, run_date, run_id)
        self.max_records = max(1, max_records)
        self.max_bytes = max(1, max_bytes)
        self.compress = compress
        self.files: list[PartFile] = []
        self.rows = 0
        self._buffer: list[bytes] = []
        self._buffer_bytes = 0
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def write_lines(self, lines: list[str]) -> None:
        """Append lines (one page's worth); flush full parts as the buffer fills."""
        encoded = [line.encode("utf-8") for line in lines]
        ready: list[tuple[int, list[bytes]]] = []
        with self._lock:
            for data in encoded:
                self._buffer.append(data)
                self._buffer_bytes += len(data)
                self.rows += 1
                if len(self._buffer) >= self.max_records or self._buffer_bytes >= self.max_bytes:
                    ready.append(self._take())
        for number, part in ready:
            self._write(number, part)

    def close(self) -> list[PartFile]:
        """Flush what is left; returns every part written, in part order."""
        with self._lock:
            ready = self._take() if self._buffer else None
        if ready:
            self._write(*ready)
        return sorted(self.files, key=lambda f: f.key)

    def _take(self) -> tuple[int, list[bytes]]:
        lines, self._buffer, self._buffer_bytes = self._buffer, [], 0
        return next(self._numbers), lines

    def _write(self, number: int, lines: list[bytes]) -> None:
        body = b"".join(lines)
        name = f"part-{number:05d}.jsonl"
        if self.compress:
            body = gzip.compress(body, compresslevel=6, mtime=0)
            name += ".gz"
        key = self.prefix + name
        self.storage.put(key, body)
        with self._lock:
            self.files.append(PartFile(key, len(lines), len(body)))
        failpoints.hit("extract.part_written")
