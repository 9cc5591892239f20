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
from functools import partial
from typing import Any

from extractor import failpoints, logs
from extractor.api.client import CallStats, Page, StripeClient
from extractor.api.errors import FatalApiError
from extractor.api.rawjson import one_line
from extractor.exits import error_line
from extractor.extract.bronze import SOURCE_LIST, PartWriter, envelope_line, loaded_at_iso
from extractor.extract.children import commit_listed, read_listed
from extractor.extract.collector import fewer_collections
from extractor.extract.plan import Plan, plan_windows
from extractor.extract.progress import Progress
from extractor.extract.rereads import KnownVersions, commit_known, read_known
from extractor.extract.route import EVENT_OBJECT, object_lines, route_events
from extractor.extract.windows import Window, split
from extractor.lake.lock import RunLock
from extractor.lake.manifest import update_section
from extractor.lake.storage import Storage
from extractor.lake.watermarks import Watermark, advance, read_watermark
from extractor.settings import Settings
from extractor.streams import (
    BY_NAME,
    CHILD_STREAMS,
    ENTITY_STREAMS,
    EVENTS,
    SNAPSHOT_STREAMS,
    Stream,
    children_of,
    event_type_filters,
)

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
    # The versions of its objects already in Bronze, and whether this run's window reads
    # some of them again (extract/rereads.py); None for an entity this run only routes to.
    versions: KnownVersions | None = None
    drop_rereads: bool = False
    # A child stream: the parents this run saw that have children to list, each with
    # whether some version of it says its children are final; then the parents it lists.
    candidates: dict[str, bool] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def offer(self, parents: list[dict[str, Any]]) -> None:
        """Parent objects seen (listed or inside events): keep those the condition picks."""
        stream = self.stream
        picked = [(p["id"], stream.is_final(p)) for p in parents if stream.wants(p)]
        with self._lock:
            for parent_id, final in picked:
                self.candidates[parent_id] = self.candidates.get(parent_id, False) or final

    def count(self, listed: int = 0, via_event: int = 0, tombstones: int = 0) -> None:
        with self._lock:
            self.records_list += listed
            self.records_event += via_event
            self.tombstones += tombstones

    def as_dict(self) -> dict[str, Any]:
        before = self.watermark_before
        extra = {"parents_listed": len(self.parents)} if self.stream.parent else {}
        return {
            **extra,
            "window": self.window.as_dict() if self.window else None,
            "slices": self.slices,
            "pages": self.stats.pages,
            "api_calls": self.stats.api_calls,
            "retries": self.stats.retries,
            "records": self.records_list + self.records_event,
            "records_list": self.records_list,
            "records_event": self.records_event,
            "tombstones": self.tombstones,
            "unchanged_rereads": self.versions.dropped if self.versions else 0,
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
        self.listed: dict[str, set[str]] = {}  # per child stream: parents listed before

    # -- the run ---------------------------------------------------------------------------

    def execute(self) -> dict[str, Any]:
        """Run under the lake lock; returns the manifest's `extract` section."""
        with (
            RunLock(self.storage, self.run_id, self.plan.command, clock=self.wall_clock),
            fewer_collections(),
        ):
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
                    self._run_tasks(self._window_tasks())
                    # Second: what depends on the first (a payout's balance transactions).
                    self._run_tasks(self._dependent_tasks())
                finally:
                    self.progress.stop()
                self._close_writers()
                failpoints.hit("extract.before_manifest")
                self._finish(started, "succeeded")
                failpoints.hit("extract.before_watermarks")
                self._commit_watermarks(run_start)
                self._commit_children()
                failpoints.hit("extract.before_rereads")
                self._commit_rereads()
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
        for stream in (*ENTITY_STREAMS, *CHILD_STREAMS, *SNAPSHOT_STREAMS):
            self._entity_run(stream)
        for child in CHILD_STREAMS:  # read now: a broken state file fails before any fetch
            self.listed[child.name] = read_listed(self.storage, child.name)
        marks = {name: run.watermark_before for name, run in self.runs.items()}
        if self.plan.include_events:
            marks[EVENTS.name] = read_watermark(self.storage, EVENTS.name)
        windows = plan_windows(self.plan, run_start, marks, self.settings.safety_window_seconds)
        for name, planned in windows.items():
            entity_run = self._entity_run(BY_NAME[name])
            entity_run.window = planned.window
            entity_run.commit_watermark = planned.commit_watermark
            overlap_start = (
                self._moved_watermark(entity_run) - self.settings.safety_window_seconds
                if entity_run.commit_watermark
                else None  # the watermark stays: the next overlap is not this run's to keep
            )
            entity_run.versions = read_known(self.storage, name, overlap_start)
            entity_run.drop_rereads = planned.rereads_last_run
        for stream in SNAPSHOT_STREAMS:
            self.runs[stream.name].versions = read_known(self.storage, stream.name, run_start)

    def _moved_watermark(self, entity_run: EntityRun) -> int:
        """The watermark an entity whose window commits has after this run: the run start, or
        the stored one if that is later (a watermark never moves back)."""
        before = entity_run.watermark_before
        return max(self.run_start, before.watermark if before else self.run_start)

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

    def _window_tasks(self) -> list[Callable[[], None]]:
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
                    params: dict[str, Any] = {
                        **window.params(),
                        **dict(entity_run.stream.list_params),
                    }
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
        logs.log(
            "extract_planned",
            step="extract",
            tasks=len(tasks),
            workers=self.settings.max_workers,
            windows={n: r.window.as_dict() for n, r in self.runs.items() if r.window},
        )
        return [partial(self._fetch, *task) for _, _, task in sorted(keyed, key=lambda k: k[:2])]

    def _dependent_tasks(self) -> list[Callable[[], None]]:
        """A snapshot per run, and the children of every parent seen (that the child's
        condition picks) and not listed before."""
        tasks: list[Callable[[], None]] = [
            partial(self._fetch_snapshot, self.runs[s.name]) for s in SNAPSHOT_STREAMS
        ]
        for child in CHILD_STREAMS:
            child_run = self.runs[child.name]
            child_run.parents = sorted(set(child_run.candidates) - self.listed[child.name])
            tasks += [partial(self._fetch_children, child_run, p) for p in child_run.parents]
            logs.log(
                "children_planned",
                step="extract",
                entity=child.name,
                parents=len(child_run.parents),
                already_listed=len(self.listed[child.name]),
            )
        return tasks

    def _run_tasks(self, tasks: list[Callable[[], None]]) -> None:
        """Run tasks on the worker pool; the first failure stops the others and is raised."""
        if not tasks:
            return
        with ThreadPoolExecutor(self.settings.max_workers, thread_name_prefix="extract") as pool:
            futures = [pool.submit(task) for task in tasks]
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
        capture = EVENT_OBJECT if stream.is_change_feed else ()
        with logs.Timer() as timer:
            records = 0
            for page in self.client.iter_pages(
                stream.path, params, entity_run.stats, self.stop.is_set, capture
            ):
                failpoints.hit("extract.page_fetched")
                if entity_run.versions is not None:
                    page = entity_run.versions.unchanged_dropped(page, entity_run.drop_rereads)
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

    def _fetch_children(self, child_run: EntityRun, parent_id: str) -> None:
        """Every page of one parent's children (`?payout=po_...`, `/v1/invoices/in_.../lines`),
        tagged with the parent."""
        stream = child_run.stream
        records = 0
        path, params = stream.child_request(parent_id)
        try:
            for page in self.client.iter_pages(
                path, params, child_run.stats, should_stop=self.stop.is_set
            ):
                failpoints.hit("extract.page_fetched")
                records += self._write_objects(child_run, page, parent_id)
        except FatalApiError as exc:
            # A draft invoice can be deleted after the run saw it (Stripe answers 404 for
            # its lines); it has no lines left to keep. Anything else stops the run.
            if exc.status != 404 or child_run.candidates[parent_id]:
                raise
            logs.warn("children_gone", step="extract", entity=stream.name, parent=parent_id)
        failpoints.hit("extract.children_listed")
        logs.log(
            "children_done", step="extract", entity=stream.name, parent=parent_id, records=records
        )

    def _fetch_snapshot(self, entity_run: EntityRun) -> None:
        """One object per run (`GET /v1/balance`), observed when it was served."""
        stream = entity_run.stream
        snapshot = self.client.get_object(stream.path, entity_run.stats)
        text = one_line(snapshot.text.strip())
        if entity_run.versions is not None and entity_run.versions.snapshot_unchanged(text):
            return  # the last snapshot in Bronze says the same
        line = envelope_line(
            text,
            run_id=self.run_id,
            loaded_at=loaded_at_iso(self.wall_clock()),
            observed_at=snapshot.served_at,
            source=SOURCE_LIST,
            api_version=self.settings.stripe_version,
        )
        entity_run.writer.write_lines([line])
        entity_run.count(listed=1)
        self.progress.add(stream.name, 1)

    def _write_objects(
        self, entity_run: EntityRun, page: Page, parent_id: str | None = None
    ) -> int:
        lines = object_lines(
            page,
            self.run_id,
            loaded_at_iso(self.wall_clock()),
            self.settings.stripe_version,
            parent_id,
        )
        for child in children_of(entity_run.stream.name):
            self.runs[child.name].offer([item.value for item in page.items])
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
            for child in children_of(name):
                self.runs[child.name].offer(routed.object_values.get(name, []))
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
                entity_run.watermark_after = self._moved_watermark(entity_run)
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
            "unchanged_rereads": sum(r.versions.dropped for r in runs if r.versions),
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

    def _commit_children(self) -> None:
        """After the watermarks: the parents whose children this run wrote, and that are
        final, are listed (a draft invoice's lines are listed again when it is seen again)."""
        for child in CHILD_STREAMS:
            child_run = self.runs[child.name]
            final = {p for p in child_run.parents if child_run.candidates[p]}
            if not final:
                continue
            listed = self.listed[child.name] | final
            commit_listed(self.storage, child.name, listed, self.run_id)
            logs.log("children_committed", step="extract", entity=child.name, parents=len(listed))

    def _commit_rereads(self) -> None:
        """Last: the versions the next run's overlap will read again (extract/rereads.py).
        After the watermarks, so the file only names versions a succeeded run committed."""
        for name, entity_run in self.runs.items():
            versions = entity_run.versions
            if versions is None or versions.keep_since is None:
                continue  # only routed to, or a backfill that left the watermark as it was
            if versions.seen == versions.known:
                continue  # the file already says this (a quiet entity: no write at all)
            commit_known(self.storage, versions, self.run_id)
            logs.log("rereads_committed", step="extract", entity=name, versions=len(versions.seen))

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
