"""`run-webhooks --workers N`: N waitress processes on one port under a supervisor.

Real servers on free loopback ports: deliveries and their duplicates spread over the worker
processes are still stored exactly once; SIGTERM stops every worker and exits 0; a worker that
dies on its own takes the server down with a non-zero exit; a killed supervisor leaves no
worker behind. Plus the storage rule that makes cross-process duplicates safe, and the
throttle on waitress's per-request queue warning.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from extractor.lake.storage import LocalStorage, tempfiles
from tests.support.servers import ServerProcess
from tests.webhooks.conftest import SECRET, body_of, make_event, stored_keys
from webhook_app.serve import ThrottledWarnings, listen, make_server
from webhook_app.signature import sign_header


def log_lines(server: ServerProcess, event: str) -> list[dict]:
    return [
        json.loads(line)
        for line in server.log_text().splitlines()
        if line.startswith("{") and f'"event":"{event}"' in line
    ]


def wait_for(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def worker_pids(server: ServerProcess, count: int) -> list[int]:
    wait_for(lambda: len(log_lines(server, "webhook_worker_started")) >= count, "workers")
    return [line["pid"] for line in log_lines(server, "webhook_worker_started")]


def deliver(url: str, body: bytes, header: str | None = None) -> requests.Response:
    """One delivery on a new connection, so the kernel may hand it to either worker."""
    header = header or sign_header(body, [SECRET], int(time.time()))
    return requests.post(
        f"{url}/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": header, "Connection": "close"},
        timeout=30,
    )


@pytest.mark.integration
def test_deliveries_and_duplicates_across_workers_are_stored_exactly_once(
    start_webhook_server, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    server = start_webhook_server(str(lake), "--workers", "2", "--threads", "4")
    assert len(worker_pids(server, 2)) == 2
    now = int(time.time())
    events = [make_event(f"evt_workers{i:03d}", created=now - 10) for i in range(60)]
    # Each event twice, the copies next to each other: eight senders take them in order, so
    # the two copies are usually in flight at the same time, on different connections.
    queue = [body_of(event) for event in events for _ in range(2)]
    answers: list[tuple[str, int, dict]] = []
    lock = threading.Lock()

    def sender() -> None:
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            response = deliver(server.url, body)
            with lock:
                answers.append((json.loads(body)["id"], response.status_code, response.json()))

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 120
    assert {status for _, status, _ in answers} == {200}
    fresh = Counter(event_id for event_id, _, answer in answers if not answer["duplicate"])
    assert fresh == Counter({event["id"]: 1 for event in events})
    keys = stored_keys(lake)
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == sorted(f"{e['id']}.json" for e in events)
    # Both workers took deliveries (one process could not have logged both pids).
    captured = log_lines(server, "webhook_captured")
    assert len(captured) == 120
    assert len({line["pid"] for line in captured}) == 2
    # Refusals are the same whichever worker answers.
    forged = deliver(server.url, body_of(events[0]), header=f"t={now},v1={'0' * 64}")
    assert forged.status_code == 400
    assert forged.json()["error"] == "signature_mismatch"


@pytest.mark.integration
def test_sigterm_stops_every_worker_and_exits_zero(start_webhook_server, tmp_path: Path) -> None:
    server = start_webhook_server(str(tmp_path / "lake"), "--workers", "2")
    pids = worker_pids(server, 2)
    assert deliver(server.url, body_of(make_event(created=int(time.time())))).status_code == 200
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=20) == 0
    assert not any(alive(pid) for pid in pids)
    exited = log_lines(server, "webhook_worker_exited")
    assert sorted(line["worker_pid"] for line in exited) == sorted(pids)
    assert {line["exit_code"] for line in exited} == {0}
    assert log_lines(server, "webhook_server_stopped")[-1]["exit_code"] == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/health", timeout=2)


@pytest.mark.integration
def test_a_worker_dying_stops_the_server_with_a_nonzero_exit(
    start_webhook_server, tmp_path: Path
) -> None:
    server = start_webhook_server(str(tmp_path / "lake"), "--workers", "2")
    victim, other = worker_pids(server, 2)
    os.kill(victim, signal.SIGKILL)
    assert server.process.wait(timeout=20) == 1
    assert not alive(other)
    died = log_lines(server, "webhook_worker_died")
    assert [(line["worker_pid"], line["exit_code"]) for line in died] == [(victim, -9)]
    assert died[0]["level"] == "error"


@pytest.mark.integration
def test_a_killed_supervisor_leaves_no_worker_serving(start_webhook_server, tmp_path: Path) -> None:
    server = start_webhook_server(str(tmp_path / "lake"), "--workers", "2")
    pids = worker_pids(server, 2)
    server.kill()
    wait_for(lambda: not any(alive(pid) for pid in pids), "the workers to die with the supervisor")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/health", timeout=2)


@pytest.mark.integration
def test_one_worker_serves_in_process(start_webhook_server, tmp_path: Path) -> None:
    server = start_webhook_server(str(tmp_path / "lake"), "--workers", "1")
    assert deliver(server.url, body_of(make_event(created=int(time.time())))).status_code == 200
    started = log_lines(server, "webhook_server_started")
    assert started[0]["workers"] == 1 and started[0]["pid"] == server.process.pid
    assert log_lines(server, "webhook_worker_started") == []
    assert {line["pid"] for line in log_lines(server, "webhook_captured")} == {server.process.pid}


def test_a_duplicate_in_another_process_writes_nothing_but_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two storages on one lake stand for two worker processes (each its own DirectorySync).

    The second copy finds the first one's name, writes no inode of its own, and still returns
    only after an fsync of the folder that it started itself: the first copy's entry may not
    have been synced yet by the other process.
    """
    first, second = LocalStorage(tmp_path), LocalStorage(tmp_path)
    assert first.put_if_absent("d/evt_1.json", b"first")
    synced: list[Path] = []
    monkeypatch.setattr(tempfiles, "fsync_dir", synced.append)

    def no_write(*_args: object) -> bool:
        raise AssertionError("a duplicate must not write a new inode")

    monkeypatch.setattr(second, "_link_new", no_write)
    assert second.put_if_absent("d/evt_1.json", b"second") is False
    assert synced == [tmp_path / "d"]
    assert (tmp_path / "d" / "evt_1.json").read_bytes() == b"first"


def test_queue_warning_is_passed_once_per_interval_with_the_count_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    throttled = ThrottledWarnings(logging.getLogger("test.queue"), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.queue"):
        throttled.warning("Task queue depth is %d", 1)
        now[0] = 105.0
        throttled.warning("Task queue depth is %d", 2)
        throttled.warning("Task queue depth is %d", 3)
        now[0] = 110.0
        throttled.warning("Task queue depth is %d", 4)
    assert [r.getMessage() for r in caplog.records] == [
        "Task queue depth is 1",
        "Task queue depth is 4",
    ]
    assert [r.fields for r in caplog.records] == [{}, {"similar_lines_dropped": 2}]


def test_the_servers_queue_warnings_go_through_the_throttle(tmp_path: Path) -> None:
    """Guards the waitress attribute the throttle replaces, should waitress rename it."""
    import inspect

    from waitress.task import ThreadedTaskDispatcher

    sock = listen("127.0.0.1", 0)
    server = make_server(lambda environ, start_response: [], sock, 1, 1024)
    try:
        assert isinstance(server.task_dispatcher.queue_logger, ThrottledWarnings)
        assert "self.queue_logger.warning(" in inspect.getsource(ThreadedTaskDispatcher.add_task)
    finally:
        server.close()


@pytest.mark.integration
def test_a_port_in_use_is_refused_with_a_message(tmp_path: Path) -> None:
    from tests.support.cli import run_cli
    from tests.webhooks.conftest import server_env

    taken = listen("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        result = run_cli(
            "run-webhooks",
            "--port",
            str(port),
            "--workers",
            "2",
            env={**os.environ, **server_env(str(tmp_path / "lake"))},
            timeout=30,
        )
    finally:
        taken.close()
    assert result.returncode == 2
    assert f"refusing to start: cannot listen on 127.0.0.1:{port}: Address already in use" in (
        result.stderr
    )
