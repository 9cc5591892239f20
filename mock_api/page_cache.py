"""Encoded response bodies kept per request, because the data is a pure function of it.

Rendering a page of 100 objects costs the dataset ~100x what encoding it costs, and a frozen
clock makes the same request answer the same bytes every time (a benchmark or an extractor
rerun asks the same pages again). So the JSON body of a list or retrieve is kept under
everything it depends on: the path, the raw query string (not normalised: parameter order
can change an answer, e.g. `created=` next to `created[gte]=`), the `Stripe-Version` header
and the clock's `now`. Faults, the Date header, auth and the request log still run per
request; only the body is reused. Errors are never kept.

Bounded by total body bytes, least recently used first out; one cache per process. Worker
processes (`serve --workers`) also share what they render through files in one directory
(`share`): a page one worker rendered is read, not rendered again, by the others. Each
process writes at most `max_bytes` there; the supervisor removes the directory at the end.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class PageCache:
    """A thread-safe LRU of encoded bodies; `max_bytes` 0 turns it off."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.shared_hits = 0
        self._shared_dir: str | None = None
        self._shared_written = 0

    def share(self, directory: str) -> None:
        """Also keep rendered pages as files in `directory`, read by every process that
        shares it (call before forking)."""
        self._shared_dir = directory

    def _shared_path(self, key: Hashable) -> str | None:
        if self._shared_dir is None:
            return None
        # repr of (str, bytes, str | None, int) is the same in every process.
        return os.path.join(self._shared_dir, hashlib.sha256(repr(key).encode()).hexdigest())

    def _read_shared(self, path: str | None) -> bytes | None:
        if path is None:
            return None
        try:
            with open(path, "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None

    def _write_shared(self, path: str | None, body: bytes) -> None:
        with self._lock:
            if path is None or self._shared_written + len(body) > self.max_bytes:
                return
            self._shared_written += len(body)
        # Written aside, then renamed: a reader sees the whole body or no file.
        aside = f"{path}.{os.getpid()}.{threading.get_ident()}"
        with open(aside, "wb") as file:
            file.write(body)
        os.replace(aside, path)

    def get_or_render(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """The body kept under `key`, else `render()`'s, kept if it fits."""
        if self.max_bytes <= 0:
            return render()
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
                self.hits += 1
                return body
        path = self._shared_path(key)
        body = self._read_shared(path)
        if body is not None:
            with self._lock:
                self.shared_hits += 1
        else:
            with self._lock:
                self.misses += 1
            # Outside the lock: two threads may render one page at once, never wrongly.
            body = render()
            self._write_shared(path, body)
        if len(body) <= self.max_bytes:
            with self._lock:
                if key not in self._bodies:
                    self._bodies[key] = body
                    self._bytes += len(body)
                while self._bytes > self.max_bytes:
                    _, old = self._bodies.popitem(last=False)
                    self._bytes -= len(old)
        return body

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "pages": len(self._bodies),
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "hits": self.hits,
                "shared_hits": self.shared_hits,
                "misses": self.misses,
                "shared_dir": self._shared_dir,
            }
