"""Peak RSS of one mock process after a full extraction, for one or more mock trees.

    .venv/bin/python bench/mock_memory.py TREE [TREE ...] [--volume 200] [--days 31]
                                          [--work DIR]

For each tree: `python -m mock_api serve` from it (its directory on PYTHONPATH, one process,
page cache as configured by default) on a free port with the bench's frozen clock and
MOCK_VOLUME, then this repo's `payments-pipeline run-all --days N` against it (a first run:
every stream's window, the events feed, the child lists), then the mock's VmHWM from
/proc/<pid>/status, the largest resident set it reached. The extractor is the same for
every tree, so the figures differ only by the mock's code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import MOCK_NOW, run_measured  # noqa: E402
from tests.support.servers import free_port  # noqa: E402


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def one(tree: Path, volume: int, days: int, work: Path) -> dict:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "MOCK_NOW": MOCK_NOW,
        "MOCK_VOLUME": str(volume),
    }
    command = [sys.executable, "-m", "mock_api", "serve", "--host", "127.0.0.1"]
    with open(work / f"mock-{port}.log", "wb") as log:
        mock = subprocess.Popen(
            [*command, "--port", str(port)], cwd=tree, env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or mock.poll() is not None:
                    raise RuntimeError(f"mock from {tree} did not start") from None
                time.sleep(0.2)
        lake = work / f"lake-{port}"
        extract_env = {
            "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
            "LAKE_ROOT": str(lake),
            "STRIPE_RATE_LIMIT_RPS": "100000",
            "RUN_ID": f"mock-memory-{port}",
        }
        pipeline = str(REPO / ".venv" / "bin" / "payments-pipeline")
        measured = run_measured(
            [pipeline, "run-all", "--days", str(days)], extract_env, log=work / f"x-{port}.log"
        ).check()
        shutil.rmtree(lake, ignore_errors=True)
        return {
            "tree": str(tree),
            "extract_seconds": round(measured.seconds, 1),
            "mock_peak_rss_mib": round(peak_rss_mib(mock.pid), 1),
        }
    finally:
        mock.terminate()
        mock.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", type=Path, nargs="+")
    parser.add_argument("--volume", type=int, default=200, help="MOCK_VOLUME (the default)")
    parser.add_argument("--days", type=int, default=31, help="the whole history at MOCK_NOW")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for tree in args.trees:
        print(one(tree.resolve(), args.volume, args.days, args.work), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
