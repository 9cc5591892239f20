"""The dbt child process: several dbt commands in one process, one parse (issue 19).

    python -m extractor.transform.dbt_session <plan.json> [--wait | --interruptible]

The CLI starts this instead of the `dbt` executable once per run, so a run-pipeline pays
dbt's start-up (imports, adapter, project and profile load, manifest) once for its build
and its freshness check, not twice. The manifest is parsed once (partial parsing kept in
a target folder every lake on the machine shares, project_parse.py) and handed to every
command.

With `--wait` (how the CLI starts it) the child imports dbt, then waits for one line on
stdin, `{"environment": {...}, "interruptible": bool}`: the environment to run with, and
whether Ctrl-C may stop it; only then does it read the plan. If that environment changes a
variable read only when a process starts (READ_AT_START: a large lake's allocator setting),
the child execs itself with it, paying dbt's import again (`--interruptible`: Ctrl-C let
through once dbt is imported, as the message said). run-pipeline
starts it before extracting, so dbt's import (2-3 s here) overlaps the extraction instead
of following it (issue 19; a run with nothing new is ~5 s in all). End of input instead
of that line ends the child without running anything: the run stopped before its build.

The plan (written by extractor/transform/dbt.py) is JSON:
    {"commands": [{"args": [...], "artifact": "run_results.json", "save_as": "..."}],
     "parse_args": [...], "stop_after_failure": true, "status": "<path>"}
`parse_args` (project, profiles and target folders) are the parse's; each command's `args`
carry them too.
Each command runs with `--no-write-json`, and its artifact (run_results.json, sources.json)
is written here from the result instead: dbt's own writing also rewrites the 2-3 MB
manifest.json after every command, ~0.3-0.6 s each, which is a tenth of a run with nothing
new (the parse's manifest is the same for every command). The artifact is then copied to
`save_as`, where a later command cannot overwrite it (the file under its own name stays for
whoever reads target/ by hand), and the status file
gets that command's exit code (0 success, 1 failures or errors, 2 dbt could not run). With
`stop_after_failure` a failed command ends the session (no freshness after a failed build).

The child ends without Python's teardown (`exit_without_teardown`: ~0.6 s of freeing dbt's
objects), after closing the warehouse and running the exit handlers.

A separate process, not dbt inside the CLI: dbt's global state and memory stay out of
the CLI, and a killed dbt is reported as such (dbt dies with its parent, see dbt.py).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn


def run(plan: dict[str, Any]) -> list[int]:
    from dbt.cli.main import dbtRunner  # here: importing dbt takes seconds

    from extractor.transform import project_parse

    codes: list[int] = []
    status = Path(plan["status"])
    manifest = None
    for command in plan["commands"]:
        if manifest is None:
            # One parse for every lake on this machine (project_parse.py); --no-write-json:
            # the parse keeps partial_parse.msgpack, and writes no manifest.json.
            parsed = project_parse.parse(plan["parse_args"])
            if not parsed.success:
                codes.append(2)
                status.write_text(json.dumps(codes))
                return codes
            manifest = parsed.result
        result = dbtRunner(manifest=manifest).invoke([*command["args"], "--no-write-json"])
        artifact = Path(command["artifact"])
        artifact.unlink(missing_ok=True)  # never an earlier run's
        if hasattr(result.result, "write"):  # None when dbt could not run the command
            result.result.write(str(artifact))
            shutil.copyfile(artifact, command["save_as"])
        code = 0 if result.success else (1 if result.exception is None else 2)
        codes.append(code)
        status.write_text(json.dumps(codes))
        if code and plan.get("stop_after_failure", True):
            break
    return codes


# Read once, when the process loads DuckDB (dbt's import does): the jemalloc inside DuckDB
# takes its settings from it then. A large lake's value (build_resources.LARGE_LAKE) that
# arrives with the plan takes effect only in a process started with it.
READ_AT_START = ("DUCKDB_JE_MALLOC_CONF",)


def import_dbt() -> None:
    """Import dbt with Ctrl-C ignored (the CLI starts us so, dbt.py _waiting_child; set here
    too for a session started by hand): an interrupted import's traceback would only hide
    the CLI's own message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import dbt.adapters.duckdb  # noqa: F401 - the adapter: half of the import
    import dbt.cli.main  # noqa: F401


def wait_for_environment() -> dict[str, Any] | None:
    """Import dbt, then take the message from stdin's first line; None on end of input."""
    import_dbt()
    line = sys.stdin.readline()
    return json.loads(line) if line.strip() else None


def must_restart(environment: dict[str, str]) -> bool:
    """Whether the environment changes a variable this process read when it started."""
    return any(environment.get(name) != os.environ.get(name) for name in READ_AT_START)


def restart(plan_path: str, message: dict[str, Any]) -> None:
    """Become a session started with the message's environment: same pid, so the CLI waits
    for it as before, and dying with the CLI survives exec. Ctrl-C stays ignored through
    the new import (`--interruptible` lets it through after). If exec fails, the run goes
    on in this process without the new value, and says so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    argv = [sys.executable, "-m", "extractor.transform.dbt_session", plan_path]
    if message["interruptible"]:
        argv.append(INTERRUPTIBLE)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, argv, message["environment"])
    except OSError as exc:
        changed = ", ".join(READ_AT_START)
        print(
            f"dbt session: could not restart with {changed} ({exc}); going on without",
            file=sys.stderr,
        )


def take_environment(message: dict[str, Any]) -> None:
    """Run with the message's environment; let Ctrl-C through once the plan comes, if it
    reaches the CLI at all."""
    os.environ.clear()
    os.environ.update(message["environment"])
    if message["interruptible"]:
        signal.signal(signal.SIGINT, signal.default_int_handler)


WAIT = "--wait"
INTERRUPTIBLE = "--interruptible"  # a restarted session's: Ctrl-C once dbt is imported


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or argv[1:] not in ([], [WAIT], [INTERRUPTIBLE]):
        print(
            "usage: python -m extractor.transform.dbt_session <plan.json>"
            " [--wait | --interruptible]",
            file=sys.stderr,
        )
        return 2
    if argv[1:] == [WAIT]:
        message = wait_for_environment()
        if message is None:
            return 0
        if must_restart(message["environment"]):
            restart(argv[0], message)  # returns only if exec failed
        take_environment(message)
    elif argv[1:] == [INTERRUPTIBLE]:
        import_dbt()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    codes = run(json.loads(Path(argv[0]).read_text()))
    return max(codes, default=2)


def exit_without_teardown(code: int) -> NoReturn:
    """End the process without Python's teardown, which frees dbt's objects (the parsed
    project, the graph, the adapter) one by one: ~0.6 s of the ~5.5 s a run with nothing new
    took (issue 19). Whatever the teardown did that matters is done first:
    - a warehouse handle still open is closed (DuckDB checkpoints its write-ahead log then).
      Normally dbt has closed it already, when its last connection was released; this is for
      a handle left open, which only the teardown's `__del__` would have closed;
    - the exit handlers run: dbt-duckdb's, multiprocessing's semaphore clean-up, and
      logging's shutdown, which flushes and closes dbt's log file;
    - stdout and stderr are flushed.
    C-level exit handlers and C stdio buffers are skipped; nothing here uses them. If any of
    this raises, the exception ends the process the ordinary way (exit code 1)."""
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    environment = getattr(getattr(connections, "DuckDBConnectionManager", None), "_ENV", None)
    if environment is not None:
        environment.close()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_without_teardown(main(sys.argv[1:]))
