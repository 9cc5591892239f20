"""`make bench`: run every benchmark as a fresh process, then rewrite docs/benchmarks.md.

    .venv/bin/python bench/run_all.py [--only NAME ...] [size options]

Order: the mock's own ceiling (before vs after its fast serving), extraction (ceiling,
extractor, dlt), the run at Stripe's live 100 req/s limit, extractor memory, dbt vs the
DuckDB script, dbt-core's own floor at the project's node count, the incremental run,
webhooks, webhooks while 250 idle half-open connections are held open. Each writes
bench/results/<name>.json; its output goes to bench/results/logs/<name>.log. A benchmark
that fails is reported as failed in the table and the others still run. The defaults are
sized to take about 15-17 minutes on the project's 2-core machine; every size is an option
(see --help), and the doc's command column shows the exact command of each row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import RESULTS  # noqa: E402
from bench.report import ORDER, render  # noqa: E402

PY = sys.executable


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    return {
        "mock_ceiling": [PY, "bench/mock_ceiling.py", "--runs", str(args.runs)],
        "extract": [
            PY,
            "bench/extract_bench.py",
            "--charges",
            str(args.extract_charges),
            "--days",
            str(args.extract_days),
            "--runs",
            str(args.runs),
        ],
        "ratelimit": [
            PY,
            "bench/ratelimit_bench.py",
            "--rps",
            str(args.ratelimit_rps),
            "--seconds",
            str(args.ratelimit_seconds),
            "--runs",
            str(args.runs),
        ],
        "extract_memory": [
            PY,
            "bench/extract_memory.py",
            "--small",
            str(args.memory_small),
            "--large",
            str(args.memory_large),
        ],
        "dbt": [
            PY,
            "bench/dbt_bench.py",
            "--charges",
            str(args.dbt_charges),
            "--runs",
            str(args.dbt_runs),
            "--no-dbt-run",
            "--out",
            "bench/results/dbt_bench.json",
        ],
        # dbt-core's own floor at the project's node count, read against the dbt row's
        # allowance (bench/results/dbt_bench.json, written just before).
        "dbt_floor": [PY, "bench/dbt_floor.py", "--runs", str(args.dbt_runs)],
        "incremental": [
            PY,
            "bench/incremental_bench.py",
            "--charges",
            str(args.incremental_charges),
        ],
        "webhook": [
            PY,
            "bench/webhook_bench.py",
            "--seconds",
            str(args.webhook_seconds),
            "--runs",
            str(args.webhook_runs),
        ],
        # Issue 16: the same load while slow clients hold half-open connections.
        "webhook_idle": [
            PY,
            "bench/webhook_bench.py",
            "--seconds",
            str(args.webhook_idle_seconds),
            "--idle-connections",
            str(args.webhook_idle_connections),
            "--name",
            "webhook_idle",
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=ORDER, help="run these benchmarks only")
    parser.add_argument(
        "--runs", type=int, default=3, help="rounds for mock ceiling, extraction, rate limit"
    )
    parser.add_argument("--extract-charges", type=int, default=10_000)
    parser.add_argument("--extract-days", type=int, default=5)
    # Stripe's live read limit (issue 19 goal 4); 10 s of requests keeps a run inside the
    # mock's 2,000-entry request log.
    parser.add_argument("--ratelimit-rps", type=float, default=100)
    parser.add_argument("--ratelimit-seconds", type=float, default=10)
    parser.add_argument("--memory-small", type=int, default=5_000)
    parser.add_argument("--memory-large", type=int, default=50_000)
    parser.add_argument("--dbt-charges", type=int, default=20_000)
    parser.add_argument("--dbt-runs", type=int, default=3)
    parser.add_argument("--incremental-charges", type=int, default=10_000)
    parser.add_argument("--webhook-seconds", type=float, default=60)
    parser.add_argument("--webhook-runs", type=int, default=1)
    parser.add_argument("--webhook-idle-seconds", type=float, default=15)
    parser.add_argument("--webhook-idle-connections", type=int, default=250)
    args = parser.parse_args()

    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    failed: dict[str, str] = {}
    started = time.monotonic()
    for name, command in commands(args).items():
        if args.only and name not in args.only:
            continue
        began = time.monotonic()
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        with open(logs / f"{name}.log", "wb") as log:
            done = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        took = time.monotonic() - began
        if done.returncode != 0:
            failed[name] = f"exit {done.returncode}, see bench/results/logs/{name}.log"
            (RESULTS / f"{name}.json").unlink(missing_ok=True)
        print(f"   {'FAILED: ' + failed[name] if name in failed else 'ok'} ({took:.0f} s)")
    total = time.monotonic() - started
    meta = {"failed": failed, "total_seconds": total, "argv": sys.argv[1:]}
    (RESULTS / "run_all.json").write_text(json.dumps(meta, indent=2) + "\n")
    render(failed=failed, total_seconds=total, argv=sys.argv[1:])
    print(f"docs/benchmarks.md rewritten; {total / 60:.1f} min in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
