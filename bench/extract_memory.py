"""Extractor peak memory as records grow: the same run at N and 10N charges.

    .venv/bin/python bench/extract_memory.py [--small 10000] [--large 100000]

One mock per size with the same per-day volume (large / 10), so the two runs differ only in
how many days they read: `payments-pipeline run-batch --entity charges` over 1 day vs 10 days
(the charge list plus the charge.* events), each a fresh process on an empty lake, rate
limit lifted. Peak RSS is the kernel's for that process (`wait4`). Goal: the large run's peak
within 1.2x of the small one's (memory flat in the number of records).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import MOCK_NOW, cmdline, fmt, run_batch_charges, run_measured, write_result  # noqa: E402
from tests.support.servers import start_mock_api  # noqa: E402


def one(volume: int, days: int, work: Path, label: str) -> dict:
    server = start_mock_api({"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume)}, log_dir=work)
    lake = work / f"lake-{label}"
    try:
        env = {
            "STRIPE_API_BASE": server.url,
            "LAKE_ROOT": str(lake),
            "STRIPE_RATE_LIMIT_RPS": "100000",
            "RUN_ID": f"memory-{label}",
        }
        command = run_batch_charges(days)
        measured = run_measured(command, env, log=work / f"{label}.log").check()
    finally:
        server.stop()
    section = json.loads((lake / "_state" / "manifests" / f"run_memory-{label}.json").read_text())[
        "extract"
    ]
    shutil.rmtree(lake, ignore_errors=True)
    return {
        "days": days,
        "records_written": sum(int(e["records"]) for e in section["entities"].values()),
        "records_received": sum(int(e["records_list"]) for e in section["entities"].values()),
        "seconds": round(measured.seconds, 2),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--name", default="extract_memory")
    args = parser.parse_args()
    days_large = 10
    volume = max(1, args.large // days_large)
    days_small = max(1, args.small // volume)
    work = Path(tempfile.mkdtemp(prefix="extract-memory-"))
    try:
        small = one(volume, days_small, work, "small")
        print(json.dumps(small), file=sys.stderr)
        large = one(volume, days_large, work, "large")
        print(json.dumps(large), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
    rows = [
        {
            "benchmark": f"Extractor peak memory, {args.small:,} vs {args.large:,} charges "
            "(run-batch charges: list + charge events)",
            "figure": f"{fmt(large['peak_rss_mib'])} MiB at {large['records_written']:,} records "
            f"({large['seconds']:.0f} s)",
            "baseline": f"{fmt(small['peak_rss_mib'])} MiB at {small['records_written']:,} "
            f"records ({small['seconds']:.0f} s)",
            "ratio": ratio,
            "goal": "≤ 1.2× (flat as records grow)",
            "met": ratio <= 1.2,
            "peak_rss_mib": large["peak_rss_mib"],
            "command": cmdline(),
        }
    ]
    write_result(args.name, rows, {"small": small, "large": large, "volume_per_day": volume})
    return 0


if __name__ == "__main__":
    sys.exit(main())
