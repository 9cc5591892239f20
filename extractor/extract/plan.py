"""Planning an extraction: which window each entity reads, and whether its watermark moves.

Pure functions of the request (`Plan`), the API's clock and the stored watermarks, so every
rule of the correctness model (docs/architecture.md, "Correctness model") is in one place:
incremental windows with the safety overlap, first runs over `--days`, backfills that never
move a watermark they do not reach, the 30-day limit of the events feed and the full re-list
that is the way out of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from extractor import logs
from extractor.api.errors import ExtractError
from extractor.extract.windows import DAY, Window, backfill_window, incremental_window
from extractor.lake.watermarks import Watermark, iso
from extractor.streams import ENTITY_STREAMS, EVENTS, EVENTS_RETENTION_SECONDS, Stream


class EventsTooOld(ExtractError):
    """The events watermark is older than Stripe's 30-day event history."""


class WatermarkAhead(ExtractError):
    """A watermark is later than the API's clock: reading on would skip data for good."""


@dataclass(frozen=True)
class Plan:
    """What the caller asked for; `plan_windows` turns it into windows."""

    command: str
    entities: tuple[str, ...]  # list streams to fetch (events is separate)
    include_events: bool
    days: int = 3
    full_relist: bool = False
    backfill: tuple[date, date] | None = None


@dataclass(frozen=True)
class EntityWindow:
    """One entity's window for this run, and whether finishing it advances the watermark."""

    window: Window
    commit_watermark: bool
    # The window starts in the last good run's safety overlap: objects it reads again may
    # be in Bronze already, and an unchanged one is not written twice (extract/rereads.py).
    rereads_last_run: bool = False


def plan_windows(
    plan: Plan,
    run_start: int,
    marks: Mapping[str, Watermark | None],
    safety_window_seconds: int,
) -> dict[str, EntityWindow]:
    """The window of every entity this run reads (an entity absent here is only a target for
    objects routed from events). `marks` holds each stream's stored watermark or None."""
    relist = plan.full_relist and _events_stale(marks.get(EVENTS.name), run_start)
    names = [s.name for s in ENTITY_STREAMS] if relist else list(plan.entities)
    if relist and tuple(names) != plan.entities:
        logs.warn(
            "full_relist_all_entities",
            step="extract",
            detail="the events gap affects every entity, so all of them are re-listed",
        )
    windows: dict[str, EntityWindow] = {}
    for stream in ENTITY_STREAMS:
        if stream.name not in names:
            continue
        before = marks.get(stream.name)
        if plan.backfill:
            window = backfill_window(*plan.backfill, run_start)
            windows[stream.name] = EntityWindow(window, _reaches(window, before, run_start))
        elif relist:
            first = first_run_start(stream, run_start, plan.days)
            start = before.history_start if before else first
            window = Window(min(start, first), run_start)
            windows[stream.name] = EntityWindow(window, True)
        else:
            _check_not_ahead(stream.name, before, run_start)
            if before is None and stream.first_run_lists_all:
                window = Window(first_run_start(stream, run_start, plan.days), run_start)
            else:
                window = incremental_window(
                    before.watermark if before else None,
                    run_start,
                    plan.days,
                    safety_window_seconds,
                )
            windows[stream.name] = EntityWindow(window, True, rereads_last_run=before is not None)
            if before is not None:
                logs.log(
                    "continuing_incrementally",
                    step="extract",
                    entity=stream.name,
                    watermark=before.watermark_iso,
                    detail=f"--days {plan.days} applies only to a first run; "
                    "use backfill --start/--end to re-extract a range",
                )
    if plan.include_events:
        windows[EVENTS.name] = _events_window(
            plan, run_start, marks.get(EVENTS.name), relist, safety_window_seconds
        )
    return windows


def first_run_start(stream: Stream, run_start: int, days: int) -> int:
    """Where a first run's window starts: `days` back, or the epoch for a stream whose
    first run lists all of it (a catalog)."""
    return 0 if stream.first_run_lists_all else run_start - days * DAY


def _reaches(window: Window, before: Watermark | None, run_start: int) -> bool:
    """A backfill advances a watermark only if its window runs from at or before the
    watermark up to now, so it cannot open a gap or skip what lies after its end."""
    return before is not None and window.gte <= before.watermark and window.lt == run_start


def _check_not_ahead(entity: str, before: Watermark | None, run_start: int) -> None:
    """An incremental window starts at the watermark and ends at the API's clock; a watermark
    past that clock (the clock moved back, a skewed Date header, a hand-edited state file)
    would make the window empty now and skip what is created until the clock passes it."""
    if before is None or before.watermark <= run_start:
        return
    ahead = before.watermark - run_start
    raise WatermarkAhead(
        f"{entity}: the watermark {before.watermark_iso} is {ahead} s later than the API's "
        f"clock {iso(run_start)} (its Date header): the clock moved back, the Date header is "
        "skewed, or the watermark file was edited. Nothing was read or committed. Wait until "
        "the API's clock passes the watermark, or correct the watermark file "
        f"(`payments-pipeline status` shows them all)"
    )


def _events_stale(mark: Watermark | None, run_start: int) -> bool:
    return mark is not None and mark.watermark < run_start - EVENTS_RETENTION_SECONDS


def _events_window(
    plan: Plan,
    run_start: int,
    before: Watermark | None,
    relist: bool,
    safety_window_seconds: int,
) -> EntityWindow:
    oldest = run_start - EVENTS_RETENTION_SECONDS + 60  # a minute of margin for clocks
    rereads = False
    if plan.backfill:
        window = backfill_window(*plan.backfill, run_start)
        commit = _reaches(window, before, run_start)
    elif before is not None and _events_stale(before, run_start):
        if not relist:
            age_days = (run_start - before.watermark) / DAY
            raise EventsTooOld(
                f"the events watermark {before.watermark_iso} is {age_days:.1f} days old, "
                "beyond Stripe's 30-day event history: updates in the gap cannot be read "
                "from /v1/events. Re-run with --full-relist to re-list every entity since "
                "its first extraction (bounded by its recorded history) and resume events"
            )
        window, commit = Window(oldest, run_start), True
    else:
        _check_not_ahead(EVENTS.name, before, run_start)
        window = incremental_window(
            before.watermark if before else None,
            run_start,
            min(plan.days, 30),
            safety_window_seconds,
        )
        commit = True
        rereads = before is not None
    if window.gte < oldest:
        logs.warn(
            "events_window_clamped",
            step="extract",
            requested_gte=window.gte,
            gte=oldest,
            detail="Stripe keeps 30 days of events",
        )
        window = Window(oldest, window.lt)
    return EntityWindow(window, commit, rereads_last_run=rereads)
