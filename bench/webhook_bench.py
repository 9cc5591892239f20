"""Loopback load on the webhook receiver vs a hello-world Flask app on the same WSGI server.

    python bench/webhook_bench.py [--requests 2000] [--seconds 10] [--clients 8]

Both servers are real processes on 127.0.0.1 (waitress, 8 threads). The receiver runs the real
`run-webhooks` command on a temporary local lake, so every request is a signed, verified,
fsynced exclusive create of a distinct event. Load is bounded in count and in time and only
ever goes to 127.0.0.1. Prints one JSON object per server and writes them to
bench/results/webhook.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.servers import free_port, start_server  # noqa: E402
from webhook_app.signature import sign_header  # noqa: E402

SECRET = "whsec_bench_only"
THREADS = 8


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


def serve_hello(port: int) -> None:
    import waitress

    waitress.serve(hello_app(), host="127.0.0.1", port=port, threads=THREADS, _quiet=True)


def bodies(count: int) -> list[bytes]:
    created = int(time.time())
    out = []
    for i in range(count):
        event = {
            "id": f"evt_bench{i:08d}",
            "object": "event",
            "type": "charge.succeeded",
            "created": created,
            "data": {"object": {"id": f"ch_bench{i:08d}", "object": "charge", "amount": 1000}},
        }
        out.append(json.dumps(event, indent=2).encode())
    return out


def load(port: int, payloads: list[bytes], clients: int, seconds: float) -> dict:
    """Send each payload once over `clients` keep-alive connections; stop at the time bound."""
    # Signed up front so the clock spent signing is not charged to the server.
    now = int(time.time())
    signed = [(body, sign_header(body, [SECRET], now)) for body in payloads]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(signed)
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        codes: dict[int, int] = {}
        while time.perf_counter() < deadline:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            body, header = item
            start = time.perf_counter()
            connection.request(
                "POST",
                "/webhooks/stripe",
                body=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            codes[response.status] = codes.get(response.status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve-hello", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello(args.serve_hello)
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "LAKE_ROOT": str(Path(tmp) / "lake"),
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "PYTHONPATH": str(REPO_ROOT),
        }
        port = free_port()
        receiver = start_server(
            "webhooks-bench",
            [sys.executable, "-m", "extractor", "run-webhooks", "--port", str(port)],
            port,
            env=env,
            log_dir=Path(tmp),
        )
        try:
            results["webhook_receiver"] = load(
                port, bodies(args.requests), args.clients, args.seconds
            )
            stored = sum(len(files) for _, _, files in os.walk(Path(tmp) / "lake"))
            results["webhook_receiver"]["stored_objects"] = stored
        finally:
            receiver.stop()
        port = free_port()
        hello = start_server(
            "hello-bench",
            [sys.executable, __file__, "--serve-hello", str(port)],
            port,
            env={"PYTHONPATH": str(REPO_ROOT)},
            log_dir=Path(tmp),
        )
        try:
            results["hello_world_flask"] = load(
                port, bodies(args.requests), args.clients, args.seconds
            )
        finally:
            hello.stop()
    results["setup"] = {
        "server": f"waitress, {THREADS} threads, 127.0.0.1",
        "clients": args.clients,
        "max_requests": args.requests,
        "max_seconds": args.seconds,
        "cpus": os.cpu_count(),
    }
    out = REPO_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "webhook.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
