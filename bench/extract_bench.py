"""Extraction throughput: records/s for N charges, next to the server's own ceiling.

    .venv/bin/python bench/extract_bench.py [--charges 100000] [--workers 4]
                                            [--api-base URL --days D]

Without --api-base it serves N realistic charges from the test server
(tests/extractor/fake_stripe.py) in a separate process on loopback. The "ceiling" is the
same pages fetched by bare `requests` (`.json()` only, for the cursor) with the same
concurrency and nothing written:
what the server and the socket allow. The extractor figure is a full `run-batch` of charges
(raw slicing, envelope, parts on a local lake, manifest, watermark), rate limit lifted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from extractor.client import StripeClient  # noqa: E402
from extractor.runner import Extraction, Plan  # noqa: E402
from extractor.settings import DEFAULT_API_KEY, Secret, Settings  # noqa: E402
from extractor.windows import Window, split  # noqa: E402

NOW = 1767916800
SERVER = """
import sys, time
from tests.extractor.fake_stripe import FakeStripe
n, now = int(sys.argv[1]), int(sys.argv[2])
fake = FakeStripe(now)
span = 86400 * 30
for i in range(n):
    created = now - span + (i * span) // n
    fake.add("/v1/charges", {
        "id": f"ch_{i:024d}", "created": created, "amount": 1000 + i % 5000,
        "amount_captured": 1000 + i % 5000, "amount_refunded": 0, "currency": "usd",
        "customer": f"cus_{i % 997:014d}", "description": "Bench charge", "captured": True,
        "paid": True, "refunded": False, "disputed": False, "livemode": False,
        "status": "succeeded", "payment_intent": f"pi_{i:024d}",
        "payment_method": f"pm_{i:024d}", "balance_transaction": f"txn_{i:024d}",
        "billing_details": {"address": {"city": "Berlin", "country": "DE", "line1": None,
                            "line2": None, "postal_code": "10115", "state": None},
                            "email": f"user{i}@example.com", "name": "Jenny Rosen",
                            "phone": None},
        "metadata": {"order_id": str(i)}, "outcome": {"network_status": "approved_by_network",
        "reason": None, "risk_level": "normal", "risk_score": 32, "seller_message":
        "Payment complete.", "type": "authorized"},
        "payment_method_details": {"card": {"brand": "visa", "country": "US",
        "exp_month": 8, "exp_year": 2030, "funding": "credit", "last4": "4242"},
        "type": "card"}, "receipt_url": f"https://pay.example.com/receipts/{i}",
    })
fake._sorted("/v1/charges")
print(fake.url, flush=True)
time.sleep(3600)
"""


def ceiling(api_base: str, window: Window, workers: int) -> tuple[int, float]:
    """Fetch every page with bare requests, same slicing, no parsing: records, seconds."""
    session = requests.Session()
    # The same key the extractor sends by default (the mock checks it; the fake server does not).
    session.headers["Authorization"] = f"Bearer {DEFAULT_API_KEY}"
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=workers * 2)
    session.mount("http://", adapter)

    def fetch(w: Window) -> int:
        count, cursor = 0, None
        while True:
            params = {**w.params(), "limit": 100}
            if cursor:
                params["starting_after"] = cursor
            body = session.get(f"{api_base}/v1/charges", params=params, timeout=30).json()
            count += len(body["data"])
            if not body["has_more"]:
                return count
            cursor = body["data"][-1]["id"]

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(fetch, split(window, workers, 3600)))
    return total, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--api-base", help="an already running API (e.g. the mock)")
    parser.add_argument("--days", type=int, default=31)
    args = parser.parse_args()

    server = None
    api_base = args.api_base
    if api_base is None:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(args.charges), str(NOW)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        api_base = server.stdout.readline().strip()
    try:
        settings = Settings(
            api_base=api_base,
            api_key=Secret("sk_test_bench"),
            lake_root=tempfile.mkdtemp(prefix="extract-bench-"),
            rate_limit_rps=100_000,
            max_workers=args.workers,
            page_limit=100,
        )
        client = StripeClient(settings)
        run_start = client.server_time()
        window = Window(run_start - args.days * 86400, run_start)
        ceiling_records, ceiling_seconds = ceiling(api_base, window, args.workers)
        plan = Plan("run-batch", ("charges",), False, days=args.days)
        start = time.perf_counter()
        section = Extraction(settings, plan, "bench", client=client).execute()
        seconds = time.perf_counter() - start
        records = section["entities"]["charges"]["records"]
        result = {
            "records": records,
            "extract_seconds": round(seconds, 2),
            "extract_records_per_s": round(records / seconds),
            "ceiling_records": ceiling_records,
            "ceiling_seconds": round(ceiling_seconds, 2),
            "ceiling_records_per_s": round(ceiling_records / ceiling_seconds),
            "workers": args.workers,
            "pages": section["entities"]["charges"]["pages"],
            "bronze_bytes": section["totals"]["bytes"],
            "files": section["totals"]["files"],
        }
        print(json.dumps(result, indent=2))
        return 0 if records == ceiling_records else 1
    finally:
        if server is not None:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
