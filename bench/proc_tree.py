"""Peak resident memory of a process tree, sampled from /proc (Linux).

`getrusage(RUSAGE_CHILDREN)` only counts children that were waited for: pyspark starts its JVM
as a child of the Python process and never waits for it, so a Spark build's JVM is missing from
that figure. `TreeSampler` polls /proc every `interval` seconds, sums the RSS of every
descendant of one process at that instant, and keeps the peak of that sum, and of the part of it
whose command name is one of `names` (by default `java`, the JVM).

A process that a parent has just forked or vfork'ed and that has not yet exec'd (the JVM
starts `ls`, `chmod`, … through Hadoop's local file system: a child named after the forking
Java thread, `Thread-11`, `ResultQueryStag`, …) shares its parent's pages and shows its
parent's RSS; counting it would add the JVM twice. Such a child is recognised by the same
virtual size and RSS as its parent and left out.

A sample is instantaneous: a peak shorter than the interval can be missed, so the figure is a
lower bound of the true peak (the interval is 0.25 s by default).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def processes() -> dict[int, tuple[int, str, int, int]]:
    """Every process now: pid -> (parent pid, command name, RSS bytes, virtual size bytes),
    from /proc/<pid>/stat."""
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
        # fields[0] is field 3 of proc(5) (state): ppid is field 4, vsize (bytes) field 23,
        # rss (pages) field 24.
        found[int(entry.name)] = (
            int(fields[1]),
            name,
            int(fields[21]) * PAGE_SIZE,
            int(fields[20]),
        )
    return found


def descendants(root: int, table: dict[int, tuple[int, str, int, int]]) -> list[int]:
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
    root: int, table: dict[int, tuple[int, str, int, int]], names: tuple[str, ...]
) -> tuple[int, int, bool]:
    """(RSS of `root`'s descendants, of those named in `names`, whether any was named), leaving
    out a child that shares its parent's memory (forked, not yet exec'd: same vsize and RSS)."""
    total = named = 0
    seen = False
    for pid in descendants(root, table):
        parent, name, rss, vsize = table[pid]
        above = table.get(parent)
        if above is not None and (above[2], above[3]) == (rss, vsize):
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
