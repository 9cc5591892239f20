"""What the data depends on (`MockConfig`), the time helpers and the mock-wide constants."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

from mock_api.dataset import versions

DAY = 86_400
HOUR = 3_600
EVENT_RETENTION_SECONDS = 30 * DAY
API_VERSION = "2024-06-20"
# Share of objects whose list visibility lags `created` (Stripe lists are eventually consistent).
LATE_SHARE = 0.03
# How many customers back a charge or invoice may pick its customer from (bounds customer=).
CUSTOMER_LOOKBACK = 100


def parse_time(raw: str) -> int:
    """Unix seconds or ISO-8601 (a naive time is UTC) to unix seconds."""
    raw = raw.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return int(float(raw))
    parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


@dataclass(frozen=True)
class MockConfig:
    """What the data depends on. Two datasets with equal configs are identical."""

    seed: int = 42
    start_date: dt.date | str = dt.date(2026, 1, 1)
    volume: int = 200
    late_max_seconds: int = 300
    # Objects created at or after this unix second are rendered drifted (see `mock_api.dataset`).
    schema_drift_at: int | None = None
    # (resource, unix second) pairs: the account started using that resource then, not at
    # `start_date` (NEVER: not at all). An account with no invoices yet, for example.
    resource_start: tuple[tuple[str, int], ...] = ()
    # The account's default API version, and (unix second, version) upgrades of it: an event
    # is rendered in the default at its `created`, a list without Stripe-Version in today's.
    api_version: str = API_VERSION
    api_version_upgrades: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.start_date, str):
            object.__setattr__(self, "start_date", dt.date.fromisoformat(self.start_date))
        versions.check(self.api_version, "MOCK_API_VERSION")
        for _, version in self.api_version_upgrades:
            versions.check(version, "MOCK_API_VERSION_UPGRADE")
        object.__setattr__(self, "api_version_upgrades", tuple(sorted(self.api_version_upgrades)))
        if self.volume < 1:
            raise ValueError("volume must be >= 1 charge per day")
        if self.late_max_seconds < 0:
            raise ValueError("late_max_seconds must be >= 0")

    def version_at(self, ts: int) -> str:
        """The account's default API version at unix second `ts`."""
        version = self.api_version
        for at, upgraded in self.api_version_upgrades:
            if at <= ts:
                version = upgraded
        return version

    def resource_start_ts(self, resource: str) -> int:
        """When `resource`'s first object may be created."""
        return max(self.start_ts, dict(self.resource_start).get(resource, self.start_ts))

    @property
    def start_ts(self) -> int:
        start = self.start_date
        assert isinstance(start, dt.date)
        return int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MockConfig:
        env = dict(os.environ if env is None else env)

        def integer(name: str, default: int) -> int:
            raw = env.get(name, "")
            try:
                return int(raw) if raw.strip() else default
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not an integer") from None

        return cls(
            seed=integer("MOCK_SEED", 42),
            start_date=env.get("MOCK_START_DATE") or "2026-01-01",
            volume=integer("MOCK_VOLUME", 200),
            late_max_seconds=integer("MOCK_LATE_MAX_SECONDS", 300),
            schema_drift_at=_drift_at(env.get("MOCK_SCHEMA_DRIFT_AT", "")),
            resource_start=_resource_start(env.get("MOCK_RESOURCE_START", "")),
            api_version=env.get("MOCK_API_VERSION") or API_VERSION,
            api_version_upgrades=_upgrades(env.get("MOCK_API_VERSION_UPGRADE", "")),
        )


# A start so late that no clock reaches it: the account never used the resource.
NEVER = 2**62


def _resource_start(raw: str) -> tuple[tuple[str, int], ...]:
    """`invoices=never,customers=2026-02-01T00:00:00Z` -> (("invoices", NEVER), ...)."""
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        resource, _, when = item.partition("=")
        try:
            at = NEVER if when.strip() == "never" else parse_time(when)
        except ValueError:
            raise ValueError(
                f"MOCK_RESOURCE_START item {item!r} is not <resource>=<time or 'never'>"
            ) from None
        pairs.append((resource.strip(), at))
    return tuple(pairs)


def _upgrades(raw: str) -> tuple[tuple[int, str], ...]:
    """`2025-03-31.basil@2026-02-10T00:00:00Z[,...]` -> ((unix second, version), ...)."""
    out = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        version, _, when = item.partition("@")
        try:
            out.append((parse_time(when), version.strip()))
        except ValueError:
            raise ValueError(
                f"MOCK_API_VERSION_UPGRADE item {item!r} is not <version>@<unix or ISO-8601 time>"
            ) from None
    return tuple(out)


def _drift_at(raw: str) -> int | None:
    if not raw.strip():
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise ValueError(
            f"MOCK_SCHEMA_DRIFT_AT={raw!r} is not unix seconds or an ISO-8601 time"
        ) from None
