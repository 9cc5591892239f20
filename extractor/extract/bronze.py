"""The Bronze writer: envelope lines (docs/architecture.md#bronze-line), streamed into
bounded part files.

Lines are built by string assembly around the object's exact source text (see
`extractor.api.rawjson` and ADR 0002), never by re-serialising the object. Each entity has one
`PartWriter` shared by all workers of a run; it streams each page's lines into the entity's
open part (`Storage.open_writer`: a temp file locally, a multipart upload on S3) and closes
the part, which publishes it atomically, once it holds `part_max_records` lines or
`part_max_bytes` bytes. No whole part is ever held in memory, so memory stays flat however
many records a run fetches.
"""

from __future__ import annotations

import itertools
import json
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _encode_str
from typing import Any

from extractor import failpoints
from extractor.lake import layout
from extractor.lake.storage import ObjectWriter, Storage

SOURCE_LIST = "list"
SOURCE_EVENT = "event"


def loaded_at_iso(ts: float) -> str:
    """`2026-11-28T12:00:00.123456Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope_line(raw_object: str, **fields: Any) -> str:
    """One Bronze line (with its trailing newline): `envelope_head(**fields)`, then
    `raw_object` verbatim, then the closing brace. `fields` are envelope_head's keywords."""
    return f"{envelope_head(**fields)}{raw_object}}}\n"


def envelope_head(
    *,
    run_id: str,
    loaded_at: str,
    observed_at: int,
    source: str,
    event_id: str | None = None,
    event_type: str | None = None,
    api_version: str | None = None,
    parent_id: str | None = None,
) -> str:
    """A line up to its object: `{"_run_id":...,"data":`; the line is this, the object, `}\n`.

    `api_version` is the Stripe API version `data` is rendered in: the event's for an event
    and its object, the pinned `Stripe-Version` for a listed object. `parent_id` is only in a
    child stream's lines (the payout a balance transaction was paid out in).

    The bytes `json.dumps` gives for the fields with separators (",", ":"), without building a
    dict and an encoder per line: lines sharing their fields (a list page) share one head,
    and an event's two lines are two heads. Every value goes through `_json`.
    """
    parent = "" if parent_id is None else f',"_parent_id":{_json(parent_id)}'
    return (
        f'{{"_run_id":{_json(run_id)},"_loaded_at":{_json(loaded_at)},'
        f'"_observed_at":{_json(observed_at)},"_source":{_json(source)},'
        f'"_event_id":{_json(event_id)},"_event_type":{_json(event_type)},'
        f'"_api_version":{_json(api_version)}{parent},"data":'
    )


def _json(value: object) -> str:
    """`json.dumps(value)`: what its encoder writes for a str, an int and None, directly."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _encode_str(value)  # type: ignore[arg-type]
    if kind is int:
        return int.__repr__(value)  # type: ignore[arg-type]
    return json.dumps(value, separators=(",", ":"))  # a bool, a float, a subclass, a container


@dataclass(frozen=True)
class PartFile:
    key: str
    rows: int
    bytes: int


class _OpenPart:
    """One part being streamed: its writer, its gzip stream (if any), and its line count."""

    def __init__(self, sink: ObjectWriter, compress: bool) -> None:
        self.sink = sink
        # Level 6, zero mtime, gzip header from zlib: the bytes `gzip.compress(body,
        # compresslevel=6, mtime=0)` gives for the whole part, however the input is chunked.
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if compress else None
        self.rows = 0
        self.raw_bytes = 0

    def write(self, chunks: list[bytes]) -> None:
        body = b"".join(chunks)
        if self.compressor is not None:
            body = self.compressor.compress(body)
        if body:
            self.sink.write(body)

    def commit(self) -> None:
        if self.compressor is not None:
            tail = self.compressor.flush()
            if tail:
                self.sink.write(tail)
        self.sink.commit()


class PartWriter:
    """Streams lines for one entity into `part-NNNNN.jsonl[.gz]` files of bounded size."""

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
        self.prefix = layout.bronze_run(entity, run_date, run_id)
        self.max_records = max(1, max_records)
        self.max_bytes = max(1, max_bytes)
        self.compress = compress
        self.files: list[PartFile] = []
        self.rows = 0
        self._part: _OpenPart | None = None
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def write_lines(self, lines: list[str]) -> None:
        """Append lines (one page's worth) to the open part; close each part that fills.

        The appends happen under the lock (page-cache writes or an in-memory buffer, in one
        order per part); uploads (S3) and publishing a full part (fsync and rename, or the
        last upload) happen outside it, while other workers go on filling the part.
        """
        if not lines:
            return
        body = "".join(lines).encode("utf-8")
        full: list[_OpenPart] = []
        try:
            with self._lock:
                if self._part is None:
                    self._part = self._open()
                part = self._part
                if (
                    part.rows + len(lines) < self.max_records
                    and part.raw_bytes + len(body) < self.max_bytes
                ):
                    # The common case: the page does not fill the part, so no line of it can
                    # (the counts only grow), and it goes in as one append.
                    part.rows += len(lines)
                    part.raw_bytes += len(body)
                    self.rows += len(lines)
                    self._append(part, [body])
                    current: _OpenPart | None = part
                else:
                    current = self._fill([line.encode("utf-8") for line in lines], full)
            if current is not None:
                self._send(current)
            while full:
                self._publish(full[0])
                full.pop(0)
        except BaseException:
            for part in full:  # filled but not published: discard, nothing half-done shows
                part.sink.abort()
            raise

    def _fill(self, encoded: list[bytes], full: list[_OpenPart]) -> _OpenPart | None:
        """Under the lock: append lines one part at a time, adding each part that fills to
        `full`; returns the open part the last lines went to (None if they filled one)."""
        current = None
        start = 0
        for index, data in enumerate(encoded):
            if self._part is None:
                self._part = self._open()
            part = self._part
            part.rows += 1
            part.raw_bytes += len(data)
            self.rows += 1
            if part.rows >= self.max_records or part.raw_bytes >= self.max_bytes:
                self._append(part, encoded[start : index + 1])
                start = index + 1
                full.append(part)
                self._part = None
        if self._part is not None and start < len(encoded):
            self._append(self._part, encoded[start:])
            current = self._part
        return current

    def close(self) -> list[PartFile]:
        """Publish the open part, if any; returns every part written, in part order."""
        with self._lock:
            part, self._part = self._part, None
        if part is not None:
            self._publish(part)
        return sorted(self.files, key=lambda f: f.key)

    def abort(self) -> None:
        """Discard the open part (a failed run): nothing of it becomes visible."""
        with self._lock:
            part, self._part = self._part, None
        if part is not None:
            part.sink.abort()

    def _open(self) -> _OpenPart:
        name = layout.part_name(next(self._numbers), self.compress)
        return _OpenPart(self.storage.open_writer(self.prefix + name), self.compress)

    def _append(self, part: _OpenPart, chunks: list[bytes]) -> None:
        try:
            part.write(chunks)
        except BaseException:
            part.sink.abort()
            if self._part is part:
                self._part = None
            raise

    def _send(self, part: _OpenPart) -> None:
        try:
            part.sink.send()
        except BaseException:
            part.sink.abort()
            with self._lock:
                if self._part is part:
                    self._part = None
            raise

    def _publish(self, part: _OpenPart) -> None:
        try:
            part.commit()
        except BaseException:
            part.sink.abort()
            raise
        with self._lock:
            self.files.append(PartFile(part.sink.key, part.rows, part.sink.bytes_written))
        failpoints.hit("extract.part_written")
