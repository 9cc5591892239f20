"""Shared pieces of the benchmarks: measured child processes, medians, result files.

Every measured command runs as a fresh child process; its wall time comes from a monotonic
clock around it and its peak memory from the kernel's accounting for that child
(`os.wait4`, `ru_maxrss`: the largest resident set of the child or any descendant it waited
for). Each benchmark writes `bench/results/<name>.json` with `rows` for the table in
`docs/benchmarks.md` (see `bench/report.py`) and its raw `details`.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
VENV_PY = Path(sys.executable)
MOCK_NOW = "2026-02-01T00:00:00Z"
MOCK_NOW_TS = 1769904000


@dataclass
class Measured:
    command: list[str]
    returncode: int
    seconds: float
    peak_rss_mib: float
    stdout: str
    stderr: str

    def check(self) -> Measured:
        if self.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(self.command)} exited {self.returncode}:\n"
                f"{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
            )
        return self


def run_batch_charges(days: int) -> list[str]:
    """The extractor command the charge benchmarks measure."""
    return [
        str(REPO / ".venv" / "bin" / "payments-pipeline"),
        "run-batch",
        "--entity",
        "charges",
        "--days",
        str(days),
    ]


def run_measured(
    command: list[str],
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    log: Path | None = None,
) -> Measured:
    """Run `command` to completion; wall seconds and the child's peak RSS (MiB)."""
    full_env = {**os.environ, **(env or {})}
    out_path = log or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}.out"
    err_path = out_path.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        command=command,
        returncode=process.returncode,
        seconds=seconds,
        peak_rss_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def cmdline(argv: list[str] | None = None) -> str:
    """How this benchmark was invoked, relative to the repo (for the table)."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0]).resolve()
    try:
        script_text = str(script.relative_to(REPO))
    except ValueError:
        script_text = argv[0]
    return shlex.join([".venv/bin/python", script_text, *argv[1:]])


def write_result(name: str, rows: list[dict[str, Any]], details: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json: table rows plus raw details."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rows": rows,
        "details": details,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))
    return path


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"
