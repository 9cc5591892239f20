"""`run-transforms`, `run-quality` and `query`: dbt and DuckDB over the lake.

run-transforms is `dbt build`: seeds, models and their tests interleaved, so a failing
Silver test skips the Gold models built on it and Gold keeps its last good state (ADR 0011).
run-quality is `dbt test` plus `dbt source freshness`. Both record a manifest section
(`transform`, `quality`) and exit non-zero naming every failing test.

A build folds only the Bronze runs that no earlier successful build folded (ADR 0040,
extractor/fold.py); `--full-refresh` rebuilds Silver from all of Bronze.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from extractor import logs
from extractor.dbt_runner import DbtError, DbtOutcome, run_dbt, warehouse_path
from extractor.duckdb_setup import DuckDBSetupError, connect
from extractor.fold import FoldPlan, FoldStateError, plan_fold, record_fold
from extractor.ids import ENTITIES, InvalidName, resolve_run_id
from extractor.lock import LockHeld, RunLock
from extractor.manifest import ManifestError, update_section
from extractor.settings import Settings
from extractor.storage import StorageError, storage_for

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3

# A full read of Bronze, for commands that run no build of their own (run-quality).
NO_FOLD = FoldPlan(incremental=False, reason="not a build")

# Tables `query` and the demo know about, in the order they are shown.
GOLD_MODELS = ("dim_customers", "fct_payments", "fct_invoices", "agg_daily_revenue")
SILVER_MODELS = tuple(
    f"stg_stripe__{entity}"
    for entity in ("customers", "charges", "payment_intents", "invoices", "events")
)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fail_line(message: str) -> None:
    print(f"payments-pipeline: error: {message}", file=sys.stderr)


def transform_section(build: DbtOutcome, started_at: str) -> dict[str, Any]:
    section = build.as_dict()
    section["started_at"] = started_at
    section["ended_at"] = _now_iso()
    return section


def quality_section(
    tests: DbtOutcome | None, freshness: DbtOutcome | None, started_at: str
) -> dict[str, Any]:
    """One gate verdict from the tests (of a build or of `dbt test`) and freshness."""
    parts = [p for p in (tests, freshness) if p is not None]
    failures = [f for p in parts for f in p.failures]
    section: dict[str, Any] = {
        "status": "succeeded" if all(p.ok for p in parts) else "failed",
        "started_at": started_at,
        "ended_at": _now_iso(),
        "failures": failures,
        "warnings": [w for p in parts for w in p.warnings],
    }
    if tests is not None:
        section["tests"] = {
            "command": tests.command,
            "counts": tests.counts,
            "elapsed_seconds": round(tests.elapsed_seconds, 3),
        }
    if freshness is not None:
        section["freshness"] = {
            "counts": freshness.counts,
            "elapsed_seconds": round(freshness.elapsed_seconds, 3),
        }
    return section


def describe_failures(outcome_failures: list[dict[str, Any]]) -> str:
    lines = []
    for failure in outcome_failures:
        detail = failure.get("message") or ""
        line = f"  {failure['kind']} {failure['name']}: {failure['status']} {detail}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def build_test_results(build: DbtOutcome) -> DbtOutcome:
    """The test results of a `dbt build`, as if `dbt test` had run them."""
    kinds = ("test", "unit_test")
    counts: dict[str, int] = {}
    for kind in kinds:
        for status, n in build.kind_counts.get(kind, {}).items():
            counts[status] = counts.get(status, 0) + n
    return DbtOutcome(
        command="build (tests)",
        exit_code=0 if not [f for f in build.failures if f["kind"] in kinds] else 1,
        elapsed_seconds=0.0,
        counts=counts,
        kind_counts={k: v for k, v in build.kind_counts.items() if k in kinds},
        failures=[f for f in build.failures if f["kind"] in kinds],
        warnings=[w for w in build.warnings if w["kind"] in kinds],
    )


def transform(
    settings: Settings, run_id: str, full_refresh: bool = False
) -> tuple[DbtOutcome, FoldPlan]:
    """dbt build, recorded in the manifest's `transform` section. Incremental when an earlier
    build recorded what it folded; the new fold state is written only if the build passed."""
    storage = storage_for(settings)
    started_at = _now_iso()
    plan = plan_fold(storage, full_refresh)
    logs.log(
        "transform_started",
        step="transform",
        lake=settings.lake_root,
        mode=plan.as_dict()["mode"],
        bronze_runs=len(plan.run_ids) if plan.incremental else None,
    )
    build = run_dbt("build", settings, run_id, env=plan.dbt_env())
    if build.ok:
        # After the build only: a crash before this line refolds the same runs next time,
        # a no-op for Silver's de-duplication (ADR 0040).
        record_fold(storage, plan)
    section = transform_section(build, started_at)
    section["fold"] = plan.as_dict()
    update_section(storage, run_id, "transform", section)
    logs.log(
        "transform_finished",
        step="transform",
        status="succeeded" if build.ok else "failed",
        seconds=round(build.elapsed_seconds, 3),
        counts=build.counts,
    )
    return build, plan


def freshness(settings: Settings, run_id: str, plan: FoldPlan | None = None) -> DbtOutcome:
    """dbt source freshness; after an incremental build it reads only the runs just folded
    (the newest lines are there), not all of Bronze again."""
    return run_dbt("source freshness", settings, run_id, env=(plan or NO_FOLD).dbt_env())


def _with_lock(settings: Settings, run_id: str, command: str, work) -> int:
    """Run `work()` holding the lake's run lock; map our errors to exit codes."""
    try:
        storage = storage_for(settings)
        with RunLock(storage, run_id, command):
            return work()
    except LockHeld as exc:
        _fail_line(str(exc))
        return EXIT_LOCKED
    except (DbtError, DuckDBSetupError, StorageError, ManifestError, FoldStateError) as exc:
        _fail_line(f"run {run_id} {command} failed: {exc}")
        return EXIT_FAILED


def entities_without_bronze(settings: Settings) -> list[str]:
    """Entities with no Bronze part yet: dbt would fail on each with a long IO error."""
    storage = storage_for(settings)
    return [
        entity
        for entity in ENTITIES
        if next(iter(storage.list(f"bronze/source=stripe/entity={entity}/")), None) is None
    ]


def _bronze_missing_line(settings: Settings) -> str | None:
    """One line saying what to do when dbt would find no Bronze to read, else None."""
    try:
        missing = entities_without_bronze(settings)
    except StorageError as exc:
        return str(exc)
    if not missing:
        return None
    return (
        f"no Bronze yet for {', '.join(missing)} under {settings.lake_root}/bronze: extract "
        "first (`make extract` or `payments-pipeline run-all --days 3`) with the same LAKE_ROOT"
    )


def _run_id(args: argparse.Namespace, settings: Settings) -> str | None:
    try:
        return resolve_run_id(getattr(args, "run_id", None), settings.run_id)
    except InvalidName as exc:
        _fail_line(str(exc))
        return None


def cmd_run_transforms(args: argparse.Namespace, settings: Settings) -> int:
    run_id = _run_id(args, settings)
    if run_id is None:
        return EXIT_USAGE
    if (missing := _bronze_missing_line(settings)) is not None:
        _fail_line(missing)
        return EXIT_FAILED
    logs.configure(run_id)

    def work() -> int:
        build, _ = transform(settings, run_id, getattr(args, "full_refresh", False))
        if not build.ok:
            _fail_line(
                f"run {run_id}: dbt build failed; Gold models downstream of a failure were "
                f"skipped and keep their last good state:\n{describe_failures(build.failures)}"
            )
            return EXIT_FAILED
        print(f"run {run_id} transforms succeeded ({build.elapsed_seconds:.1f}s): {build.counts}")
        return EXIT_OK

    return _with_lock(settings, run_id, "run-transforms", work)


def cmd_run_quality(args: argparse.Namespace, settings: Settings) -> int:
    run_id = _run_id(args, settings)
    if run_id is None:
        return EXIT_USAGE
    if (missing := _bronze_missing_line(settings)) is not None:
        _fail_line(missing)
        return EXIT_FAILED
    logs.configure(run_id)

    def work() -> int:
        started_at = _now_iso()
        tests = run_dbt("test", settings, run_id, env=NO_FOLD.dbt_env())
        fresh = freshness(settings, run_id)
        section = quality_section(tests, fresh, started_at)
        update_section(storage_for(settings), run_id, "quality", section)
        return report_gate(run_id, section)

    return _with_lock(settings, run_id, "run-quality", work)


def report_gate(run_id: str, section: dict[str, Any]) -> int:
    """Print the gate's verdict; non-zero when any test or freshness check failed."""
    if section["status"] != "succeeded":
        _fail_line(
            f"run {run_id}: quality gate failed ({len(section['failures'])} failing):\n"
            + describe_failures(section["failures"])
        )
        return EXIT_FAILED
    warned = len(section["warnings"])
    print(f"run {run_id} quality gate passed" + (f" with {warned} warnings" if warned else ""))
    return EXIT_OK


def reconciliation_counts(settings: Settings) -> dict[str, int]:
    """Events per reconciliation status, counted while the webhook receiver was listening
    (before its first capture every event is trivially a missing webhook)."""
    con = connect(warehouse_path(settings), settings, dict(os.environ), read_only=True)
    try:
        result = con.sql(
            "select reconciliation_status, count(*) from rpt_webhook_reconciliation "
            "where is_in_webhook_coverage or is_seen_by_webhook group by 1 order by 1"
        ).fetchall()
        outside = con.sql(
            "select count(*) from rpt_webhook_reconciliation "
            "where not is_in_webhook_coverage and not is_seen_by_webhook"
        ).fetchone()[0]
    finally:
        con.close()
    counts = {status: int(n) for status, n in result}
    counts["before_first_webhook"] = int(outside)
    return counts


def print_reconciliation(counts: dict[str, int]) -> None:
    if set(counts) == {"before_first_webhook"}:
        print(
            "webhook reconciliation: no webhooks captured yet "
            f"({counts['before_first_webhook']} batch events to reconcile once they arrive)"
        )
        return
    shown = ", ".join(f"{status} {n}" for status, n in counts.items())
    print(f"webhook reconciliation: {shown}")


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    """Run SQL against the warehouse views (Gold and Silver by model name) and print it."""
    path = warehouse_path(settings)
    if not path.exists():
        _fail_line(f"no warehouse at {path}: run `payments-pipeline run-transforms` first")
        return EXIT_FAILED
    import duckdb

    try:
        con = connect(path, settings, dict(os.environ), read_only=True)
        started = time.monotonic()
        relation = con.sql(args.sql)
        if relation is None:
            return EXIT_OK
        relation.show(max_rows=args.max_rows, max_width=10_000)
        logs.log("query", seconds=round(time.monotonic() - started, 3))
    except duckdb.Error as exc:
        _fail_line(f"query failed: {' '.join(str(exc).split())}")
        return EXIT_FAILED
    except DuckDBSetupError as exc:
        _fail_line(str(exc))
        return EXIT_FAILED
    return EXIT_OK
