"""The mock API's serving ceiling: records/s paging charges at limit=100 from one tight client.

    .venv/bin/python bench/mock_ceiling.py [--volume 20000] [--pages 200] [--runs 5]

Starts the real mock (waitress) on a free loopback port, pages `/v1/charges` newest first with
a bare `requests.Session` (decode JSON only to find the cursor) and reports the median of
several runs as JSON. The extractor's throughput is compared against this figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from tests.support.servers import start_mock_api  # noqa: E402

KEY = "sk_test_bench"


def page_through(base_url: str, pages: int) -> tuple[int, float]:
    """Fetch up to `pages` pages of 100 charges; (records, seconds)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    records, cursor = 0, None
    started = time.perf_counter()
    for _ in range(pages):
        params = {"limit": 100, **({"starting_after": cursor} if cursor else {})}
        body = session.get(f"{base_url}/v1/charges", params=params, timeout=30).json()
        records += len(body["data"])
        if not body["has_more"]:
            break
        cursor = body["data"][-1]["id"]
    return records, time.perf_counter() - started


def measure(volume: int, pages: int, runs: int) -> dict:
    env = {"MOCK_NOW": "2026-02-01T00:00:00Z", "MOCK_VOLUME": str(volume)}
    server = start_mock_api(env)
    try:
        page_through(server.url, 5)  # warm up
        rates = []
        for _ in range(runs):
            records, seconds = page_through(server.url, pages)
            rates.append(records / seconds)
    finally:
        server.stop()
    return {
        "benchmark": "mock_ceiling",
        "volume_per_day": volume,
        "pages_per_run": pages,
        "runs": runs,
        "records_per_second_median": round(statistics.median(rates), 1),
        "records_per_second_runs": [round(r, 1) for r in rates],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=20_000, help="charges per day")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.volume, args.pages, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
