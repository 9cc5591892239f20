"""Live progress on a terminal (records per entity and rate) and the final summary."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from extractor.lake.watermarks import iso


class Progress:
    """Counts records per entity; on a TTY, redraws one status line twice a second."""

    def __init__(
        self,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.clock = clock
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = clock()

    def add(self, entity: str, records: int) -> None:
        with self._lock:
            self.counts[entity] = self.counts.get(entity, 0) + records

    def line(self) -> str:
        elapsed = max(1e-9, self.clock() - self.started)
        with self._lock:
            counts = dict(self.counts)
        total = sum(counts.values())
        parts = " ".join(f"{name}={n}" for name, n in sorted(counts.items()))
        return f"extract {parts or '...'} | {total} records, {total / elapsed:,.0f}/s"

    def start(self) -> None:
        if self.enabled:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="progress")
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.stream.write("\r\x1b[2K" + self.line())
            self.stream.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def _watermarks(entity: dict[str, Any]) -> str:
    """`; watermark 2026-01-01T00:00:00Z -> 2026-01-02T00:00:00Z` (or `none ->` on a first
    run): the state the window was cut from and what the run left behind."""
    before, after = entity.get("watermark_before"), entity.get("watermark_after")
    if before is None and after is None:
        return ""
    shown = [iso(mark) if isinstance(mark, int) else "none" for mark in (before, after)]
    return f"; watermark {shown[0]} -> {shown[1]}"


def summary_text(section: dict[str, Any], run_id: str) -> str:
    """A short table of what a run did, for people (the manifest has the same numbers)."""
    lines = [
        f"run {run_id} {section.get('status')} ({section.get('command')}, "
        f"{section.get('duration_seconds', 0)}s)"
    ]
    width = max([16, *(len(name) + 1 for name in section.get("entities", {}))])
    header = f"{'entity':<{width}}{'records':>9}{'via events':>11}{'pages':>7}{'calls':>7}"
    header += f"{'retries':>8}{'files':>6}  window / watermark"
    lines.append(header)
    for name, ent in section.get("entities", {}).items():
        window = ent.get("window") or {}
        span = f"{window.get('gte_iso', '-')} -> {window.get('lt_iso', '-')}" if window else "-"
        span += _watermarks(ent)
        if "parents_listed" in ent:
            span = f"children of {ent['parents_listed']} new parents"
        lines.append(
            f"{name:<{width}}{ent.get('records', 0):>9}{ent.get('records_event', 0):>11}"
            f"{ent.get('pages', 0):>7}{ent.get('api_calls', 0):>7}{ent.get('retries', 0):>8}"
            f"{len(ent.get('files', [])):>6}  {span}"
        )
    totals = section.get("totals", {})
    if totals:
        lines.append(
            f"total {totals.get('records', 0)} records in {totals.get('files', 0)} files, "
            f"{totals.get('api_calls', 0)} API calls, {totals.get('retries', 0)} retries, "
            f"{totals.get('records_per_second', 0)} records/s"
            + (
                f"; {unchanged} unchanged re-reads not written again"
                if (unchanged := totals.get("unchanged_rereads"))
                else ""
            )
        )
    if section.get("error"):
        lines.append(f"error: {section['error'].get('message')}")
    return "\n".join(lines)
