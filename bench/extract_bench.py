"""Extraction throughput against the real mock: extractor vs the mock's ceiling vs dlt.

    .venv/bin/python bench/extract_bench.py [--charges 20000] [--days 5] [--runs 3]
                                            [--workers 4] [--mock-workers 2] [--no-dlt]

One mock (`python -m mock_api serve --workers 2`: two waitress processes on one socket, each
with its page cache, loopback) serves `--charges` charges over `--days` days (`MOCK_VOLUME` =
charges/days, clock frozen at MOCK_NOW), plus the customers, payment intents (1:1), invoices
and events the mock derives from them. Before the rounds, one uncounted ceiling pass and one
uncounted extractor run (which also lists the children) fill the page cache, so every round
reads pages already rendered, and no round pays for rendering that another does not (the
first pass's rate is `bench/mock_ceiling.py`'s). Each round, in order:

1. ceiling: a tight client in this process (`requests` reading HTTP as the extractor's client
   does: proxy settings read once, each body read whole; `.json()` only to find the next
   cursor, nothing written) pages exactly the lists the extractor will page (same window
   slices per entity, the events feed with the same four type filters) over the same number
   of connections: what the mock and the socket allow;
2. extractor: `payments-pipeline run-all --days D` as a fresh process on an empty local lake
   (rate limit lifted): every record parsed, enveloped and written as Bronze JSONL with
   manifest and watermarks; wall time is the whole process, start-up included;
3. dlt: `bench/dlt_peer.py` in `bench/.venv-dlt` (dlt's REST API source, same resources, same
   mock, jsonl files on local disk), wall time of the whole process too.

Figures are medians over rounds; ratios compare medians of the same invocation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from bench.harness import (  # noqa: E402
    MOCK_NOW,
    MOCK_NOW_TS,
    cmdline,
    fmt,
    median,
    run_measured,
    write_result,
)
from extractor.api.client import read_body, read_environment_once  # noqa: E402
from extractor.extract.plan import first_run_start  # noqa: E402
from extractor.extract.run import MIN_SLICE_SECONDS  # noqa: E402
from extractor.extract.windows import Window, split  # noqa: E402
from extractor.settings import DEFAULT_API_KEY  # noqa: E402
from extractor.streams import WATERMARKED_STREAMS, event_type_filters  # noqa: E402
from tests.support.servers import start_mock_api  # noqa: E402

DAY = 86_400
DLT_PY = REPO / "bench" / ".venv-dlt" / "bin" / "python"


def list_tasks(window: Window, workers: int) -> list[tuple[str, dict]]:
    """The (path, params) lists the extractor pages for a first run over `window`: every
    listed stream (a catalog's whole history) and the events feed. Not the child lists (one
    per payout, per invoice with more lines than it embeds) nor the balance snapshot, which
    depend on what the lists return; the extractor's records include them."""
    tasks = []
    for stream in WATERMARKED_STREAMS:
        filters = event_type_filters() if stream.is_change_feed else (None,)
        days = window.seconds // DAY
        listed = Window(first_run_start(stream, window.lt, days), window.lt)
        for piece in split(listed, workers, MIN_SLICE_SECONDS):
            for type_filter in filters:
                params = {**piece.params(), **dict(stream.list_params)}
                if type_filter:
                    params["type"] = type_filter
                tasks.append((stream.path, params))
    return tasks


def ceiling(api_base: str, window: Window, workers: int) -> tuple[int, float]:
    """Page every list with a bare client over `workers` connections: (records, seconds).
    It reads HTTP as the extractor's client does (the environment's proxy settings read once,
    each body read whole: `extractor.api.client`), so the ceiling is not lowered by costs the
    extractor no longer pays."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {DEFAULT_API_KEY}"
    adapter = requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=workers)
    session.mount("http://", adapter)
    read_environment_once(session, api_base)

    def fetch(task: tuple[str, dict]) -> int:
        path, params = task
        count, cursor = 0, None
        while True:
            query = {**params, "limit": 100}
            if cursor:
                query["starting_after"] = cursor
            response = session.get(f"{api_base}{path}", params=query, timeout=60, stream=True)
            read_body(response)
            response.raise_for_status()
            body = response.json()
            count += len(body["data"])
            if not body["has_more"] or not body["data"]:
                return count
            cursor = body["data"][-1]["id"]

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(fetch, list_tasks(window, workers)))
    return total, time.perf_counter() - start


def manifest_records(lake: Path) -> tuple[dict[str, int], int]:
    """Records received from the API per list (what the ceiling and dlt count), and written.

    Written is larger: the extractor also files each event's object under its entity.
    """
    manifests = sorted((lake / "_state" / "manifests").glob("run_*.json"))
    section = json.loads(manifests[-1].read_text())["extract"]
    listed = {name: int(e["records_list"]) for name, e in section["entities"].items()}
    return listed, sum(int(e["records"]) for e in section["entities"].values())


def extractor_run(api_base: str, days: int, workers: int, work: Path, n: int) -> dict:
    lake = work / f"lake-{n}"
    env = {
        "STRIPE_API_BASE": api_base,
        "LAKE_ROOT": str(lake),
        "STRIPE_RATE_LIMIT_RPS": "100000",
        "EXTRACT_MAX_WORKERS": str(workers),
        "RUN_ID": f"bench-{n}",
    }
    command = [str(REPO / ".venv" / "bin" / "payments-pipeline"), "run-all", "--days", str(days)]
    measured = run_measured(command, env, log=work / f"extract-{n}.log").check()
    by_entity, written = manifest_records(lake)
    records = sum(by_entity.values())
    bronze = sum(p.stat().st_size for p in (lake / "bronze").rglob("*") if p.is_file())
    shutil.rmtree(lake, ignore_errors=True)
    return {
        "records": records,
        "by_entity": by_entity,
        "records_written": written,
        "seconds": round(measured.seconds, 3),
        "records_per_s": records / measured.seconds,
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "bronze_bytes": bronze,
    }


def dlt_run(api_base: str, window: Window, work: Path, n: int, parallelized: bool) -> dict:
    out = work / f"dlt-{n}"
    command = [
        str(DLT_PY),
        str(REPO / "bench" / "dlt_peer.py"),
        "--api-base",
        api_base,
        "--gte",
        str(window.gte),
        "--lt",
        str(window.lt),
        "--out",
        str(out),
    ]
    if parallelized:
        command.append("--parallelized")
    measured = run_measured(command, log=work / f"dlt-{n}.log").check()
    report = json.loads(measured.stdout.strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    return {
        **report,
        "seconds": round(measured.seconds, 3),
        "records_per_s": report["records"] / measured.seconds,
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--mock-workers", type=int, default=2, help="the mock's processes (serve --workers)"
    )
    parser.add_argument("--no-dlt", action="store_true", help="skip the dlt peer")
    parser.add_argument(
        "--dlt-sequential",
        action="store_true",
        help="dlt extracts its resources one after the other (default: parallelized)",
    )
    parser.add_argument("--name", default="extract", help="result file bench/results/NAME.json")
    args = parser.parse_args()
    use_dlt = not args.no_dlt
    if use_dlt and not DLT_PY.exists():
        parser.error(f"{DLT_PY} is missing: `make bench-dlt-venv` creates it (or --no-dlt)")

    volume = max(1, args.charges // args.days)
    work = Path(tempfile.mkdtemp(prefix="extract-bench-"))
    server = start_mock_api(
        {"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume)}, log_dir=work, workers=args.mock_workers
    )
    window = Window(MOCK_NOW_TS - args.days * DAY, MOCK_NOW_TS)
    rounds = []
    try:
        # Uncounted: render every page once (the extractor's run also renders the child
        # lists, which the ceiling does not page), so every round reads rendered pages.
        warm_up = {
            "ceiling": ceiling(server.url, window, args.workers),
            "extractor_seconds": extractor_run(server.url, args.days, args.workers, work, -1)[
                "seconds"
            ],
        }
        print(json.dumps({"warm_up": warm_up}), file=sys.stderr)
        for n in range(args.runs):
            records, seconds = ceiling(server.url, window, args.workers)
            one = {"ceiling": {"records": records, "seconds": round(seconds, 3)}}
            one["ceiling"]["records_per_s"] = records / seconds
            one["extractor"] = extractor_run(server.url, args.days, args.workers, work, n)
            if use_dlt:
                one["dlt"] = dlt_run(server.url, window, work, n, not args.dlt_sequential)
            rounds.append(one)
            print(json.dumps(one), file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    def med(side: str, key: str) -> float:
        return median([r[side][key] for r in rounds])

    ext_rate = med("extractor", "records_per_s")
    ceil_rate = med("ceiling", "records_per_s")
    ext_records = rounds[0]["extractor"]["records"]
    command = cmdline()
    size = (
        f"{args.charges:,} charges + other resources ({ext_records:,} records), "
        f"{args.workers} workers; mock `serve --workers {args.mock_workers}`"
    )
    runs = " / ".join(fmt(r["extractor"]["records_per_s"]) for r in rounds)
    rows = [
        {
            "benchmark": f"Extraction vs mock ceiling: {size}",
            "figure": f"{fmt(ext_rate)} records/s (runs {runs})",
            "baseline": f"tight loopback client, same lists, {args.workers} connections: "
            f"{fmt(ceil_rate)} records/s",
            "ratio": ext_rate / ceil_rate,
            "goal": "≥ 0.8×",
            "met": ext_rate / ceil_rate >= 0.8,
            "peak_rss_mib": med("extractor", "peak_rss_mib"),
            "command": command,
        }
    ]
    details = {
        "charges": args.charges,
        "days": args.days,
        "mock_volume_per_day": volume,
        "workers": args.workers,
        "mock_workers": args.mock_workers,
        "warm_up": warm_up,
        "rounds": rounds,
        "medians": {"extractor_records_per_s": ext_rate, "ceiling_records_per_s": ceil_rate},
    }
    if use_dlt:
        dlt_rate = med("dlt", "records_per_s")
        dlt_runs = " / ".join(fmt(r["dlt"]["records_per_s"]) for r in rounds)
        mode = "sequential" if args.dlt_sequential else "parallelized"
        rows.append(
            {
                "benchmark": f"Extraction vs dlt {rounds[0]['dlt']['dlt_version']} REST API "
                f"source ({mode} resources, jsonl to local files): {size}",
                "figure": f"{fmt(ext_rate)} records/s",
                "baseline": f"dlt: {fmt(dlt_rate)} records/s (runs {dlt_runs}; "
                f"{rounds[0]['dlt']['records']:,} records; peak RSS "
                f"{fmt(med('dlt', 'peak_rss_mib'))} MiB)",
                "ratio": ext_rate / dlt_rate,
                "goal": "≥ 3×",
                "met": ext_rate / dlt_rate >= 3,
                "peak_rss_mib": med("extractor", "peak_rss_mib"),
                "command": command,
            }
        )
        details["medians"]["dlt_records_per_s"] = dlt_rate
    write_result(args.name, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
