"""Peak resident memory of a process tree, sampled from /proc (Linux).

`getrusage(RUSAGE_CHILDREN)` only counts children that were waited for: pyspark starts its JVM
as a child of the Python process and never waits for it, so a Spark build's JVM is missing from
that figure. `TreeSampler` polls /proc every `interval` seconds, sums the RSS of every
descendant of one process at that instant, and keeps the peak of that sum, and of the part of it
whose command name is one of `names` (by default `java`, the JVM).

A process that a parent has just forked or vfork'ed and that has not yet exec'd (the JVM
starts `ls`, `chmod`, … through Hadoop's local file system: a child named after the forking
Java thread, `Thread-11`, `ResultQueryStag`, …) shares its parent's pages and shows its
parent's RSS; counting it would add the JVM twice. Such a child is recognised by its memory
layout, the same as its parent's (start and end of code, start of stack: exec gives a new
one), and left out. (Comparing RSS and virtual size instead missed most of them: the JVM's
RSS moves between reading the parent's stat and the child's.) A child forked to work without
exec, as a multiprocessing fork worker, is left out too: its pages are its parent's until
written.

A sample is instantaneous: a peak shorter than the interval can be missed, so the figure is a
lower bound of the true peak (the interval is 0.25 s by default).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


Layout = tuple[int, int, int]


def processes() -> dict[int, tuple[int, str, int, Layout | None]]:
    """Every process now: pid -> (parent pid, command name, RSS bytes, memory layout), from
    /proc/<pid>/stat; the layout is None where the kernel hides it (no permission: zeros)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # ended since the listing
            continue
        # The name is in parentheses and may hold spaces or parentheses itself.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is field 3 of proc(5) (state): ppid is field 4, rss (pages) field 24,
        # startcode, endcode and startstack fields 26-28.
        layout = (int(fields[23]), int(fields[24]), int(fields[25]))
        found[int(entry.name)] = (
            int(fields[1]),
            name,
            int(fields[21]) * PAGE_SIZE,
            layout if any(layout) else None,
        )
    return found


def descendants(root: int, table: dict[int, tuple[int, str, int, Layout | None]]) -> list[int]:
    """The pids below `root` (children, their children, ...), not `root` itself."""
    children: dict[int, list[int]] = {}
    for pid, (parent, *_) in table.items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_rss(
    root: int, table: dict[int, tuple[int, str, int, Layout | None]], names: tuple[str, ...]
) -> tuple[int, int, bool]:
    """(RSS of `root`'s descendants, of those named in `names`, whether any was named), leaving
    out a child that shares its parent's memory (forked, not exec'd: its parent's layout)."""
    total = named = 0
    seen = False
    for pid in descendants(root, table):
        parent, name, rss, layout = table[pid]
        above = table.get(parent)
        if layout is not None and above is not None and above[3] == layout:
            continue
        total += rss
        if name in names:
            named += rss
            seen = True
    return total, named, seen


class TreeSampler:
    """Samples the RSS of `root`'s descendants in a thread until `stop()`.

    peak_total_bytes: the largest sum over all descendants at one sample;
    peak_named_bytes: the largest sum over the descendants named in `names` (the JVM);
    named_seen: whether any such process was seen at all.
    """

    def __init__(self, root: int, interval: float = 0.25, names: tuple[str, ...] = ("java",)):
        self.root = root
        self.interval = interval
        self.names = names
        self.peak_total_bytes = 0
        self.peak_named_bytes = 0
        self.named_seen = False
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def sample(self) -> None:
        total, named, seen = tree_rss(self.root, processes(), self.names)
        self.named_seen = self.named_seen or seen
        self.peak_total_bytes = max(self.peak_total_bytes, total)
        self.peak_named_bytes = max(self.peak_named_bytes, named)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> TreeSampler:
        self._stop.set()
        self._thread.join()
        return self
