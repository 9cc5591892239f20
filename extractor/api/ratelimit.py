"""A thread-safe token bucket shared by every worker of a run.

Callers reserve a token and sleep outside the lock for their share of the deficit, so
waiting workers queue fairly and the long-run rate never exceeds `rate` per second.

The default burst is half a second of requests, not a whole second. The server's limiter
(Stripe's, or the mock's bucket of burst = rps) counts a request when it arrives, this one
when it is sent: with equal buckets, both full at the start, both run empty together at the
end of the burst and any request that reaches the server sooner after its predecessor than
1/rate (network, thread scheduling) is answered 429. A smaller burst leaves the server's
bucket the difference as slack for the whole run, at the same sustained rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 2)
        self.clock = clock
        self.sleep = sleep
        self._tokens = self.capacity
        self._last = clock()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> float:
        """Take one token, sleeping if none is left; returns the seconds slept."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited_seconds += wait
        if wait > 0:
            self.sleep(wait)
        return wait
