"""Webhook receiver under loopback load, vs a hello-world Flask app on the same WSGI server.

    .venv/bin/python bench/webhook_bench.py [--seconds 60] [--clients 16] [--workers N]
                                            [--threads N] [--client-processes 2] [--runs 1]
                                            [--idle-connections 0]

Both servers are real processes on 127.0.0.1 with the same process model: `--workers`
waitress processes (default: run-webhooks' own default, one per CPU) on one listening socket,
`--threads` threads each. The receiver runs the real `run-webhooks` command on a temporary
local lake, so every delivery is signature-verified and answered 200 only after its event file
and directory entry are fsynced (exclusive create). Every event is delivered twice (2x
duplicate delivery, shuffled within a window of 32 deliveries, so the two copies of an event
are in flight together on different connections and race each other): afterwards each event
id must be stored exactly once, and exactly one of its two deliveries must have been answered
`duplicate: false`.

Load: `--clients` keep-alive connections sending back to back for `--seconds`, only ever to
127.0.0.1, spread over `--client-processes` processes. The client is deliberately lean (each
request's bytes, signature included, are built before the clock starts and sent with one
`sendall` on a raw socket; the response is read by its Content-Length) so that on a 2-core
machine it takes as little CPU as possible from the server it measures; the hello-world
baseline gets the same client and the same deliveries. Events/s counts deliveries answered
200 per second; latency is from the request's first byte sent to the response's last byte.

`--idle-connections N` (issue 16): during each load, N more connections to the server under
test each send part of a request's headers and wait, and every one the server closes (its
read timeout) is opened again at once, so N are held open for the whole run.
"""

from __future__ import annotations

import argparse
import hmac
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.harness import cmdline, fmt, median, write_result  # noqa: E402
from extractor.lake import layout  # noqa: E402
from tests.support.cli import cli_command  # noqa: E402
from tests.support.servers import free_port, start_server  # noqa: E402
from webhook_app.serve import DEFAULT_THREADS, default_workers  # noqa: E402

SECRET = "whsec_bench_only"
PREFIX = layout.bronze_entity(layout.WEBHOOK_ENTITY)
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
CONNECTION_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)

Delivery = tuple[str, bytes]  # (event id, the whole HTTP request)
RACE_WINDOW = 32  # deliveries shuffled together: about two per connection


def hello_app():
    from flask import Flask

    app = Flask(__name__)

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.post("/webhooks/stripe")
    def hello() -> dict:
        return {"hello": "world"}

    return app


def serve_hello(port: int, threads: int, workers: int) -> int:
    """The baseline on the receiver's own process model (webhook_app.serve)."""
    from webhook_app.serve import listen, serve, supervise

    sock = listen("127.0.0.1", port)
    if workers == 1:
        serve(hello_app(), sock, threads, 1024 * 1024)
        return 0
    return supervise(workers, lambda: serve(hello_app(), sock, threads, 1024 * 1024) or 0, sock)


def http_request(body: bytes, header: str) -> bytes:
    head = (
        "POST /webhooks/stripe HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Stripe-Signature: {header}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def deliveries(count: int, run: int, window: int = RACE_WINDOW) -> list[Delivery]:
    """`count` distinct signed events, each twice: (id, request bytes).

    Shuffled within consecutive windows of `window` deliveries, so the two copies of an event
    are sent close together (usually at the same time, on different connections: they race)
    and nearly every event sent in a time-bounded run gets both of its deliveries.
    """
    now = int(time.time())
    rng = random.Random(run)
    # One pretty-printed event as a template (json.dumps per event took ~14 s for 120,000 on
    # this machine); only the two ids change, and each body is signed on its own.
    template = json.dumps(
        {
            "id": "@EVENT@",
            "object": "event",
            "type": "charge.succeeded",
            "created": now,
            "data": {"object": {"id": "@CHARGE@", "object": "charge", "amount": 1000}},
        },
        indent=2,
    )
    template = template.replace("%", "%%").replace("@EVENT@", "%s").replace("@CHARGE@", "%s")
    key = SECRET.encode()
    prefix = f"{now}.".encode()
    out: list[Delivery] = []
    for i in range(count):
        event_id = f"evt_bench{run:02d}x{i:08d}"
        body = (template % (event_id, f"ch_bench{i:08d}")).encode()
        signature = hmac.digest(key, prefix + body, "sha256").hex()
        request = http_request(body, f"t={now},v1={signature}")
        out += [(event_id, request), (event_id, request)]
    for start in range(0, len(out), window):
        block = out[start : start + window]
        rng.shuffle(block)
        out[start : start + window] = block
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection: send prepared bytes, read one response."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = self._connect()
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._recv()
        head = buffer[:end]
        match = CONTENT_LENGTH.search(head)
        total = end + 4 + (int(match.group(1)) if match else 0)
        while len(buffer) < total:
            buffer += self._recv()
        self.buffer = buffer[total:]
        if CONNECTION_CLOSE.search(head):
            self.reconnect()
        return int(head[9:12]), buffer[end + 4 : total]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def reconnect(self) -> None:
        self.sock.close()
        self.sock = self._connect()
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()


# The deliveries of the current load, set before the client processes fork (not pickled).
_ITEMS: list[Delivery] = []


def _client_process(
    port: int, share: int, shares: int, connections: int, start_at: float, seconds: float, out
) -> None:
    """One client process: `connections` threads over its share of _ITEMS until the deadline."""
    items = _ITEMS[share::shares]
    cursor = iter(items)
    lock = threading.Lock()
    results: list[tuple[list[float], Counter, list[str], list[str], list[str]]] = []
    deadline = start_at + seconds

    def worker() -> None:
        connection = Connection(port)
        latencies: list[float] = []
        codes: Counter = Counter()
        sent: list[str] = []
        fresh: list[str] = []
        seen: list[str] = []
        while time.monotonic() < deadline:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            event_id, request = item
            sent.append(event_id)
            start = time.perf_counter()
            try:
                status, body = connection.exchange(request)
            except OSError:
                status, body = 0, b""
                connection.reconnect()
            latencies.append(time.perf_counter() - start)
            codes[status] += 1
            if status == 200:
                seen.append(event_id)
                if json.loads(body).get("duplicate") is False:
                    fresh.append(event_id)
        connection.close()
        with lock:
            results.append((latencies, codes, sent, fresh, seen))

    time.sleep(max(0.0, start_at - time.monotonic()))
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = time.monotonic()
    merged: dict = {"latencies": [], "statuses": Counter(), "sent": [], "fresh": [], "seen": []}
    for latencies, codes, sent, fresh, seen in results:
        merged["latencies"] += latencies
        merged["statuses"].update(codes)
        merged["sent"] += sent
        merged["fresh"] += fresh
        merged["seen"] += seen
    merged["finished"] = finished
    out.put(merged)


def load(port: int, items: list[Delivery], clients: int, seconds: float, processes: int) -> dict:
    """Send items over `clients` keep-alive connections in `processes` processes."""
    global _ITEMS
    _ITEMS = items
    processes = max(1, min(processes, clients))
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.monotonic() + 0.5  # every process starts sending at the same instant
    children = [
        context.Process(
            target=_client_process,
            args=(
                port,
                p,
                processes,
                clients // processes + (p < clients % processes),
                start_at,
                seconds,
                out,
            ),
        )  # fmt: skip
        for p in range(processes)
    ]
    for child in children:
        child.start()
    parts = [out.get() for _ in children]
    for child in children:
        child.join()
    _ITEMS = []
    elapsed = max(part["finished"] for part in parts) - start_at
    latencies = sorted(x for part in parts for x in part["latencies"])
    statuses: Counter = Counter()
    for part in parts:
        statuses.update(part["statuses"])
    ok = statuses.get(200, 0)
    return {
        "requests": len(latencies),
        "ok": ok,
        "seconds": round(elapsed, 3),
        "per_second": ok / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "client_processes": processes,
        "sent": Counter(e for part in parts for e in part["sent"]),
        "first_copies": Counter(e for part in parts for e in part["fresh"]),
        "answered": Counter(e for part in parts for e in part["seen"]),
    }


class IdleConnections:
    """Holds `count` half-open connections to 127.0.0.1:port, reopening those the server
    closes, until stopped; `reopened` counts the reopenings."""

    PARTIAL = b"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\n"

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.sockets = [self._open() for _ in range(count)]
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self._thread.start()

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(self.PARTIAL)
        sock.setblocking(False)
        return sock

    def _hold(self) -> None:
        while not self._stop.wait(0.2):
            for i, sock in enumerate(self.sockets):
                try:
                    closed = sock.recv(1) == b""
                except BlockingIOError:
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    sock.close()
                    self.sockets[i] = self._open()
                    self.reopened += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def held_load(port: int, items: list[Delivery], args: argparse.Namespace) -> dict:
    """`load`, with `--idle-connections` half-open connections held open meanwhile."""
    idle = IdleConnections(port, args.idle_connections) if args.idle_connections else None
    try:
        result = load(port, items, args.clients, args.seconds, args.client_processes)
    finally:
        if idle is not None:
            idle.close()
    result["idle_connections"] = args.idle_connections
    result["idle_reopened"] = idle.reopened if idle is not None else 0
    return result


def stored_ids(lake: Path) -> list[str]:
    folder = lake / PREFIX
    return [
        name[: -len(".json")]
        for _, _, files in os.walk(folder)
        for name in files
        if name.endswith(".json") and not name.startswith(".")
    ]


def receiver_run(args: argparse.Namespace, run: int, tmp: Path) -> dict:
    lake = tmp / f"lake-{run}"
    env = {"LAKE_ROOT": str(lake), "STRIPE_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(REPO_ROOT)}
    port = free_port()
    items = deliveries(int(args.max_rate * args.seconds / 2), run)
    server = start_server(
        "webhooks-bench",
        cli_command("run-webhooks", "--port", str(port),
                    "--threads", str(args.threads), "--workers", str(args.workers)),
        port,
        env=env,
        log_dir=tmp,
    )  # fmt: skip
    try:
        result = held_load(port, items, args)
    finally:
        server.stop()
    ids = stored_ids(lake)
    unique_ids = set(ids)
    answered, first = result.pop("answered"), result.pop("first_copies")
    # Only events whose every delivery was sent can be judged (the time bound may cut a pair).
    sent = result.pop("sent")
    both = {event_id for event_id, n in sent.items() if n == 2}
    lost = [e for e in answered if e not in unique_ids]
    doubled = len(ids) - len(unique_ids)
    wrong_first = [e for e in both if answered.get(e) == 2 and first.get(e, 0) != 1]
    result.update(
        {
            "unique_events_acknowledged": len(answered),
            "stored_files": len(ids),
            "lost": len(lost),
            "doubled_files": doubled,
            "events_with_both_copies_acknowledged": sum(1 for e in both if answered.get(e) == 2),
            "not_exactly_one_first_copy": len(wrong_first),
        }
    )
    return result


def hello_run(args: argparse.Namespace, run: int, tmp: Path) -> dict:
    port = free_port()
    items = deliveries(int(args.max_rate * args.seconds / 2), 100 + run)
    server = start_server(
        "hello-bench",
        [sys.executable, __file__, "--serve-hello", str(port), "--threads", str(args.threads),
         "--workers", str(args.workers)],
        port,
        env={"PYTHONPATH": str(REPO_ROOT)},
        log_dir=tmp,
    )  # fmt: skip
    try:
        result = held_load(port, items, args)
    finally:
        server.stop()
    for key in ("answered", "first_copies", "sent"):
        result.pop(key)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="waitress threads per worker"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="server processes, for both servers (default: run-webhooks' default, one per CPU)",
    )
    parser.add_argument(
        "--client-processes", type=int, default=2, help="load generator processes (default 2)"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--max-rate", type=float, default=4000, help="deliveries prepared per second of load"
    )
    parser.add_argument(
        "--idle-connections",
        type=int,
        default=0,
        help="half-open connections held open against each server during the load",
    )
    parser.add_argument("--name", default="webhook")
    parser.add_argument("--serve-hello", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        return serve_hello(args.serve_hello, args.threads, args.workers)
    receivers, hellos = [], []
    tmp = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    try:
        for run in range(args.runs):
            receivers.append(receiver_run(args, run, tmp))
            print(json.dumps(receivers[-1]), file=sys.stderr)
            hellos.append(hello_run(args, run, tmp))
            print(json.dumps(hellos[-1]), file=sys.stderr)
    finally:
        # A 60 s run leaves ~25,000 event files; unlinking them took ~50 s on this shared
        # disk, so they are removed by a detached `rm -rf` rather than inside the benchmark.
        subprocess.Popen(
            ["rm", "-rf", str(tmp)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    rate = median([r["per_second"] for r in receivers])
    p50 = median([r["p50_ms"] for r in receivers])
    p99 = median([r["p99_ms"] for r in receivers])
    hello_rate = median([r["per_second"] for r in hellos])
    hello_p99 = median([r["p99_ms"] for r in hellos])
    lost = sum(r["lost"] for r in receivers)
    doubled = sum(r["doubled_files"] for r in receivers)
    wrong = sum(r["not_exactly_one_first_copy"] for r in receivers)
    failed = sum(r["requests"] - r["ok"] for r in receivers)
    exact = lost == 0 and doubled == 0 and wrong == 0 and failed == 0
    rows = [
        {
            "benchmark": f"Webhook receiver: signed, verified, fsynced exclusive create; "
            f"{fmt(args.seconds)} s loopback load, {args.clients} connections, every event "
            f"delivered twice; {args.workers} waitress "
            f"{'process' if args.workers == 1 else 'processes'} x {args.threads} threads"
            + (
                f"; {args.idle_connections} idle half-open connections held open throughout "
                "(reopened as the read timeout closes them)"
                if args.idle_connections
                else ""
            ),
            "figure": f"{fmt(rate)} events/s, p50 {fmt(p50, 1)} ms, p99 {fmt(p99, 1)} ms; "
            f"{receivers[0]['unique_events_acknowledged']:,} events acknowledged, "
            f"{receivers[0]['stored_files']:,} stored, lost {lost}, doubled {doubled}, "
            f"non-200 {failed}",
            "baseline": f"hello-world Flask, same server and load: {fmt(hello_rate)} req/s, "
            f"p99 {fmt(hello_p99, 1)} ms",
            "ratio": rate / hello_rate,
            "goal": "≥ 1,000 events/s, p99 ≤ 50 ms, nothing lost or doubled",
            "met": rate >= 1000 and p99 <= 50 and exact,
            "peak_rss_mib": None,
            "command": cmdline(),
        }
    ]
    details = {
        "receiver_runs": receivers,
        "hello_runs": hellos,
        "clients": args.clients,
        "threads": args.threads,
        "workers": args.workers,
        "client_processes": args.client_processes,
        "seconds": args.seconds,
        "idle_connections": args.idle_connections,
        "exactly_once": exact,
    }
    write_result(args.name, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
