"""`run-pipeline`: extract -> transform -> quality gate under one run id, stopping at the
first failure. The gate's tests run inside the build (ADR 0011); freshness runs after it."""

from __future__ import annotations

import argparse
import sys

import duckdb

from extractor import logs
from extractor.dbt_runner import DbtError
from extractor.duckdb_setup import DuckDBSetupError
from extractor.fold import FoldStateError
from extractor.ids import InvalidName, resolve_run_id
from extractor.lock import LockHeld, RunLock
from extractor.manifest import ManifestError, update_section
from extractor.runner import cmd_run_all
from extractor.settings import Settings
from extractor.storage import StorageError, storage_for
from extractor.transforms import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_USAGE,
    _now_iso,
    build_test_results,
    describe_failures,
    freshness,
    print_reconciliation,
    quality_section,
    reconciliation_counts,
    report_gate,
    transform,
)


def _fail_line(message: str) -> None:
    print(f"payments-pipeline: error: {message}", file=sys.stderr)


def cmd_run_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    try:
        run_id = resolve_run_id(getattr(args, "run_id", None), settings.run_id)
    except InvalidName as exc:
        _fail_line(str(exc))
        return EXIT_USAGE
    args.run_id = run_id

    extracted = cmd_run_all(args, settings)
    if extracted != 0:
        _fail_line(f"run {run_id}: pipeline stopped at extract (exit {extracted})")
        return extracted

    logs.configure(run_id)
    storage = storage_for(settings)
    try:
        with RunLock(storage, run_id, "run-pipeline"):
            started_at = _now_iso()
            build, plan = transform(settings, run_id, getattr(args, "full_refresh", False))
            if not build.ok:
                section = quality_section(build_test_results(build), None, started_at)
                section["status"] = "failed"
                update_section(storage, run_id, "quality", section)
                _fail_line(
                    f"run {run_id}: pipeline stopped at transform; Gold models downstream of a "
                    f"failure keep their last good state:\n{describe_failures(build.failures)}"
                )
                return EXIT_FAILED
            fresh = freshness(settings, run_id, plan)
            section = quality_section(build_test_results(build), fresh, started_at)
            section["webhook_reconciliation"] = reconciliation_counts(settings)
            update_section(storage, run_id, "quality", section)
    except LockHeld as exc:
        _fail_line(str(exc))
        return EXIT_LOCKED
    except (
        DbtError,
        DuckDBSetupError,
        StorageError,
        ManifestError,
        FoldStateError,
        duckdb.Error,
    ) as exc:
        _fail_line(f"run {run_id} failed: {exc}")
        return EXIT_FAILED
    print_reconciliation(section["webhook_reconciliation"])
    return report_gate(run_id, section)
