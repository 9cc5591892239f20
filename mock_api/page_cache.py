"""Encoded response bodies kept per request, because the data is a pure function of it.

Rendering a page of 100 objects costs the dataset ~100x what encoding it costs, and a frozen
clock makes the same request answer the same bytes every time (a benchmark or an extractor
rerun asks the same pages again). So the JSON body of a list or retrieve is kept under
everything it depends on: the path, the raw query string (not normalised: parameter order
can change an answer, e.g. `created=` next to `created[gte]=`), the `Stripe-Version` header
and the clock's `now`. Faults, the Date header, auth and the request log still run per
request; only the body is reused. Errors are never kept.

Bounded by total body bytes, least recently used first out; one cache per process.
"""

from __future__ import annotations

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
            self.misses += 1
        # Rendered outside the lock: two threads may render one page at once, never wrongly.
        body = render()
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
                "misses": self.misses,
            }
