"""The lake's storage interface, the one every backend implements: `Storage`, its streaming
`ObjectWriter`, `StorageError`, and the check that keeps keys inside the lake."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from extractor.exits import PipelineError


class StorageError(PipelineError):
    """A read or write against the lake failed; the message says which key and where."""


def validate_key(key: str) -> str:
    """Refuse keys that could escape the lake root (absolute paths, '..', empty parts)."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise StorageError(f"invalid storage key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise StorageError(f"invalid storage key {key!r}: empty, '.' or '..' path component")
    return key


class ObjectWriter(ABC):
    """One object written piece by piece: invisible under its key until `commit()`.

    `commit()` makes it durable and visible at once (replacing what was there, like `put`);
    `abort()` discards it. A failed `write` or `commit` aborts by itself and raises
    `StorageError`; a crash leaves nothing under the key (local: an unnamed or hidden `.tmp`
    file; S3: an incomplete multipart upload, which no listing or read shows).
    """

    key: str
    bytes_written: int

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Append `data`."""

    @abstractmethod
    def send(self) -> None:
        """Do the slow I/O `write` may have queued (S3 uploads); call it without holding the
        lock that orders your writes, so other writers are not held up by the network."""

    @abstractmethod
    def commit(self) -> None:
        """Publish everything written, atomically and durably."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the object; safe to call more than once and after a failure."""


class Storage(ABC):
    """The lake as a key -> bytes store. Writes are all-or-nothing."""

    root: str  # absolute: a resolved local path or s3://bucket/prefix
    # The lake's folder when it is on this machine's disk, else None: what a caller needs to
    # know about where the lake lives (a DuckDB file can only sit on a local disk).
    local_path: Path | None = None

    def make_folders(self, prefixes: tuple[str, ...]) -> None:  # noqa: B027 - a no-op default
        """Make sure these folder prefixes exist; object stores have no folders."""

    @abstractmethod
    def uri_for(self, key: str) -> str:
        """Where `key` lives, as a path or s3:// URI a person (or DuckDB) can use."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write `data` at `key` atomically, replacing what was there."""

    @abstractmethod
    def open_writer(self, key: str) -> ObjectWriter:
        """Start streaming an object to `key`; nothing is visible there until its commit()."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create `key` only if it does not exist; True if this call created it."""

    @abstractmethod
    def replace_if_unchanged(self, key: str, expected: bytes, data: bytes) -> bool:
        """Write `data` at `key` only if it still holds exactly `expected`, atomically: of
        several callers expecting the same bytes, one wins. True if this call wrote."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The bytes at `key`, or None if there is no such key."""

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix` (a folder-like prefix ending in '/' or a key prefix), sorted."""
        return (key for key, _size in self.list_sizes(prefix))

    @abstractmethod
    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """`list`, with each object's size in bytes (one listing: S3 returns sizes with keys)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""

    def exists(self, key: str) -> bool:
        return self.get(key) is not None
