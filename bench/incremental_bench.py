"""Incremental cost: a 1% follow-up run vs the full first run, end to end.

    .venv/bin/python bench/incremental_bench.py [--charges 10000] [--days 5] [--share 0.01]

One mock (clock frozen at MOCK_NOW, `--charges` over `--days`), one empty local lake. Run 1 is
`payments-pipeline run-pipeline --days D` (extract every entity, dbt build of Silver and Gold
with its tests = the gate, source freshness). Then the mock's clock moves on so that the
follow-up window (from the watermark minus the 600 s safety window to the new now) spans
`--share` of the first run's; run 2 is the same command on the same lake: new objects plus
the updates (events) in that window. Run 3 is the same command again with the clock where it
was: nothing new, only the safety window read again (ADR 0057; goal: ≤ 5 s end to end).
All are fresh processes measured end to end; the ratio is run 2 / run 1. The records each
run received come from its manifest.
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

import requests  # noqa: E402

from bench.harness import MOCK_NOW, cmdline, fmt, run_measured, write_result  # noqa: E402
from tests.support.servers import start_mock_api  # noqa: E402

DAY = 86_400
SAFETY_SECONDS = 600


def manifest(lake: Path, run_id: str) -> dict:
    return json.loads((lake / "_state" / "manifests" / f"run_{run_id}.json").read_text())


def received(document: dict) -> int:
    return sum(int(e["records_list"]) for e in document["extract"]["entities"].values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--name", default="incremental")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="incremental-bench-"))
    volume = max(1, args.charges // args.days)
    server = start_mock_api({"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume)}, log_dir=work)
    lake = work / "lake"
    runs = {}
    try:
        base_env = {
            "STRIPE_API_BASE": server.url,
            "LAKE_ROOT": str(lake),
            "STRIPE_RATE_LIMIT_RPS": "100000",
            "EXTRACT_MAX_WORKERS": str(args.workers),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # The full run is a first run on a new machine: it runs dbt's unit tests, whatever
            # earlier builds here recorded (ADR 0059).
            "PIPELINE_UNIT_TEST_RECORD": str(work / "unit-tests-passed"),
        }
        command = [str(REPO / ".venv" / "bin" / "payments-pipeline"), "run-pipeline"]
        labels = (("full", "bench-full"), ("incremental", "bench-incr"), ("quiet", "bench-quiet"))
        for label, run_id in labels:
            if label == "incremental":
                advance = max(1, int(args.share * args.days * DAY) - SAFETY_SECONDS)
                requests.post(f"{server.url}/_mock/clock", json={"advance": advance}, timeout=10)
            argv = [*command, "--days", str(args.days)]
            measured = run_measured(argv, {**base_env, "RUN_ID": run_id}, log=work / f"{label}.log")
            document = manifest(lake, run_id)
            runs[label] = {
                "exit_code": measured.returncode,
                "seconds": round(measured.seconds, 2),
                "peak_rss_mib": round(measured.peak_rss_mib, 1),
                "records_received": received(document),
                # dbt build (models + the gate's tests) and the freshness check, from the
                # manifest; the rest of the run is extraction and process start-up.
                "transform_seconds": (document.get("transform") or {}).get("elapsed_seconds"),
                "transform_mode": ((document.get("transform") or {}).get("fold") or {}).get("mode"),
                "freshness_seconds": (
                    ((document.get("quality") or {}).get("freshness") or {}).get("elapsed_seconds")
                ),
                "model_seconds": {
                    m["name"]: m["seconds"]
                    for m in (document.get("transform") or {}).get("models", [])
                },
                "stderr_tail": measured.stderr[-800:] if measured.returncode else "",
            }
            print(json.dumps(runs[label]), file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    full, incr, quiet = runs["full"], runs["incremental"], runs["quiet"]
    ratio = incr["seconds"] / full["seconds"]
    share = incr["records_received"] / full["records_received"]
    ok = full["exit_code"] == 0 and incr["exit_code"] == 0
    quiet_ok = quiet["exit_code"] == 0
    rows = [
        {
            "benchmark": f"Incremental: run-pipeline (extract + dbt build + gate) after "
            f"{share:.1%} new/updated records, on a {args.charges:,}-charge lake",
            "figure": f"{incr['seconds']:.1f} s ({incr['records_received']:,} records received)",
            "baseline": f"full first run: {full['seconds']:.1f} s "
            f"({full['records_received']:,} records)"
            + ("" if ok else f"; exit codes {full['exit_code']}/{incr['exit_code']}"),
            "ratio": ratio,
            "goal": "≤ 0.10× the full run",
            "met": ok and ratio <= 0.10,
            "peak_rss_mib": max(full["peak_rss_mib"], incr["peak_rss_mib"]),
            "command": cmdline(),
        },
        {
            "benchmark": "Incremental: run-pipeline with nothing new (the safety window read "
            f"again, unchanged), on the same {args.charges:,}-charge lake",
            "figure": f"{quiet['seconds']:.1f} s ({quiet['records_received']:,} records "
            f"received, transform {quiet['transform_seconds'] or 0:.1f} s)",
            "baseline": f"full first run: {full['seconds']:.1f} s"
            + ("" if quiet_ok else f"; exit code {quiet['exit_code']}"),
            "ratio": quiet["seconds"] / full["seconds"],
            "goal": "≤ 5 s end to end",
            "met": quiet_ok and quiet["seconds"] <= 5.0,
            "peak_rss_mib": quiet["peak_rss_mib"],
            "command": cmdline(),
        },
    ]
    details = {"charges": args.charges, "days": args.days, "share": args.share, "runs": runs}
    details["records_share"] = share
    write_result(args.name, rows, details)
    print(f"incremental/full = {fmt(ratio, 2)}", file=sys.stderr)
    return 0 if ok and quiet_ok else 1


if __name__ == "__main__":
    sys.exit(main())
