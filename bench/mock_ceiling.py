"""The mock API's serving ceiling: records/s paging charges at limit=100, before vs after.

    .venv/bin/python bench/mock_ceiling.py [--volume 20000] [--pages 200] [--runs 3]
                                           [--connections 4] [--workers 2]

Two real mocks on free loopback ports, one after the other, each paged by the same tight
client (`--connections` threads, one keep-alive `requests.Session` each, `.json()` only to
find the cursor, nothing written):

- before: `serve` as it was (one process) with the page cache off (`MOCK_PAGE_CACHE_MB=0`),
  so every page is rendered;
- after: `serve --workers N` with the page cache on (the default).

Each mock is measured twice, `--runs` rounds each: *first pass*, every round on charges no
earlier round asked for (each connection its own day, `created[lt]` a day apart), so every
page is rendered; *repeat*, every round the last first-pass round's pages again, on the same
connections (each sticks to one worker process, whose cache holds its pages), as a rerun of
the same extraction asks. Figures are medians of the rounds; Stripe's live read ceiling,
100 requests/s of 100 objects, is the goal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from bench.harness import MOCK_NOW, MOCK_NOW_TS, cmdline, fmt, write_result  # noqa: E402
from tests.support.servers import start_mock_api  # noqa: E402

KEY = "sk_test_bench"
DAY = 86_400
STRIPE_LIVE_CEILING = 10_000  # 100 read requests/s x 100 objects


def page_through(session: requests.Session, base_url: str, before: int, pages: int) -> int:
    """Page up to `pages` pages of 100 charges created before `before`; records received."""
    records, cursor = 0, None
    for _ in range(pages):
        params = {"limit": 100, "created[lt]": before}
        if cursor:
            params["starting_after"] = cursor
        body = session.get(f"{base_url}/v1/charges", params=params, timeout=60).json()
        records += len(body["data"])
        if not body["has_more"]:
            break
        cursor = body["data"][-1]["id"]
    return records


def one_round(
    sessions: list[requests.Session], base_url: str, days: list[int], pages: int
) -> float:
    """Connection c pages `pages` pages from day `days[c]` back; records/s of them all."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(sessions)) as pool:
        records = sum(
            pool.map(
                lambda c: page_through(sessions[c], base_url, MOCK_NOW_TS - days[c] * DAY, pages),
                range(len(sessions)),
            )
        )
    return records / (time.perf_counter() - started)


def measure(volume: int, pages: int, runs: int, connections: int, workers: int, cache: bool):
    env = {"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume)}
    if not cache:
        env["MOCK_PAGE_CACHE_MB"] = "0"
    server = start_mock_api(env, workers=workers)
    sessions = []
    for _ in range(connections):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {KEY}"
        sessions.append(session)
    per_connection = max(1, pages // connections)
    try:
        page_through(sessions[0], server.url, MOCK_NOW_TS, 5)  # warm up (ledger, imports)
        first, repeat = [], []
        for n in range(runs):
            days = [1 + n * connections + c for c in range(connections)]
            first.append(one_round(sessions, server.url, days, per_connection))
        for _ in range(runs):
            repeat.append(one_round(sessions, server.url, days, per_connection))
    finally:
        server.stop()
    return {
        "workers": workers,
        "page_cache": cache,
        "first_pass_records_per_s": [round(r, 1) for r in first],
        "repeat_records_per_s": [round(r, 1) for r in repeat],
        "first_pass_median": statistics.median(first),
        "repeat_median": statistics.median(repeat),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=20_000, help="charges per day")
    parser.add_argument("--pages", type=int, default=200, help="pages of 100 per round")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="the fast mock's processes")
    parser.add_argument("--name", default="mock_ceiling")
    args = parser.parse_args()
    if args.runs * args.connections >= 30:
        parser.error("--runs x --connections must stay under 30 (a day each, in January)")
    shape = (args.volume, args.pages, args.runs, args.connections)
    before = measure(*shape, workers=1, cache=False)
    after = measure(*shape, workers=args.workers, cache=True)

    def runs_text(side: dict, key: str) -> str:
        return " / ".join(fmt(r) for r in side[key])

    client = f"{args.connections} keep-alive connections, limit=100, {args.pages} pages a round"
    rows = []
    for label, key in (("first pass (every page rendered)", "first_pass"), ("repeat", "repeat")):
        rate = after[f"{key}_median"]
        rows.append(
            {
                "benchmark": f"Mock API ceiling, {label}: `serve --workers {args.workers}`, "
                f"page cache on; charges, {client}",
                "figure": f"{fmt(rate)} records/s "
                f"(runs {runs_text(after, key + '_records_per_s')})",
                "baseline": f"one process, no page cache (as before): "
                f"{fmt(before[key + '_median'])} records/s; Stripe's live ceiling "
                f"{STRIPE_LIVE_CEILING:,}/s",
                "ratio": rate / STRIPE_LIVE_CEILING,
                "goal": f"≥ {STRIPE_LIVE_CEILING:,} records/s (1.00× Stripe's)",
                "met": rate >= STRIPE_LIVE_CEILING,
                "peak_rss_mib": None,
                "command": cmdline(),
            }
        )
    details = {**vars(args), "before": before, "after": after}
    write_result(args.name, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
