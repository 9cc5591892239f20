"""Window math (docs/architecture.md#correctness-model): which `created` range each run asks
for, and its time slices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

DAY = 86400


@dataclass(frozen=True)
class Window:
    """`created >= gte and created < lt`, unix seconds."""

    gte: int
    lt: int

    @property
    def seconds(self) -> int:
        return max(0, self.lt - self.gte)

    def params(self) -> dict[str, int]:
        return {"created[gte]": self.gte, "created[lt]": self.lt}

    def as_dict(self) -> dict[str, object]:
        return {
            "gte": self.gte,
            "lt": self.lt,
            "gte_iso": _iso(self.gte),
            "lt_iso": _iso(self.lt),
        }


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def incremental_window(
    watermark: int | None, run_start: int, days: int, safety_seconds: int
) -> Window:
    """First run: the last `days`; later runs: from watermark - safety to the run start."""
    if watermark is None:
        return Window(run_start - days * DAY, run_start)
    return Window(min(watermark - safety_seconds, run_start), run_start)


def backfill_window(start: date, end: date, run_start: int) -> Window:
    """Whole UTC days start..end inclusive, never past the run start."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    gte = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    if gte >= run_start:
        raise ValueError(f"--start {start} is not before the API's current time")
    # A day past the API's today ends at its clock anyway; clamping first also keeps
    # `end + 1 day` inside the calendar for an end such as 9999-12-31.
    last = min(end, datetime.fromtimestamp(run_start, UTC).date())
    after = last + timedelta(days=1)
    lt = int(datetime(after.year, after.month, after.day, tzinfo=UTC).timestamp())
    return Window(gte, min(lt, run_start))


def split(window: Window, parts: int, min_seconds: int = 3600) -> list[Window]:
    """Cut `window` into at most `parts` contiguous, non-overlapping slices, each at least
    `min_seconds` long (short windows are not worth a worker each). Newest slice first,
    so the freshest data lands first."""
    if window.seconds == 0:
        return [window]
    count = max(1, min(parts, window.seconds // max(1, min_seconds)))
    step, extra = divmod(window.seconds, count)
    slices = []
    start = window.gte
    for i in range(count):
        end = start + step + (1 if i < extra else 0)
        slices.append(Window(start, end))
        start = end
    return list(reversed(slices))
