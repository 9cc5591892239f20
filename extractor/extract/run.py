"""One extraction run: fetch every planned window in parallel, write Bronze, commit state.

One generic loop (`Extraction._fetch`) serves every stream declared in `extractor.streams`;
the windows come from `extractor.extract.plan`, the Bronze lines from
`extractor.extract.route`. Commit order (docs/architecture.md, "Correctness model"): Bronze
parts -> manifest -> watermarks, so a crash at any point leaves either nothing committed or
a window the next run fetches again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from extractor import failpoints, logs
from extractor.api.client import CallStats, Page, StripeClient
from extractor.exits import error_line
from extractor.extract.bronze import PartWriter, loaded_at_iso
from extractor.extract.plan import Plan, plan_windows
from extractor.extract.progress import Progress
from extractor.extract.route import object_lines, route_events
from extractor.extract.windows import Window, split
from extractor.lake.lock import RunLock
from extractor.lake.manifest import update_section
from extractor.lake.storage import Storage
from extractor.lake.watermarks import Watermark, advance, read_watermark
from extractor.settings import Settings
from extractor.streams import BY_NAME, ENTITY_STREAMS, EVENTS, Stream, event_type_filters

# Slices shorter than this are not split further: below it, per-slice overhead dominates.
MIN_SLICE_SECONDS = 3600


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


class Extraction:
    """One extraction run against one lake."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        plan: Plan,
        run_id: str,
        client: StripeClient | None = None,
        progress: Progress | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.run_id = run_id
        self.storage = storage
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
        # Every entity gets a run (and a writer): events route objects into any of them.
        for stream in ENTITY_STREAMS:
            self._entity_run(stream)
        marks = {name: run.watermark_before for name, run in self.runs.items()}
        if self.plan.include_events:
            marks[EVENTS.name] = read_watermark(self.storage, EVENTS.name)
        windows = plan_windows(self.plan, run_start, marks, self.settings.safety_window_seconds)
        for name, planned in windows.items():
            entity_run = self._entity_run(BY_NAME[name])
            entity_run.window = planned.window
            entity_run.commit_watermark = planned.commit_watermark

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
        lines = object_lines(
            page, self.run_id, loaded_at_iso(self.wall_clock()), self.settings.stripe_version
        )
        entity_run.writer.write_lines(lines)
        entity_run.count(listed=len(lines))
        self.progress.add(entity_run.stream.name, len(lines))
        return len(lines)

    def _write_events(self, events_run: EntityRun, page: Page) -> int:
        """Land each event in `events`, and its `data.object` in that object's entity."""
        routed = route_events(page, self.run_id, loaded_at_iso(self.wall_clock()))
        events_run.writer.write_lines(routed.events)
        events_run.count(listed=len(routed.events))
        self.progress.add(EVENTS.name, len(routed.events))
        for name, lines in routed.objects.items():
            target_run = self._entity_run(BY_NAME[name])
            target_run.writer.write_lines(lines)
            target_run.count(via_event=len(lines), tombstones=routed.tombstones.get(name, 0))
            self.progress.add(name, len(lines))
        return len(routed.events)

    # -- committing --------------------------------------------------------------------------

    def _abort_writers(self) -> None:
        """Discard every open part of a failed run (a crash would leave none visible either)."""
        for entity_run in self.runs.values():
            try:
                entity_run.writer.abort()
            except Exception as inner:  # noqa: BLE001 - never mask the run's own error
                logs.error("part_abort_failed", step="extract", error=error_line(inner))

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
        message = "interrupted" if isinstance(exc, KeyboardInterrupt) else error_line(exc)
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
            logs.error("manifest_write_failed", step="extract", error=error_line(inner))
        logs.error("extract_failed", step="extract", error=message, kind=type(exc).__name__)
