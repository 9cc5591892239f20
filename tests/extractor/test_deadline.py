"""A server that trickles its answer cannot hold a run: each attempt ends at its deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from extractor.api.client import CallStats, StripeClient
from extractor.api.errors import RetriesExhausted
from extractor.settings import Settings

BODY = b'{"object": "list", "url": "/v1/charges", "has_more": false, "data": []}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


class TrickleServer:
    """Answers every request with RESPONSE, one byte per `pause` seconds after `head` bytes
    sent at once; per-read timeouts never fire, since a byte always arrives in time."""

    def __init__(self, head: int, pause: float = 0.2) -> None:
        self.head, self.pause = head, pause
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(RESPONSE[: self.head])
                for i in range(self.head, len(RESPONSE)):
                    if self.stopped.wait(self.pause):
                        return
                    conn.sendall(RESPONSE[i : i + 1])
            except OSError:
                return

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.fixture(params=[0, len(RESPONSE) - len(BODY)], ids=["trickled-headers", "trickled-body"])
def trickle(request) -> Iterator[TrickleServer]:
    server = TrickleServer(head=request.param)
    yield server
    server.stop()


def test_each_attempt_ends_at_the_request_deadline_then_the_run_fails(trickle) -> None:
    settings = Settings(
        api_base=f"http://127.0.0.1:{trickle.port}",
        request_timeout_seconds=1.0,
        max_retries=1,
        rate_limit_rps=100,
    )
    client = StripeClient(settings, backoff_base=0.01, backoff_cap=0.05)
    started = time.monotonic()
    with pytest.raises(RetriesExhausted) as caught:
        list(client.iter_pages("/v1/charges", {}, CallStats()))
    elapsed = time.monotonic() - started
    client.close()
    # Trickled in full, the answer would take 15-30 s; two 1 s attempts and a short backoff.
    assert elapsed < 5, elapsed
    assert trickle.connections == 2
    message = str(caught.value)
    assert message.startswith(f"GET /v1/charges: http://127.0.0.1:{trickle.port} timed out")
    assert message.endswith("(gave up after 2 attempts)")


def test_a_quick_answer_within_the_deadline_is_read_whole() -> None:
    server = TrickleServer(head=len(RESPONSE))
    try:
        settings = Settings(api_base=f"http://127.0.0.1:{server.port}", rate_limit_rps=100)
        client = StripeClient(settings)
        pages = list(client.iter_pages("/v1/charges", {}, CallStats()))
        client.close()
    finally:
        server.stop()
    assert [(p.has_more, p.items) for p in pages] == [(False, [])]


def big_page(objects: int, has_more: bool = False, first: int = 0) -> bytes:
    ids = range(first, first + objects)
    data = ",".join(f'{{"id": "ch_{i}", "pad": "{"x" * 1000}"}}' for i in ids)
    more = "true" if has_more else "false"
    body = f'{{"object": "list", "has_more": {more}, "data": [{data}]}}'.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut-short"])
def test_a_page_is_read_in_large_reads_and_a_cut_body_is_retried(monkeypatch, cut) -> None:
    """requests reads a body in 10 KiB chunks, each through urllib3 and http.client and a
    deadline check per socket read; the client reads it whole (read_body), so a 1 MB page
    takes a few dozen socket reads, not a hundred. A body cut short of its Content-Length is
    still requests' error, retried, then the run fails naming it."""
    from extractor.api import deadline

    response = big_page(1000)  # ~1 MB
    server = TrickleServer(head=0)  # its _serve replaced: the page at once, or cut short
    monkeypatch.setattr(server, "_serve", lambda conn: _send_and_close(conn, response, cut))
    reads = []
    original = deadline.DeadlineSocket.recv_into
    monkeypatch.setattr(
        deadline.DeadlineSocket,
        "recv_into",
        lambda self, *args: reads.append(1) or original(self, *args),
    )
    try:
        settings = Settings(
            api_base=f"http://127.0.0.1:{server.port}", rate_limit_rps=100, max_retries=1
        )
        client = StripeClient(settings, backoff_base=0.01, backoff_cap=0.05)
        if cut:
            broken = r"broken in transit \(ChunkedEncodingError\).*gave up after 2 attempts"
            with pytest.raises(RetriesExhausted, match=broken):
                list(client.iter_pages("/v1/charges", {}, CallStats()))
            assert server.connections == 2
        else:
            (page,) = list(client.iter_pages("/v1/charges", {}, CallStats()))
            assert [item.id for item in page.items] == [f"ch_{i}" for i in range(1000)]
            assert len(reads) < 50, len(reads)  # 10 KiB reads: over 100
        client.close()
    finally:
        server.stop()


def _send_and_close(conn: socket.socket, response: bytes, cut: bool) -> None:
    with conn:
        conn.recv(65536)
        conn.sendall(response[: len(response) - 1000] if cut else response)


def test_pages_read_whole_reuse_one_keep_alive_connection() -> None:
    """Read with `stream=True`, a body read whole gives its connection back to the pool: the
    pages of one list travel over one connection, as they did without `stream`."""
    pages = [big_page(300, has_more=True), big_page(300, first=300)]
    accepted = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        with conn:
            for response in pages:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                conn.sendall(response)
            conn.recv(1)  # until the client closes it

    threading.Thread(target=serve, daemon=True).start()
    try:
        settings = Settings(api_base=f"http://127.0.0.1:{listener.getsockname()[1]}")
        client = StripeClient(settings)
        got = list(client.iter_pages("/v1/charges", {}, CallStats()))
        client.close()
    finally:
        listener.close()
    assert [len(page.items) for page in got] == [300, 300]
    assert len(accepted) == 1
