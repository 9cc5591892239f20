"""Run the real CLI (`python -m extractor`, the `payments-pipeline` entry point) in a child
process on a lake, as the integration suites and benchmarks do.

    run_cli("run-pipeline", "--days", "2", lake=lake, api=mock.url)

runs with `child_env(lake, api)`: this process's environment without `RUN_ID` (so every run
picks its own), plus `LAKE_ROOT`, `STRIPE_API_BASE` and `STRIPE_RATE_LIMIT_RPS=1000`. A call
site that needs more (other variables, others cleared) builds the env with `child_env(...)`
and passes it whole as `env=`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.support.servers import REPO_ROOT

# High, so the client's own limiter never slows a test down (the mock may answer 429).
TEST_RATE_LIMIT_RPS = "1000"


def cli_command(*args: str) -> list[str]:
    """argv for the CLI: `python -m extractor` is the same entry point as `payments-pipeline`."""
    return [sys.executable, "-m", "extractor", *args]


def child_env(
    lake: str | os.PathLike[str] | None = None,
    api: str | None = None,
    *,
    clear: Iterable[str] = ("RUN_ID",),
    rate_limit: str | None = TEST_RATE_LIMIT_RPS,
    **extra: str,
) -> dict[str, str]:
    """The environment of a CLI child, built in this order (later wins):

    os.environ without the names in `clear`; `LAKE_ROOT` (if `lake`), `STRIPE_API_BASE` (if
    `api`), `STRIPE_RATE_LIMIT_RPS` (unless `rate_limit` is None); then `extra`.
    """
    cleared = set(clear)
    env = {key: value for key, value in os.environ.items() if key not in cleared}
    if lake is not None:
        env["LAKE_ROOT"] = str(lake)
    if api is not None:
        env["STRIPE_API_BASE"] = api
    if rate_limit is not None:
        env["STRIPE_RATE_LIMIT_RPS"] = rate_limit
    env.update(extra)
    return env


def _env_for(
    lake: str | os.PathLike[str] | None, api: str | None, env: Mapping[str, str] | None
) -> Mapping[str, str]:
    if env is None:
        return child_env(lake, api)
    if lake is not None or api is not None:
        raise TypeError("pass lake/api or a complete env (built with child_env), not both")
    return env


def run_cli(
    *args: str,
    lake: str | os.PathLike[str] | None = None,
    api: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600,
    cwd: str | os.PathLike[str] = REPO_ROOT,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion, output captured as text.

    The child gets `env` exactly as given (a complete environment), or, without it,
    `child_env(lake, api)`.
    """
    return subprocess.run(
        cli_command(*args),
        cwd=Path(cwd),
        env=dict(_env_for(lake, api, env)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(
    *args: str,
    lake: str | os.PathLike[str] | None = None,
    api: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] = REPO_ROOT,
    **popen: object,
) -> subprocess.Popen:
    """Start the CLI without waiting (to kill it or cut its storage mid-run).

    Same env rules as `run_cli`; stdout and stderr are text pipes unless `popen` overrides
    them (e.g. `stdout=subprocess.DEVNULL, start_new_session=True`).
    """
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen(
        cli_command(*args), cwd=Path(cwd), env=dict(_env_for(lake, api, env)), **options
    )
