"""Run dbt in a child process against one lake and summarise what it did.

One child per run (extractor/transform/dbt_session.py) runs every dbt command of the run
with one start-up and one parse. A child (not dbt inside the CLI) keeps dbt's global state
and memory out of our process, and its artifacts (`run_results.json`, `sources.json`) are
the stable contract we read results from. Each lake gets its own target folder, so partial
parsing survives between runs and two lakes never read each other's results.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extractor import logs
from extractor.exits import PipelineError
from extractor.lake import layout
from extractor.lake.storage import Storage
from extractor.processes import die_with_parent
from extractor.settings import REPO_ROOT, Settings
from extractor.transform.build_resources import DUCKDB_OUT_OF_MEMORY, out_of_memory_hint
from extractor.transform.warehouse import EXTENSIONS_HOME, extension_repo

# Result statuses dbt writes, sorted into what stops a run and what only warns.
FAILING = {"error", "fail", "runtime error"}
WARNING = {"warn"}


class DbtError(PipelineError):
    """dbt could not run at all (missing executable, no artifacts written)."""


@dataclass
class DbtOutcome:
    """What one dbt invocation did, in the shape the run manifest stores."""

    command: str
    exit_code: int
    elapsed_seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    # The same counts per resource kind (model, seed, test, unit_test, source).
    kind_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    # The compiled query of each failing data test, by name: failed_checks.py may run it
    # again for the gate's message. Not part of the manifest.
    failed_queries: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "status": "succeeded" if self.ok else "failed",
            "exit_code": self.exit_code,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "counts": self.counts,
            "counts_by_kind": self.kind_counts,
            "failures": self.failures,
            "warnings": self.warnings,
            "models": self.models,
        }


def lake_target_dir(storage: Storage) -> Path:
    """dbt's target folder for this lake: artifacts, partial parse, and (S3) the warehouse."""
    digest = hashlib.sha1(storage.root.encode()).hexdigest()[:12]
    return REPO_ROOT / "target" / "lakes" / digest


def warehouse_path(storage: Storage) -> Path:
    """The DuckDB file holding the views over Gold and Silver (and the seed): in the lake's
    `_state/` on local disk, beside dbt's artifacts for a lake on S3."""
    if storage.local_path is not None:
        return storage.local_path / layout.WAREHOUSE_KEY
    return lake_target_dir(storage) / Path(layout.WAREHOUSE_KEY).name


def prepare_lake(storage: Storage) -> None:
    """Make what dbt cannot make itself: DuckDB's partitioned COPY creates its own folder
    but not the parents, and the s3 target loads httpfs from the offline repository."""
    storage.make_folders(layout.EXTERNAL_ROOTS)
    extension_repo()


def remove_null_partitions(storage: Storage) -> None:
    """Before a build only: DuckDB writes rows with a null `dt` (dbt-duckdb writes one such
    row for an empty model) to a partition of their own, which would outlive the next,
    non-empty build; it is removed before every build and rewritten only if still true."""
    for layer in (layout.SILVER, layout.GOLD):
        for key in list(storage.list(layer)):
            if layout.NULL_PARTITION in key:
                storage.delete(key)


def check_warehouse_free(storage: Storage) -> None:
    """dbt writes its views into the warehouse file; a DuckDB client holding it open (a
    `duckdb` shell, a notebook) makes every build fail with the cause deep in dbt's log."""
    path = warehouse_path(storage)
    if not path.exists():
        return
    import duckdb  # here, not at import: extraction never loads it

    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        detail = " ".join(str(exc).split())
        raise DbtError(
            f"the warehouse {path} is open in another DuckDB client ({detail}); close it, "
            "then rerun. To look at the lake while builds run, use `payments-pipeline query`, "
            "which opens the warehouse read-only for the length of one query"
        ) from None


def session_command() -> list[str]:
    """The argv that starts the dbt child (extractor/transform/dbt_session.py)."""
    if importlib.util.find_spec("dbt.cli") is None:
        raise DbtError("dbt is not installed in this environment: run `make setup`")
    return [sys.executable, "-m", "extractor.transform.dbt_session"]


def dbt_env(
    settings: Settings,
    storage: Storage,
    run_id: str,
    overrides: dict[str, str | None] | None = None,
) -> dict[str, str]:
    """dbt's environment; an override of None removes that variable. LAKE_ROOT is the
    storage's absolute root: dbt runs from the checkout, not from the caller's folder."""
    env = dict(os.environ)
    env.update(
        LAKE_ROOT=storage.root,
        WAREHOUSE_PATH=str(warehouse_path(storage)),
        DUCKDB_EXTENSIONS_HOME=str(EXTENSIONS_HOME),
        DBT_LOG_PATH=str(REPO_ROOT / "target" / "logs"),
        PIPELINE_RUN_ID=run_id,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    # dbt's file log at info, not its default debug (every query's SQL): ~9% of a build's
    # CPU here (issue 19). DBT_LOG_LEVEL_FILE=debug in the caller's environment keeps SQL.
    env.setdefault("DBT_LOG_LEVEL_FILE", "info")
    if settings.aws_endpoint_url:
        env["AWS_ENDPOINT_URL"] = settings.aws_endpoint_url
    if storage.local_path is None:
        # DuckDB's S3 secret reads only AWS_* keys: hand it what boto3's chain found.
        from extractor.lake.storage.s3 import duckdb_credentials  # boto3: S3 lakes only

        env.update(duckdb_credentials(env))
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_dbt(
    command: str,
    settings: Settings,
    storage: Storage,
    run_id: str,
    env: dict[str, str | None] | None = None,
) -> DbtOutcome:
    """Run `dbt <command>` for this lake; dbt's own progress goes to our stderr."""
    return run_dbt_session([command], settings, storage, run_id, env)[0]


class DbtChild:
    """The dbt child of one run (dbt_session.py --wait), started before its commands are
    known: it imports dbt while the caller does something else (run-pipeline: extracts),
    then runs the plan `run_dbt_session` writes. `stop` ends one that never got a plan."""

    def __init__(self, settings: Settings, storage: Storage, run_id: str) -> None:
        self.target = lake_target_dir(storage)
        self.target.mkdir(parents=True, exist_ok=True)
        self.plan = self.target / "session-plan.json"
        # Ctrl-C reaches the child once it runs the plan, unless it never reaches us (a
        # background job started with SIGINT ignored).
        self.interruptible = signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        parent = os.getpid()
        self.process = subprocess.Popen(
            [*session_command(), str(self.plan), "--wait"],
            cwd=REPO_ROOT,
            env=dbt_env(settings, storage, run_id),
            stdin=subprocess.PIPE,
            stdout=sys.stderr,
            preexec_fn=lambda: _waiting_child(parent),
        )

    def exited(self) -> int | None:
        """The child's exit code if it has ended (before its plan: it could not import dbt,
        or someone killed it), else None."""
        return self.process.poll()

    def run(self, environment: dict[str, str]) -> int:
        """Send the environment (the plan is written by now); wait for the child's exit."""
        message = {"environment": environment, "interruptible": self.interruptible}
        try:
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it ended already (killed, or it read no environment); its code says so
        try:
            return self.process.wait()
        except BaseException:
            self.stop()  # Ctrl-C or SIGTERM of the CLI: no build outlives it
            raise

    def __enter__(self) -> DbtChild:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End the child if it still runs: after a run that stopped before its build, or
        after an interrupted one."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()


def _waiting_child(parent: int) -> None:
    """In the forked child, before it starts Python: dbt dies with us, even on SIGKILL (see
    DbtChild.run for SIGTERM and Ctrl-C), and Ctrl-C is ignored until the plan comes (the
    CLI decides whether the run goes on; an interrupted import's traceback would only hide
    the CLI's own message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(signal.SIGTERM, parent)


def run_dbt_session(
    commands: list[str],
    settings: Settings,
    storage: Storage,
    run_id: str,
    env: dict[str, str | None] | None = None,
    stop_after_failure: bool = True,
    remove_placeholders: bool = False,
    child: DbtChild | None = None,
) -> list[DbtOutcome]:
    """Run several dbt commands (`build`, `source freshness`, ...) in one dbt child with one
    parse, in order; with `stop_after_failure` a failed command is the last one run. One
    outcome per command run. `remove_placeholders`: the commands rebuild every model that
    has a placeholder (remove_null_partitions), so those go first. `child`: one started
    earlier for this lake and run (else it starts here)."""
    if child is not None and (code := child.exited()) is not None:
        # Its own error (if any) went by with the extraction's output; a new child repeats it
        # here, next to this run's outcome.
        logs.warn(
            "dbt_child_restarted",
            step="transform",
            detail=f"the dbt child started before this step exited {code} while it waited",
        )
        child = None
    if child is None:
        child = DbtChild(settings, storage, run_id)
    try:
        return _run_session(
            child,
            commands,
            settings,
            storage,
            run_id,
            env,
            stop_after_failure,
            remove_placeholders,
        )
    finally:
        child.stop()


def _run_session(
    child: DbtChild,
    commands: list[str],
    settings: Settings,
    storage: Storage,
    run_id: str,
    env: dict[str, str | None] | None,
    stop_after_failure: bool,
    remove_placeholders: bool,
) -> list[DbtOutcome]:
    target = child.target
    common = [
        "--project-dir",
        str(REPO_ROOT),
        "--profiles-dir",
        str(REPO_ROOT),
        "--target-path",
        str(target),
    ]
    steps = []
    for index, command in enumerate(commands):
        artifact = "sources.json" if command.startswith("source freshness") else "run_results.json"
        saved = target / f"session-{index}-{artifact}"
        saved.unlink(missing_ok=True)
        steps.append(
            {
                "command": command,
                "args": [*command.split(), *common],
                "artifact": str(target / artifact),
                "save_as": str(saved),
            }
        )
    status = target / "session-status.json"
    status.unlink(missing_ok=True)
    child.plan.write_text(
        json.dumps(
            {
                "commands": steps,
                "parse_args": common,
                "stop_after_failure": stop_after_failure,
                "status": str(status),
            }
        )
    )
    prepare_lake(storage)
    if remove_placeholders:
        remove_null_partitions(storage)
    check_warehouse_free(storage)
    started = time.monotonic()
    environment = dbt_env(settings, storage, run_id, env)
    returncode = child.run(environment)
    elapsed = time.monotonic() - started
    label = " + ".join(f"dbt {command}" for command in commands)
    if returncode < 0:
        name = signal.Signals(-returncode).name
        raise DbtError(
            f"{label} was killed by {name} (out of memory, or stopped by someone); "
            "a build that did not finish changed no fold state, so rerun the same command"
        )
    codes = json.loads(status.read_text()) if status.exists() else []
    outcomes = []
    for step, code in zip(steps, codes, strict=False):
        saved = Path(step["save_as"])
        if not saved.exists():
            break
        artifact = json.loads(saved.read_text())
        seconds = float(artifact.get("elapsed_time") or 0.0)
        # The manifest names the command without its options (`build`).
        name = step["command"].split(" --")[0]
        outcomes.append(summarise(name, code, seconds, artifact, environment))
    if not outcomes:
        raise DbtError(
            f"{label} exited {returncode} without writing its results: "
            "a project or profile error; dbt's message is above"
        )
    # The child's parse (and whatever of its start-up the caller did not overlap) belong
    # to the first command.
    outcomes[0].elapsed_seconds = max(elapsed - sum(o.elapsed_seconds for o in outcomes[1:]), 0.0)
    return outcomes


def summarise(
    command: str,
    exit_code: int,
    elapsed: float,
    artifact: dict,
    environment: Mapping[str, str] | None = None,
) -> DbtOutcome:
    """Fold a run_results.json or sources.json into counts, failures and model timings. A
    failure for want of DuckDB memory gets a `hint` from the `environment` dbt ran with."""
    outcome = DbtOutcome(command=command, exit_code=exit_code, elapsed_seconds=elapsed)
    for result in artifact.get("results", []):
        unique_id = result.get("unique_id", "")
        kind = unique_id.split(".", 1)[0]
        status = str(result.get("status", "")).lower()
        outcome.counts[status] = outcome.counts.get(status, 0) + 1
        per_kind = outcome.kind_counts.setdefault(kind, {})
        per_kind[status] = per_kind.get(status, 0) + 1
        entry = {
            "name": display_name(unique_id),
            "kind": kind,
            "status": status,
            "message": result.get("message") or _freshness_message(result),
            "failures": result.get("failures"),
        }
        if status in FAILING:
            if DUCKDB_OUT_OF_MEMORY in (entry["message"] or ""):
                entry["hint"] = out_of_memory_hint(environment or {})
            if status == "fail" and kind == "test":
                outcome.failed_queries[entry["name"]] = result.get("compiled_code") or ""
            outcome.failures.append(entry)
        elif status in WARNING:
            outcome.warnings.append(entry)
        if kind in ("model", "seed"):
            outcome.models.append(
                {
                    "name": display_name(unique_id),
                    "status": status,
                    "seconds": round(float(result.get("execution_time") or 0.0), 3),
                }
            )
    return outcome


def display_name(unique_id: str) -> str:
    """`test.payments_pipeline.column_checks_fct_payments.5a1b` -> the test's name;
    `source.payments_pipeline.stripe.charges` -> `stripe.charges`."""
    parts = unique_id.split(".")
    if parts[0] == "source":
        return ".".join(parts[2:])
    if parts[0] == "test" and len(parts) >= 4:
        return parts[2]
    return parts[-1]


def _freshness_message(result: dict) -> str | None:
    age = result.get("max_loaded_at_time_ago_in_s")
    if age is None:
        return result.get("error")
    if str(result.get("max_loaded_at", "")).startswith("0001-"):
        return "no Bronze line and no extraction recorded for it (its watermark is missing)"
    newest = result.get("max_loaded_at")
    return f"newest Bronze line loaded {age / 3600:.1f} h ago (max_loaded_at {newest})"
