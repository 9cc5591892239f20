"""Run orchestration: plan windows, fetch streams in parallel, write Bronze, commit state.

One generic loop (`Extraction._fetch`) serves every stream declared in `extractor.streams`.
Commit order (DESIGN §4): Bronze parts -> manifest -> watermarks, so a crash at any point
leaves either nothing committed or a window the next run fetches again.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from extractor import failpoints, logs
from extractor.bronze import (
    SOURCE_EVENT,
    SOURCE_LIST,
    PartWriter,
    envelope_line,
    loaded_at_iso,
)
from extractor.client import CallStats, Page, StripeClient
from extractor.errors import ExtractError, scrub
from extractor.ids import InvalidName, resolve_run_id
from extractor.lock import LockHeld, RunLock, read_lock, unlock
from extractor.manifest import ManifestError, list_run_ids, read_manifest, update_section
from extractor.progress import Progress, summary_text
from extractor.rawjson import RawJsonError, one_line, path_span, with_member_true
from extractor.settings import Settings
from extractor.state import StateError, Watermark, advance, read_watermark
from extractor.storage import Storage, StorageError, storage_for
from extractor.streams import (
    BY_NAME,
    BY_OBJECT_TYPE,
    ENTITY_STREAMS,
    EVENTS,
    EVENTS_RETENTION_SECONDS,
    Stream,
    event_type_filters,
)
from extractor.windows import DAY, Window, backfill_window, incremental_window, split

# Slices shorter than this are not split further: below it, per-slice overhead dominates.
MIN_SLICE_SECONDS = 3600
EXIT_FAILED = 1
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130


class EventsTooOld(ExtractError):
    """The events watermark is older than Stripe's 30-day event history."""


@dataclass
class EntityRun:
    """What one run does for one entity, and what it has done so far."""

    stream: Stream
    writer: PartWriter
    window: Window | None = None  # None: this run only routes events into the entity
    slices: int = 0
    watermark_before: Watermark | None = None
    commit_watermark: bool = False
    stats: CallStats = field(default_factory=CallStats)
    records_list: int = 0
    records_event: int = 0
    tombstones: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    watermark_after: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, listed: int = 0, via_event: int = 0, tombstones: int = 0) -> None:
        with self._lock:
            self.records_list += listed
            self.records_event += via_event
            self.tombstones += tombstones

    def as_dict(self) -> dict[str, Any]:
        before = self.watermark_before
        return {
            "window": self.window.as_dict() if self.window else None,
            "slices": self.slices,
            "pages": self.stats.pages,
            "api_calls": self.stats.api_calls,
            "retries": self.stats.retries,
            "records": self.records_list + self.records_event,
            "records_list": self.records_list,
            "records_event": self.records_event,
            "tombstones": self.tombstones,
            "files": self.files,
            "watermark_before": before.watermark if before else None,
            "watermark_after": self.watermark_after,
        }


@dataclass(frozen=True)
class Plan:
    """What the caller asked for; `Extraction` turns it into windows."""

    command: str
    entities: tuple[str, ...]  # list streams to fetch (events is separate)
    include_events: bool
    days: int = 3
    full_relist: bool = False
    backfill: tuple[date, date] | None = None


class Extraction:
    """One extraction run against one lake."""

    def __init__(
        self,
        settings: Settings,
        plan: Plan,
        run_id: str,
        storage: Storage | None = None,
        client: StripeClient | None = None,
        progress: Progress | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.run_id = run_id
        self.storage = storage or storage_for(settings)
        self.client = client or StripeClient(settings)
        self.progress = progress or Progress(enabled=False)
        self.wall_clock = wall_clock
        self.stop = threading.Event()
        self.runs: dict[str, EntityRun] = {}
        self.probe_stats = CallStats()
        self.section: dict[str, Any] = {}

    # -- the run ---------------------------------------------------------------------------

    def execute(self) -> dict[str, Any]:
        """Run under the lake lock; returns the manifest's `extract` section."""
        with RunLock(self.storage, self.run_id, self.plan.command, clock=self.wall_clock):
            started = self.wall_clock()
            self.section = {
                "status": "running",
                "command": self.plan.command,
                "args": {
                    "days": self.plan.days,
                    "full_relist": self.plan.full_relist,
                    "backfill": [str(d) for d in self.plan.backfill]
                    if self.plan.backfill
                    else None,
                },
                "started_at": loaded_at_iso(started),
                "ended_at": None,
                "api_base": self.settings.api_base,
                "stripe_version": self.settings.stripe_version,
                "lake_root": self.storage.root,
                "error": None,
                "entities": {},
            }
            update_section(self.storage, self.run_id, "extract", self.section)
            logs.log("extract_started", step="extract", command=self.plan.command)
            try:
                self.client.check_reachable()
                run_start = self.client.server_time(self.probe_stats)
                self._plan(run_start)
                self.progress.start()
                try:
                    self._fetch_all()
                finally:
                    self.progress.stop()
                self._close_writers()
                failpoints.hit("extract.before_manifest")
                self._finish(started, "succeeded")
                failpoints.hit("extract.before_watermarks")
                self._commit_watermarks(run_start)
            except BaseException as exc:
                self.stop.set()
                self._abort_writers()
                self._fail(started, exc)
                raise
            finally:
                self.client.close()
        return self.section

    def _plan(self, run_start: int) -> None:
        self.run_start = run_start
        self.run_date = datetime.fromtimestamp(run_start, UTC).strftime("%Y-%m-%d")
        self.section.update(
            run_start=run_start,
            run_start_iso=datetime.fromtimestamp(run_start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            run_date=self.run_date,
        )
        plan = self.plan
        relist = plan.full_relist and self._events_stale(run_start)
        names = [s.name for s in ENTITY_STREAMS] if relist else list(plan.entities)
        if relist and tuple(names) != plan.entities:
            logs.warn(
                "full_relist_all_entities",
                step="extract",
                detail="the events gap affects every entity, so all of them are re-listed",
            )
        for stream in ENTITY_STREAMS:
            entity_run = self._entity_run(stream)
            if stream.name not in names:
                continue
            before = entity_run.watermark_before
            if plan.backfill:
                entity_run.window = backfill_window(*plan.backfill, run_start)
                entity_run.commit_watermark = (
                    before is not None
                    and entity_run.window.gte <= before.watermark
                    and entity_run.window.lt == run_start
                )
            elif relist:
                start = before.history_start if before else run_start - plan.days * DAY
                entity_run.window = Window(min(start, run_start - plan.days * DAY), run_start)
                entity_run.commit_watermark = True
            else:
                entity_run.window = incremental_window(
                    before.watermark if before else None,
                    run_start,
                    plan.days,
                    self.settings.safety_window_seconds,
                )
                entity_run.commit_watermark = True
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
            self._plan_events(run_start, relist)

    def _events_stale(self, run_start: int) -> bool:
        mark = read_watermark(self.storage, EVENTS.name)
        return mark is not None and mark.watermark < run_start - EVENTS_RETENTION_SECONDS

    def _plan_events(self, run_start: int, relist: bool) -> None:
        events = self._entity_run(EVENTS)
        before = events.watermark_before
        oldest = run_start - EVENTS_RETENTION_SECONDS + 60  # a minute of margin for clocks
        if self.plan.backfill:
            window = backfill_window(*self.plan.backfill, run_start)
            events.commit_watermark = (
                before is not None and window.gte <= before.watermark and window.lt == run_start
            )
        elif before is not None and before.watermark < run_start - EVENTS_RETENTION_SECONDS:
            if not relist:
                age_days = (run_start - before.watermark) / DAY
                raise EventsTooOld(
                    f"the events watermark {before.watermark_iso} is {age_days:.1f} days old, "
                    "beyond Stripe's 30-day event history: updates in the gap cannot be read "
                    "from /v1/events. Re-run with --full-relist to re-list every entity since "
                    "its first extraction (bounded by its recorded history) and resume events"
                )
            window = Window(oldest, run_start)
            events.commit_watermark = True
        else:
            window = incremental_window(
                before.watermark if before else None,
                run_start,
                min(self.plan.days, 30),
                self.settings.safety_window_seconds,
            )
            events.commit_watermark = True
        if window.gte < oldest:
            logs.warn(
                "events_window_clamped",
                step="extract",
                requested_gte=window.gte,
                gte=oldest,
                detail="Stripe keeps 30 days of events",
            )
            window = Window(oldest, window.lt)
        events.window = window

    def _entity_run(self, stream: Stream) -> EntityRun:
        if stream.name not in self.runs:
            self.runs[stream.name] = EntityRun(
                stream=stream,
                writer=PartWriter(
                    self.storage,
                    stream.name,
                    self.run_id,
                    self.run_date,
                    self.settings.part_max_records,
                    self.settings.part_max_bytes,
                    self.settings.compress_parts,
                ),
                watermark_before=read_watermark(self.storage, stream.name),
            )
        return self.runs[stream.name]

    # -- fetching ----------------------------------------------------------------------------

    def _tasks(self) -> list[tuple[EntityRun, Window, dict[str, Any]]]:
        tasks = []
        workers = self.settings.max_workers
        for entity_run in self.runs.values():
            if entity_run.window is None:
                continue
            slices = split(entity_run.window, workers, MIN_SLICE_SECONDS)
            entity_run.slices = len(slices)
            filters: tuple[str | None, ...] = (
                event_type_filters() if entity_run.stream.is_change_feed else (None,)
            )
            for window in slices:
                for type_filter in filters:
                    params: dict[str, Any] = window.params()
                    if type_filter:
                        params["type"] = type_filter
                    tasks.append((entity_run, window, params))
        # Interleave entities (round robin) so every entity makes progress from the start.
        rank: dict[int, int] = {}
        keyed = []
        for order, task in enumerate(tasks):
            n = rank.get(id(task[0]), 0)
            rank[id(task[0])] = n + 1
            keyed.append((n, order, task))
        return [task for _, _, task in sorted(keyed, key=lambda k: (k[0], k[1]))]

    def _fetch_all(self) -> None:
        tasks = self._tasks()
        logs.log(
            "extract_planned",
            step="extract",
            tasks=len(tasks),
            workers=self.settings.max_workers,
            windows={n: r.window.as_dict() for n, r in self.runs.items() if r.window},
        )
        with ThreadPoolExecutor(self.settings.max_workers, thread_name_prefix="extract") as pool:
            futures = [pool.submit(self._fetch, *task) for task in tasks]
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            except BaseException:
                self.stop.set()
                raise
            failed = [f for f in done if f.exception() is not None]
            if failed:
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise failed[0].exception()  # type: ignore[misc]

    def _fetch(self, entity_run: EntityRun, window: Window, params: dict[str, Any]) -> None:
        """The one loop every stream goes through: page, envelope, write."""
        stream = entity_run.stream
        with logs.Timer() as timer:
            records = 0
            for page in self.client.iter_pages(
                stream.path, params, entity_run.stats, should_stop=self.stop.is_set
            ):
                failpoints.hit("extract.page_fetched")
                if stream.is_change_feed:
                    records += self._write_events(entity_run, page)
                else:
                    records += self._write_objects(entity_run, page)
        logs.log(
            "slice_done",
            step="extract",
            entity=stream.name,
            window=window.as_dict(),
            type_filter=params.get("type"),
            records=records,
            seconds=timer.seconds,
            stopped=self.stop.is_set(),
        )

    def _write_objects(self, entity_run: EntityRun, page: Page) -> int:
        loaded_at = loaded_at_iso(self.wall_clock())
        lines = [
            envelope_line(
                one_line(item.raw),
                run_id=self.run_id,
                loaded_at=loaded_at,
                observed_at=page.served_at,
                source=SOURCE_LIST,
            )
            for item in page.items
        ]
        entity_run.writer.write_lines(lines)
        entity_run.count(listed=len(lines))
        self.progress.add(entity_run.stream.name, len(lines))
        return len(lines)

    def _write_events(self, events_run: EntityRun, page: Page) -> int:
        """Land each event in `events`, and its `data.object` in that object's entity."""
        loaded_at = loaded_at_iso(self.wall_clock())
        event_lines: list[str] = []
        routed: dict[str, list[str]] = {}
        tombstones: dict[str, int] = {}
        for item in page.items:
            event = item.value
            event_type = event.get("type")
            created = event.get("created")
            if not isinstance(event_type, str) or not isinstance(created, int):
                raise ExtractError(
                    f"GET {EVENTS.path}: event {item.id} has no string type or integer created"
                )
            event_lines.append(
                envelope_line(
                    one_line(item.raw),
                    run_id=self.run_id,
                    loaded_at=loaded_at,
                    observed_at=page.served_at,
                    source=SOURCE_LIST,
                    event_id=item.id,
                    event_type=event_type,
                )
            )
            obj = (event.get("data") or {}).get("object")
            target = BY_OBJECT_TYPE.get(obj.get("object")) if isinstance(obj, dict) else None
            if target is None:
                continue  # e.g. a dispute: kept in entity=events only
            try:
                obj_span = path_span(page.text, item.span, ("data", "object"))
            except RawJsonError as exc:
                raise ExtractError(f"GET {EVENTS.path}: event {item.id}: {exc}") from None
            if obj_span is None:
                continue
            raw = one_line(page.text[obj_span.start : obj_span.end])
            if event_type.endswith(".deleted"):
                raw = with_member_true(raw, "deleted")
                tombstones[target.name] = tombstones.get(target.name, 0) + 1
            routed.setdefault(target.name, []).append(
                envelope_line(
                    raw,
                    run_id=self.run_id,
                    loaded_at=loaded_at,
                    observed_at=created,
                    source=SOURCE_EVENT,
                    event_id=item.id,
                    event_type=event_type,
                )
            )
        events_run.writer.write_lines(event_lines)
        events_run.count(listed=len(event_lines))
        self.progress.add(EVENTS.name, len(event_lines))
        for name, lines in routed.items():
            target_run = self._entity_run(BY_NAME[name])
            target_run.writer.write_lines(lines)
            target_run.count(via_event=len(lines), tombstones=tombstones.get(name, 0))
            self.progress.add(name, len(lines))
        return len(event_lines)

    # -- committing --------------------------------------------------------------------------

    def _abort_writers(self) -> None:
        """Discard every open part of a failed run (a crash would leave none visible either)."""
        for entity_run in self.runs.values():
            try:
                entity_run.writer.abort()
            except Exception as inner:  # noqa: BLE001 - never mask the run's own error
                logs.error("part_abort_failed", step="extract", error=one_line_error(inner))

    def _close_writers(self) -> None:
        """Publish every entity's last part, all at once: the fsyncs and uploads overlap."""
        runs = list(self.runs.values())
        if not runs:
            return
        with ThreadPoolExecutor(len(runs), thread_name_prefix="close") as pool:
            closed = list(pool.map(lambda run: run.writer.close(), runs))
        for entity_run, files in zip(runs, closed, strict=True):
            entity_run.files = [{"key": f.key, "rows": f.rows, "bytes": f.bytes} for f in files]

    def _entities_dict(self) -> dict[str, Any]:
        out = {}
        for name, entity_run in self.runs.items():
            if entity_run.commit_watermark:
                before = entity_run.watermark_before
                entity_run.watermark_after = max(
                    self.run_start, before.watermark if before else self.run_start
                )
            elif entity_run.watermark_before is not None:
                entity_run.watermark_after = entity_run.watermark_before.watermark
            out[name] = entity_run.as_dict()
        return out

    def _totals(self, seconds: float) -> dict[str, Any]:
        runs = list(self.runs.values())
        records = sum(r.records_list + r.records_event for r in runs)
        return {
            "records": records,
            "pages": sum(r.stats.pages for r in runs),
            "api_calls": sum(r.stats.api_calls for r in runs) + self.probe_stats.api_calls,
            "retries": sum(r.stats.retries for r in runs) + self.probe_stats.retries,
            "files": sum(len(r.files) for r in runs),
            "bytes": sum(f["bytes"] for r in runs for f in r.files),
            "records_per_second": round(records / seconds, 1) if seconds > 0 else 0.0,
        }

    def _finish(self, started: float, status: str) -> None:
        ended = self.wall_clock()
        self.section.update(
            status=status,
            ended_at=loaded_at_iso(ended),
            duration_seconds=round(ended - started, 3),
            entities=self._entities_dict(),
            totals=self._totals(ended - started),
        )
        update_section(self.storage, self.run_id, "extract", self.section)

    def _commit_watermarks(self, run_start: int) -> None:
        for name, entity_run in self.runs.items():
            if not entity_run.commit_watermark or entity_run.window is None:
                continue
            history = entity_run.window.gte
            mark = advance(self.storage, name, run_start, history, self.run_id)
            logs.log("watermark_committed", step="extract", entity=name, watermark=mark.watermark)
            failpoints.hit("extract.between_watermarks")

    def _fail(self, started: float, exc: BaseException) -> None:
        """Record the failure in the manifest (best effort: the original error wins)."""
        message = "interrupted" if isinstance(exc, KeyboardInterrupt) else one_line_error(exc)
        ended = self.wall_clock()
        self.section.update(
            status="failed",
            ended_at=loaded_at_iso(ended),
            duration_seconds=round(ended - started, 3),
            error={"type": type(exc).__name__, "message": message},
        )
        try:
            self.section["entities"] = {n: r.as_dict() for n, r in self.runs.items()}
            self.section["totals"] = self._totals(ended - started)
            update_section(self.storage, self.run_id, "extract", self.section)
        except Exception as inner:  # noqa: BLE001 - never mask the run's own error
            logs.error("manifest_write_failed", step="extract", error=one_line_error(inner))
        logs.error("extract_failed", step="extract", error=message, kind=type(exc).__name__)


def one_line_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return scrub(text)


# -- commands ------------------------------------------------------------------------------


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C: the manifest says failed and the lock is freed."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests calling in-process from a worker)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fail_line(message: str) -> None:
    print(f"payments-pipeline: error: {message}", file=sys.stderr)


def run_plan(args: argparse.Namespace, settings: Settings, plan: Plan) -> int:
    """Shared by run-batch, run-all and backfill: run, print the summary, map errors."""
    try:
        run_id = resolve_run_id(getattr(args, "run_id", None), settings.run_id)
    except InvalidName as exc:
        _fail_line(str(exc))
        return 2
    logs.configure(run_id, secrets=[settings.api_key.reveal()])
    extraction = Extraction(settings, plan, run_id, progress=Progress())
    try:
        with _sigterm_as_interrupt():
            section = extraction.execute()
    except LockHeld as exc:
        _fail_line(one_line_error(exc))
        return EXIT_LOCKED
    except KeyboardInterrupt:
        _fail_line(f"run {run_id} interrupted; nothing after the last committed state is kept")
        return EXIT_INTERRUPTED
    except (ExtractError, StorageError, StateError, ManifestError, ValueError) as exc:
        _fail_line(f"run {run_id} failed: {one_line_error(exc)}")
        return EXIT_FAILED
    print(summary_text(section, run_id))
    return 0


def _entity_days(args: argparse.Namespace) -> int:
    days = int(getattr(args, "days", 3))
    if days < 1:
        raise ValueError("--days must be at least 1")
    return days


def cmd_run_batch(args: argparse.Namespace, settings: Settings) -> int:
    """One entity's list plus the events feed (or only the feed for `--entity events`)."""
    entity = args.entity
    entities = () if entity == EVENTS.name else (entity,)
    try:
        days = _entity_days(args)
    except ValueError as exc:
        _fail_line(str(exc))
        return 2
    plan = Plan("run-batch", entities, True, days, bool(args.full_relist))
    return run_plan(args, settings, plan)


def cmd_run_all(args: argparse.Namespace, settings: Settings) -> int:
    try:
        days = _entity_days(args)
    except ValueError as exc:
        _fail_line(str(exc))
        return 2
    names = tuple(s.name for s in ENTITY_STREAMS)
    return run_plan(args, settings, Plan("run-all", names, True, days, bool(args.full_relist)))


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError:
        _fail_line(f"--start/--end must be YYYY-MM-DD dates (got {args.start!r}, {args.end!r})")
        return 2
    if end < start:
        _fail_line(f"--end {end} is before --start {start}")
        return 2
    chosen = tuple(args.entity or [s.name for s in ENTITY_STREAMS])
    entities = tuple(e for e in chosen if e != EVENTS.name)
    plan = Plan("backfill", entities, EVENTS.name in chosen, backfill=(start, end))
    return run_plan(args, settings, plan)


def cmd_status(args: argparse.Namespace, settings: Settings, limit: int = 5) -> int:
    """Watermarks, the lock, and the last runs with their outcome."""
    try:
        storage = storage_for(settings)
        print(f"lake {storage.root}")
        print("watermarks:")
        for stream in (*ENTITY_STREAMS, EVENTS):
            mark = read_watermark(storage, stream.name)
            if mark is None:
                print(f"  {stream.name:<16} none (next run is a first run over --days)")
            else:
                print(f"  {stream.name:<16} {mark.watermark_iso}  (run {mark.run_id})")
        lock = read_lock(storage)
        print(f"lock: {lock.describe(time.time()) if lock else 'free'}")
        print("last runs:")
        run_ids = list_run_ids(storage)
        if not run_ids:
            print("  none")
        for run_id in run_ids[-limit:]:
            doc = read_manifest(storage, run_id) or {}
            ext = doc.get("extract") or {}
            totals = ext.get("totals") or {}
            error = (ext.get("error") or {}).get("message")
            line = (
                f"  {run_id}  {ext.get('command', '-'):<9} {ext.get('status', '-'):<9} "
                f"started {ext.get('started_at', '-')}  records {totals.get('records', 0)}"
            )
            others = [k for k in doc if k not in ("run_id", "created_at", "updated_at", "extract")]
            for key in others:
                status = doc[key].get("status") if isinstance(doc[key], dict) else None
                line += f"  {key}={status or 'present'}"
            print(line + (f"  error: {error}" if error else ""))
    except (StorageError, StateError, ManifestError) as exc:
        _fail_line(one_line_error(exc))
        return EXIT_FAILED
    return 0


def cmd_unlock(args: argparse.Namespace, settings: Settings) -> int:
    try:
        message = unlock(storage_for(settings), force=bool(getattr(args, "force", False)))
    except LockHeld as exc:
        _fail_line(str(exc))
        return EXIT_LOCKED
    except StorageError as exc:
        _fail_line(one_line_error(exc))
        return EXIT_FAILED
    print(message)
    return 0
