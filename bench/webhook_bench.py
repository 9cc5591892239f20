"""Webhook receiver under loopback load, vs a hello-world Flask app on the same WSGI server.

    .venv/bin/python bench/webhook_bench.py [--seconds 60] [--clients 16] [--threads N]
                                            [--runs 1]

Both servers are real processes on 127.0.0.1 (waitress with the receiver's default thread
count unless --threads). The receiver runs the real `run-webhooks` command on a temporary
local lake, so every delivery is signature-verified and answered 200 only after its event file
and directory entry are fsynced (exclusive create). Every event is delivered twice (2x
duplicate delivery, shuffled, so copies of one event often race each other): afterwards each
event id must be stored exactly once, and exactly one of its two deliveries must have been
answered `duplicate: false`. Load: `--clients` keep-alive connections sending back to back for
`--seconds`, only ever to 127.0.0.1. Events/s counts deliveries answered 200 per second.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.harness import cmdline, fmt, median, write_result  # noqa: E402
from tests.support.servers import free_port, start_server  # noqa: E402
from webhook_app.serve import DEFAULT_THREADS  # noqa: E402
from webhook_app.signature import sign_header  # noqa: E402

SECRET = "whsec_bench_only"
PREFIX = "bronze/source=stripe/entity=webhook_events"


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


def serve_hello(port: int, threads: int) -> None:
    import waitress

    waitress.serve(hello_app(), host="127.0.0.1", port=port, threads=threads, _quiet=True)


def deliveries(count: int, run: int) -> list[tuple[str, bytes, str]]:
    """`count` distinct signed events, each twice, shuffled: (id, body, header)."""
    now = int(time.time())
    out = []
    for i in range(count):
        event_id = f"evt_bench{run:02d}x{i:08d}"
        event = {
            "id": event_id,
            "object": "event",
            "type": "charge.succeeded",
            "created": now,
            "data": {"object": {"id": f"ch_bench{i:08d}", "object": "charge", "amount": 1000}},
        }
        body = json.dumps(event, indent=2).encode()
        header = sign_header(body, [SECRET], now)
        out += [(event_id, body, header), (event_id, body, header)]
    random.Random(run).shuffle(out)
    return out


def load(port: int, items: list[tuple[str, bytes, str]], clients: int, seconds: float) -> dict:
    """Send items in order over `clients` keep-alive connections until done or time is up."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    first_copies: dict[str, int] = {}  # id -> deliveries answered duplicate=false
    answered: dict[str, int] = {}
    lock = threading.Lock()
    cursor = iter(items)
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        codes: dict[int, int] = {}
        fresh: list[str] = []
        seen: list[str] = []
        while time.perf_counter() < deadline:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            event_id, body, header = item
            start = time.perf_counter()
            connection.request(
                "POST",
                "/webhooks/stripe",
                body=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            payload = response.read()
            mine.append(time.perf_counter() - start)
            codes[response.status] = codes.get(response.status, 0) + 1
            if response.status == 200:
                seen.append(event_id)
                if json.loads(payload).get("duplicate") is False:
                    fresh.append(event_id)
        connection.close()
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n
            for event_id in fresh:
                first_copies[event_id] = first_copies.get(event_id, 0) + 1
            for event_id in seen:
                answered[event_id] = answered.get(event_id, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    ok = statuses.get(200, 0)
    return {
        "requests": len(latencies),
        "ok": ok,
        "seconds": round(elapsed, 3),
        "per_second": ok / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": statuses,
        "first_copies": first_copies,
        "answered": answered,
    }


def stored_ids(lake: Path) -> list[str]:
    folder = lake / PREFIX
    return [
        name[: -len(".json")]
        for _, _, files in os.walk(folder)
        for name in files
        if name.endswith(".json") and not name.startswith(".")
    ]


def receiver_run(args: argparse.Namespace, threads: int, run: int, tmp: Path) -> dict:
    lake = tmp / f"lake-{run}"
    env = {"LAKE_ROOT": str(lake), "STRIPE_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(REPO_ROOT)}
    port = free_port()
    server = start_server(
        "webhooks-bench",
        [
            sys.executable,
            "-m",
            "extractor",
            "run-webhooks",
            "--port",
            str(port),
            "--threads",
            str(threads),
        ],
        port,
        env=env,
        log_dir=tmp,
    )
    items = deliveries(int(args.max_rate * args.seconds / 2), run)
    try:
        result = load(port, items, args.clients, args.seconds)
    finally:
        server.stop()
    ids = stored_ids(lake)
    answered, first = result.pop("answered"), result.pop("first_copies")
    # Only events whose every delivery was sent can be judged (the time bound may cut a pair).
    sent = Counter(event_id for event_id, _, _ in items[: result["requests"]])
    both = {event_id for event_id, n in sent.items() if n == 2}
    lost = [e for e in answered if e not in set(ids)]
    doubled = len(ids) - len(set(ids))
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


def hello_run(args: argparse.Namespace, threads: int, run: int, tmp: Path) -> dict:
    port = free_port()
    server = start_server(
        "hello-bench",
        [sys.executable, __file__, "--serve-hello", str(port), "--threads", str(threads)],
        port,
        env={"PYTHONPATH": str(REPO_ROOT)},
        log_dir=tmp,
    )
    items = deliveries(int(args.max_rate * args.seconds / 2), 100 + run)
    try:
        result = load(port, items, args.clients, args.seconds)
    finally:
        server.stop()
    result.pop("answered")
    result.pop("first_copies")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="waitress threads")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--max-rate", type=float, default=4000, help="deliveries prepared per second of load"
    )
    parser.add_argument("--name", default="webhook")
    parser.add_argument("--serve-hello", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello(args.serve_hello, args.threads)
        return 0
    receivers, hellos = [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for run in range(args.runs):
            receivers.append(receiver_run(args, args.threads, run, tmp))
            print(json.dumps(receivers[-1]), file=sys.stderr)
            hellos.append(hello_run(args, args.threads, run, tmp))
            print(json.dumps(hellos[-1]), file=sys.stderr)

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
            f"delivered twice; waitress {args.threads} threads",
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
        "seconds": args.seconds,
        "exactly_once": exact,
    }
    write_result(args.name, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
