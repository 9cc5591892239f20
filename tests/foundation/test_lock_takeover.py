"""Taking over a dead run's lock is one conditional write: of processes racing to take the
same stale lock, exactly one wins, every time, on local disk and on S3 (moto_server)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys

import pytest

from extractor.lake.lock import LOCK_KEY, LockHeld, LockInfo, RunLock, read_lock
from extractor.lake.storage import LocalStorage, S3Storage, Storage

ROUNDS = 15
RACERS = 3


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def stale_lock(pid: int) -> bytes:
    return LockInfo("dead-run", socket.gethostname(), pid, "then", 0.0, "run-all").to_bytes()


def race(root: str, endpoint: str | None, name: str, start, results) -> None:
    storage: Storage = S3Storage(root, endpoint) if root.startswith("s3://") else LocalStorage(root)
    read_stale = storage.get

    def get(key: str) -> bytes | None:
        # Every racer has read the dead run's lock before any acts on it: the widest window.
        value = read_stale(key)
        if key == LOCK_KEY and value is not None and b"dead-run" in value:
            start.wait()
        return value

    storage.get = get  # type: ignore[method-assign]
    try:
        RunLock(storage, name, "run-all").acquire()
        results.put(name)
    except LockHeld:
        results.put(None)


@pytest.fixture(params=["local", "s3"])
def lake_root(request, tmp_path) -> tuple[str, str | None]:
    if request.param == "local":
        return str(tmp_path / "lake"), None
    env = request.getfixturevalue("s3_lake")
    return env["LAKE_ROOT"], env["AWS_ENDPOINT_URL"]


def test_racing_takeovers_of_one_stale_lock_have_one_winner(lake_root) -> None:
    root, endpoint = lake_root
    storage = S3Storage(root, endpoint) if endpoint else LocalStorage(root)
    context = multiprocessing.get_context("fork")
    pid = dead_pid()
    winners = []
    for round_number in range(ROUNDS):
        storage.put(LOCK_KEY, stale_lock(pid))
        start, results = context.Barrier(RACERS), context.Queue()
        racers = [
            context.Process(
                target=race, args=(root, endpoint, f"r{round_number}-{i}", start, results)
            )
            for i in range(RACERS)
        ]
        for racer in racers:
            racer.start()
        outcomes = [results.get(timeout=30) for _ in racers]
        for racer in racers:
            racer.join(timeout=30)
        won = [name for name in outcomes if name is not None]
        assert len(won) == 1, f"round {round_number}: {outcomes}"
        holder = read_lock(storage)
        assert holder is not None and holder.run_id == won[0]
        winners.append(won[0])
    assert len(set(winners)) == ROUNDS


def test_a_live_lock_is_never_replaced(tmp_path) -> None:
    storage = LocalStorage(tmp_path / "lake")
    live = LockInfo("alive", socket.gethostname(), os.getpid(), "now", 0.0, "run-all")
    storage.put(LOCK_KEY, live.to_bytes())
    with pytest.raises(LockHeld, match="is locked by run alive"):
        RunLock(storage, "other", "run-all").acquire()
    assert storage.replace_if_unchanged(LOCK_KEY, b"something else", b"mine") is False
    assert read_lock(storage).run_id == "alive"
