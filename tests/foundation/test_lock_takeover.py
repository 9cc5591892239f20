"""Taking over a dead run's lock is one conditional write: of processes racing to take the
same stale lock, exactly one wins, every time, on local disk and on S3 (moto).

S3 makes a conditional put (If-Match) atomic; moto_server does not: it checks the ETag, then
writes, on several threads, so two racers can both pass the check under load and the test
would measure moto. The S3 case therefore runs against moto served one request at a time
(still real HTTP from separate processes), where the check and the write cannot interleave.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from extractor.lake.lock import LOCK_KEY, LockHeld, LockInfo, RunLock, read_lock
from extractor.lake.storage import LocalStorage, S3Storage, Storage
from tests.conftest import MOTO_ENV
from tests.support.servers import free_port

SERIAL_MOTO = (
    "import sys; from werkzeug.serving import run_simple; "
    "from moto.server import DomainDispatcherApplication, create_backend_app; "
    "run_simple('127.0.0.1', int(sys.argv[1]), "
    "DomainDispatcherApplication(create_backend_app), threaded=False)"
)

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


@pytest.fixture
def serial_moto(monkeypatch) -> Iterator[str]:
    """A moto S3 endpoint that serves one request at a time; yields its URL."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERIAL_MOTO, str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError("the serial moto server did not start") from None
                time.sleep(0.2)
        for key, value in MOTO_ENV.items():
            monkeypatch.setenv(key, value)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(params=["local", "s3"])
def lake_root(request, tmp_path) -> tuple[str, str | None]:
    if request.param == "local":
        return str(tmp_path / "lake"), None
    import boto3

    url = request.getfixturevalue("serial_moto")
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/lake", url


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
