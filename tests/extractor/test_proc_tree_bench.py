"""bench/proc_tree.py: the /proc sampler that measures Spark's JVM, which getrusage misses
(pyspark never waits for it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from bench.proc_tree import TreeSampler, descendants, tree_rss

MIB = 2**20


def test_descendants_walks_the_whole_tree_below_the_root_only() -> None:
    table = {
        1: (0, "init", 0, None),
        10: (1, "wrapper", 0, None),
        11: (10, "dbt", 0, None),
        12: (11, "bash", 0, None),
        13: (12, "java", 0, None),
        14: (11, "java", 0, None),
        20: (1, "other", 0, None),
    }
    assert sorted(descendants(10, table)) == [11, 12, 13, 14]
    assert descendants(13, table) == []


def test_a_child_forked_by_the_jvm_is_not_counted_twice() -> None:
    # Seen at 1M charges: the JVM forks (Hadoop's local file system runs `ls`, `chmod`), and
    # until it execs, the child, named after the Java thread, shows the JVM's RSS (read a
    # moment later, so not always the same figure) and the JVM's memory layout.
    jvm = (0x1000, 0x2000, 0x7FFC0000)
    table = {
        10: (1, "python", 11 * MIB, (1, 2, 3)),
        11: (10, "dbt", 170 * MIB, (4, 5, 6)),
        12: (11, "java", 3300 * MIB, jvm),
        13: (12, "Thread-11", 3301 * MIB, jvm),
        14: (12, "ls", 2 * MIB, (7, 8, 9)),
    }
    assert tree_rss(10, table, ("java",)) == (3472 * MIB, 3300 * MIB, True)
    assert tree_rss(11, table, ("java",)) == (3302 * MIB, 3300 * MIB, True)
    assert tree_rss(12, table, ("java",)) == (2 * MIB, 0, False)


def test_sampler_sees_a_grandchild_that_is_never_waited_for(tmp_path) -> None:
    # A process named `java` (a symlink to Python) holding 150 MiB, started by a child that
    # does not wait for it, as pyspark starts its JVM; the root is the child's wrapper.
    java = tmp_path / "java"
    java.symlink_to(os.path.realpath(sys.executable))
    ready = tmp_path / "ready"
    grandchild = (
        f"import pathlib, time; data = b'x' * (150 << 20); "
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(1.5)"
    )
    child = textwrap.dedent(
        f"""
        import pathlib, subprocess, time
        jvm = subprocess.Popen([{str(java)!r}, "-c", {grandchild!r}])
        while not pathlib.Path({str(ready)!r}).exists():
            time.sleep(0.02)
        time.sleep(0.5)
        """
    )
    # The root is a wrapper around the child, as spark_bench samples dbt_bench's wrapper.
    wrapper = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    process = subprocess.Popen([sys.executable, "-c", wrapper])
    sampler = TreeSampler(process.pid, interval=0.05).start()
    process.wait(timeout=60)
    sampler.stop()
    assert sampler.named_seen
    assert sampler.peak_named_bytes >= 150 * MIB
    # The child's own Python is in the total, not in the JVM's part.
    assert sampler.peak_total_bytes > sampler.peak_named_bytes
    assert sampler.samples > 5


def test_a_forked_child_that_has_not_exec_d_is_left_out(tmp_path) -> None:
    # A real fork without exec holding the parent's 150 MiB: its pages are the parent's.
    ready = tmp_path / "ready"
    child = textwrap.dedent(
        f"""
        import os, pathlib, time
        data = b'x' * (150 << 20)
        if os.fork() == 0:
            pathlib.Path({str(ready)!r}).touch()
            time.sleep(1.0)
            os._exit(0)
        time.sleep(1.5)
        os.wait()
        """
    )
    wrapper = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    process = subprocess.Popen([sys.executable, "-c", wrapper])
    sampler = TreeSampler(process.pid, interval=0.05).start()
    process.wait(timeout=60)
    sampler.stop()
    assert ready.exists()
    assert 150 * MIB <= sampler.peak_total_bytes < 250 * MIB
