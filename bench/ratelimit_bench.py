"""The extractor against a mock rate-limited to 25 req/s: sustained rate and 429s.

    .venv/bin/python bench/ratelimit_bench.py [--rps 25] [--seconds 20] [--runs 3]

The mock enforces a token bucket of `--rps` requests/s (burst = rps, its default) and answers
429 with Retry-After past it. The extractor runs `run-batch --entity charges` with
STRIPE_RATE_LIMIT_RPS set to the same limit and pages of 10 (so the limit binds, not the
mock's rendering), over enough charges for about `--seconds` of requests at that rate.
Sustained rate = the requests the mock served (not 429) after the first second divided by
the time they span, both from the mock's request log (the first second, where the client's
and the mock's buckets both spend their burst, would flatter it); 429s come from the
extractor's own `api_retry` log lines. The first second is counted from the start of the
burst: the first request after the last pause long enough to refill both buckets (burst/rps
seconds), not from the first request. The extractor's first request is a lone
`GET /v1/events?limit=1` for the server's clock, then 1-4 s of start-up before the run's
requests; counted from that request, the "first second" ended before the burst began, and the
whole burst (~rps extra requests) was counted as sustained rate (26.14 req/s at 25 before
2026-12-01).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from bench.harness import (  # noqa: E402
    MOCK_NOW,
    cmdline,
    fmt,
    median,
    run_batch_charges,
    run_measured,
    write_result,
)
from tests.support.servers import start_mock_api  # noqa: E402

REQUEST_LOG_SIZE = 2000  # mock_api.control.RequestLog keeps this many
# Small pages, so that the limit binds and not the mock's rendering speed (about 25 pages of
# 100 charges per second on this machine): this measures the client's pacing.
PAGE_LIMIT = 10


def one_run(rps: float, seconds: float, work: Path, n: int) -> dict:
    days = 2
    # run-batch charges pages the charge list and the charge.* events (about 3.7 requests per
    # page of charges at this size): size the data for about `seconds` of requests at the limit.
    pages = rps * seconds
    volume = max(1, int(pages * PAGE_LIMIT / 4.7 / days))
    faults = {"rate_limit": {"rps": rps, "burst": rps}}
    server = start_mock_api(
        {"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume), "MOCK_FAULTS": json.dumps(faults)},
        log_dir=work,
    )
    lake = work / f"lake-{n}"
    try:
        env = {
            "STRIPE_API_BASE": server.url,
            "LAKE_ROOT": str(lake),
            "STRIPE_RATE_LIMIT_RPS": str(rps),
            "STRIPE_PAGE_LIMIT": str(PAGE_LIMIT),
            "RUN_ID": f"ratelimit-{n}",
        }
        command = run_batch_charges(days)
        measured = run_measured(command, env, log=work / f"run-{n}.log").check()
        entries = requests.get(
            f"{server.url}/_mock/requests", params={"limit": REQUEST_LOG_SIZE}, timeout=10
        ).json()["data"]
    finally:
        server.stop()
    times = sorted(e["at"] for e in entries if e["path"].startswith("/v1/"))
    if len(times) >= REQUEST_LOG_SIZE:
        raise RuntimeError("the run outgrew the mock's request log; lower --seconds")
    retries_429 = []
    for line in measured.stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "api_retry" and "429" in str(record.get("error", "")):
            retries_429.append(datetime.fromisoformat(record["ts"]).timestamp())
    shutil.rmtree(lake, ignore_errors=True)
    return {
        **rates(times, retries_429, rps, burst=rps),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "wall_seconds": round(measured.seconds, 3),
    }


def rates(times: list[float], retries_429: list[float], rps: float, burst: float) -> dict:
    """Sustained rate and 429 counts from the request times (every request the mock logged,
    429s included) and the times of the client's 429 retries, all unix seconds.

    Both token buckets are full again after a pause of burst/rps seconds, so the burst starts
    at the first request after the last such pause (the first request if there is none);
    the second from there is left out of the sustained rate and of the late 429s.
    """
    times = sorted(times)
    first, last = times[0], times[-1]
    refill = burst / rps
    start = first
    for before, after in zip(times, times[1:], strict=False):
        if after - before >= refill:
            start = after
    steady = [t for t in times if t > start + 1.0]
    steady_429 = sum(1 for t in retries_429 if t > start + 1.0)
    served = len(times) - len(retries_429)
    return {
        "requests": len(times),
        "served": served,
        "status_429": len(retries_429),
        "status_429_after_first_second": steady_429,
        "status_429_seconds_after_burst_start": [round(t - start, 3) for t in sorted(retries_429)],
        "burst_start_seconds": round(start - first, 3),
        "span_seconds": round(last - first, 3),
        # n requests span n - 1 intervals: the first steady request opens the span.
        "sustained_rps": (len(steady) - 1 - steady_429) / (last - steady[0]),
        "rps_including_first_second": served / (last - first),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", type=float, default=25.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--name", default="ratelimit")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ratelimit-bench-"))
    try:
        runs = []
        for n in range(args.runs):
            runs.append(one_run(args.rps, args.seconds, work, n))
            print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rate = median([r["sustained_rps"] for r in runs])
    late_429 = sum(r["status_429_after_first_second"] for r in runs)
    all_429 = sum(r["status_429"] for r in runs)
    share = rate / args.rps
    rows = [
        {
            "benchmark": f"Extraction under the mock's {fmt(args.rps)} req/s rate limit "
            f"(charges, ~{fmt(args.seconds)} s of requests per run)",
            "figure": f"{fmt(rate, 2)} req/s sustained (runs "
            + " / ".join(fmt(r["sustained_rps"], 2) for r in runs)
            + f"); 429s after the first second: {late_429} (all 429s: {all_429})",
            "baseline": f"the limit: {fmt(args.rps)} req/s",
            "ratio": share,
            "goal": "≥ 0.95× the limit, no 429 after the first second",
            "met": share >= 0.95 and late_429 == 0,
            "peak_rss_mib": median([r["peak_rss_mib"] for r in runs]),
            "command": cmdline(),
        }
    ]
    write_result(args.name, rows, {"rps": args.rps, "seconds": args.seconds, "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
