"""The mock's mutable state: its clock, its fault settings and its request log.

One process serves every request (waitress threads), so this state is shared and guarded
by a lock. Faults are deterministic given their seed and the order of requests.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

DEFAULT_FAULTS: dict[str, Any] = {
    "seed": 1,
    "rate_limit": None,
    "error_rate": 0.0,
    "error_statuses": [500, 503],
    "latency_ms": 0,
    "truncate_rate": 0.0,
    "malformed_rate": 0.0,
    "drop_rate": 0.0,
    "script": [],
}
ACTIONS = ("truncate", "malformed", "drop")


class Clock:
    """Real time by default; frozen at `now` once set; `advance` moves it either way."""

    def __init__(self, frozen_at: int | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen_at = frozen_at
        self._offset = 0

    def now(self) -> int:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return int(time.time()) + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def set(self, now: int) -> None:
        with self._lock:
            self._frozen_at = int(now)

    def advance(self, seconds: int) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += int(seconds)
            else:
                self._offset += int(seconds)


@dataclass
class Fault:
    """What to do to one request: nothing (None), a status, or a broken body."""

    action: str | None = None
    status: int | None = None
    retry_after: int | None = None


def validate_faults(config: dict[str, Any]) -> dict[str, Any]:
    """Merge onto defaults and check types; ValueError names the bad key."""
    unknown = set(config) - set(DEFAULT_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault settings: {sorted(unknown)}")
    merged = {**DEFAULT_FAULTS, **config}
    for key in ("error_rate", "truncate_rate", "malformed_rate", "drop_rate"):
        value = merged[key]
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"{key} must be a number between 0 and 1")
    rate = merged["rate_limit"]
    if rate is not None and (not isinstance(rate, dict) or float(rate.get("rps", 0)) <= 0):
        raise ValueError("rate_limit must be null or {'rps': >0, 'burst': >=1}")
    for entry in merged["script"]:
        action = str(entry.get("action", ""))
        if not (action in ACTIONS or action.startswith("status:")):
            raise ValueError(f"script action {action!r}: use status:<code>, {', '.join(ACTIONS)}")
        if int(entry.get("nth", 0)) < 1:
            raise ValueError("script entries need nth >= 1")
    return merged


@dataclass
class Faults:
    """Fault config plus the counters that make it deterministic."""

    config: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_FAULTS))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.replace(self.config)

    def replace(self, config: dict[str, Any]) -> None:
        merged = validate_faults(config)
        with self._lock:
            self.config = merged
            self._rng = random.Random(merged["seed"])
            self._matches: list[int] = [0] * len(merged["script"])
            rate = merged["rate_limit"]
            self._tokens = float(rate.get("burst", rate["rps"])) if rate else 0.0
            self._refilled = time.monotonic()

    def _take_token(self) -> int | None:
        """Token bucket; returns seconds to wait when empty, None when a token was taken."""
        rate = self.config["rate_limit"]
        if not rate:
            return None
        rps, burst = float(rate["rps"]), float(rate.get("burst", rate["rps"]))
        now = time.monotonic()
        self._tokens = min(burst, self._tokens + (now - self._refilled) * rps)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return max(1, int((1 - self._tokens) / rps + 0.999))

    def decide(self, path: str) -> Fault:
        with self._lock:
            config = self.config
            for n, entry in enumerate(config["script"]):
                if not path.startswith(entry.get("path", "/")):
                    continue
                self._matches[n] += 1
                first, times = int(entry["nth"]), int(entry.get("times", 1))
                if first <= self._matches[n] < first + times:
                    action = entry["action"]
                    if action.startswith("status:"):
                        return Fault(status=int(action.split(":", 1)[1]), retry_after=1)
                    return Fault(action=action)
            wait = self._take_token()
            if wait is not None:
                return Fault(status=429, retry_after=wait)
            roll = self._rng.random
            if roll() < config["error_rate"]:
                statuses = config["error_statuses"]
                return Fault(status=statuses[self._rng.randrange(len(statuses))])
            for action in ACTIONS:
                if roll() < config[f"{action}_rate"]:
                    return Fault(action=action)
            return Fault()

    @property
    def latency_seconds(self) -> float:
        return float(self.config["latency_ms"]) / 1000.0


class RequestLog:
    """The last requests (never the Authorization header), for tests of request shapes."""

    def __init__(self, size: int = 2000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def last(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)[-limit:]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
