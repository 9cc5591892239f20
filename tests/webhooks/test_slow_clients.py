"""Slow and idle clients against the real `run-webhooks` server (issue 16).

Before the read deadline, ~100 sockets per worker that sent part of a request's headers and
waited filled waitress's connection limit for minutes (its idle sweep: 120 s, every 30 s),
and a valid delivery waited in the kernel's backlog: on one worker, 110 such sockets made a
signed delivery time out after 8 s. These tests open 250 of them (2.5x) on one worker.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.webhooks.conftest import SECRET, body_of, make_event, server_env, stored_keys
from webhook_app.signature import sign_header

pytestmark = pytest.mark.integration

IDLE_CONNECTIONS = 250
READ_TIMEOUT = 3  # seconds (the default is 10): room for 250 connects and 10 deliveries
PARTIAL_REQUEST = b"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def open_half_open(port: int, count: int) -> list[socket.socket]:
    """`count` connections that each sent part of a request's headers, then wait."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(PARTIAL_REQUEST)
        sock.setblocking(False)  # a timeout socket would wait inside recv(MSG_DONTWAIT)
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed `sock` (EOF or reset); never blocks (non-blocking)."""
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def deliver(port: int, event_id: str, timeout: float) -> tuple[int, dict, float]:
    """One signed delivery on a new connection: (status, JSON body, seconds taken)."""
    body = body_of(make_event(event_id, created=int(time.time()) - 5))
    header = sign_header(body, [SECRET], int(time.time()))
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/webhooks/stripe", body=body, headers={
            "Stripe-Signature": header, "Content-Type": "application/json"})  # fmt: skip
        response = connection.getresponse()
        return response.status, json.loads(response.read()), time.monotonic() - started
    finally:
        connection.close()


def timed_out_count(log_text: str) -> int:
    lines = [json.loads(x) for x in log_text.splitlines() if "webhook_connections_timed_out" in x]
    return sum(line["connections"] for line in lines)


def test_valid_deliveries_are_served_among_idle_half_open_connections_which_time_out(
    start_webhook_server, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    server = start_webhook_server(str(lake), "--workers", "1", "--read-timeout", str(READ_TIMEOUT))
    opened_at = time.monotonic()
    idle = open_half_open(server.port, IDLE_CONNECTIONS)
    # A trickler is never silent for long, so only the deadline (not idleness) can close it.
    trickler = open_half_open(server.port, 1)[0]

    answers = [deliver(server.port, f"evt_among_idle_{i}", timeout=5) for i in range(10)]
    assert [(status, body) for status, body, _ in answers] == [
        (200, {"received": True, "duplicate": False})
    ] * 10
    assert max(seconds for _, _, seconds in answers) < 1.5
    assert sorted(key.rsplit("/", 1)[1] for key in stored_keys(lake)) == sorted(
        f"evt_among_idle_{i}.json" for i in range(10)
    )
    # Served while every idle connection was still open: the deadline had not passed.
    assert time.monotonic() - opened_at < READ_TIMEOUT
    assert not any(closed_by_server(sock) for sock in idle)

    closed_at: float | None = None
    trickler_open = True
    deadline = opened_at + READ_TIMEOUT + 5
    while time.monotonic() < deadline:
        if trickler_open:
            trickler.sendall(b"X")  # one header byte every 0.2 s: never idle
            trickler_open = not closed_by_server(trickler)
        if not trickler_open and all(closed_by_server(sock) for sock in idle):
            closed_at = time.monotonic()
            break
        time.sleep(0.2)
    assert closed_at is not None, "idle connections still open 5 s after the read timeout"
    assert closed_at - opened_at >= READ_TIMEOUT - 0.5  # closed by the deadline, not before
    while time.monotonic() < deadline + READ_TIMEOUT and timed_out_count(server.log_text()) < 251:
        time.sleep(0.2)
    assert timed_out_count(server.log_text()) == IDLE_CONNECTIONS + 1
    for sock in [*idle, trickler]:
        sock.close()
    # And the server still serves afterwards.
    assert deliver(server.port, "evt_after_idle", timeout=5)[0] == 200


def test_connections_over_the_limit_wait_at_most_about_the_read_timeout(
    start_webhook_server, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    server = start_webhook_server(
        str(lake), "--workers", "1", "--read-timeout", str(READ_TIMEOUT),
        "--connection-limit", "20",
    )  # fmt: skip
    idle = open_half_open(server.port, 30)  # the kernel's backlog holds those over the limit
    status, body, seconds = deliver(server.port, "evt_over_the_limit", timeout=READ_TIMEOUT + 8)
    assert (status, body) == (200, {"received": True, "duplicate": False})
    # It waited for slots that the deadline freed: bounded, instead of minutes.
    assert seconds < READ_TIMEOUT + 4
    assert [key.rsplit("/", 1)[1] for key in stored_keys(lake)] == ["evt_over_the_limit.json"]
    for sock in idle:
        sock.close()


def test_a_read_timeout_of_zero_is_refused(tmp_path: Path) -> None:
    result = run_cli(
        "run-webhooks", "--port", "1", "--read-timeout", "0",
        env=server_env(str(tmp_path / "lake")), timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--connection-limit and --read-timeout must be at least 1 (got 1000, 0)" in result.stderr
    assert not (tmp_path / "lake").exists()
