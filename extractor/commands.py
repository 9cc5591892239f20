"""One function per `payments-pipeline` subcommand: `(args, ctx) -> ExitCode`.

Each reads its arguments, calls the pipeline's steps or a lake helper, and prints what a
person needs. Expected failures are raised, not caught here: `cli.main` maps them to an
exit code and one message (ADR 0050).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from extractor import logs
from extractor.context import RunContext
from extractor.exits import ExitCode, UsageError, fail
from extractor.extract.children import read_listed
from extractor.extract.plan import Plan
from extractor.lake.lock import read_lock, unlock
from extractor.lake.manifest import list_run_ids, read_manifest, update_section
from extractor.lake.watermarks import read_watermark
from extractor.pipeline import (
    NO_FOLD,
    add_quarantine,
    extract,
    missing_bronze,
    run_pipeline,
    transform,
)
from extractor.streams import (
    ALL_STREAMS,
    CHILD_STREAMS,
    ENTITY_STREAMS,
    EVENTS,
    WATERMARKED_STREAMS,
)
from extractor.transform.build_resources import large_lake_env
from extractor.transform.dbt import DbtChild, run_dbt_session
from extractor.transform.dbt_commands import FRESHNESS, TEST
from extractor.transform.failed_checks import duckdb_limits, explain_failed_checks
from extractor.transform.fold import FRESHNESS_ENV, freshness_runs, scan_bronze
from extractor.transform.gate import describe_failures, now_iso, quality_section, report_gate

# -- extract ----------------------------------------------------------------------------------


def cmd_run_batch(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    """One entity's list plus the events feed (or only the feed for `--entity events`)."""
    entities = () if args.entity == EVENTS.name else (args.entity,)
    extract(ctx, Plan("run-batch", entities, True, args.days, bool(args.full_relist)))
    return ExitCode.OK


def cmd_run_all(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    names = tuple(s.name for s in ENTITY_STREAMS)
    extract(ctx, Plan("run-all", names, True, args.days, bool(args.full_relist)))
    return ExitCode.OK


def cmd_backfill(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    start, end = args.start, args.end
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    chosen = tuple(args.entity or [s.name for s in ALL_STREAMS])
    entities = tuple(e for e in chosen if e != EVENTS.name)
    extract(ctx, Plan("backfill", entities, EVENTS.name in chosen, backfill=(start, end)))
    return ExitCode.OK


def cmd_status(args: argparse.Namespace, ctx: RunContext, limit: int = 5) -> ExitCode:
    """Watermarks, the lock, and the last runs with their outcome."""
    storage = ctx.storage
    print(f"lake {storage.root}")
    print("watermarks:")
    for stream in WATERMARKED_STREAMS:
        mark = read_watermark(storage, stream.name)
        if mark is None:
            print(f"  {stream.name:<20} none (next run is a first run over --days)")
        else:
            print(f"  {stream.name:<20} {mark.watermark_iso}  (run {mark.run_id})")
    for child in CHILD_STREAMS:
        print(
            f"  {child.name:<20} listed for {len(read_listed(storage, child.name))} {child.parent}"
        )
    lock = read_lock(storage)
    print(f"lock: {lock.describe(time.time()) if lock else 'free'}")
    print("last runs:")
    run_ids = list_run_ids(storage)
    if not run_ids:
        print("  none")
    for run_id in run_ids[-limit:]:
        doc = read_manifest(storage, run_id) or {}
        ext = doc.get("extract") or {}
        totals = ext.get("totals") or {}
        error = (ext.get("error") or {}).get("message")
        line = (
            f"  {run_id}  {ext.get('command', '-'):<9} {ext.get('status', '-'):<9} "
            f"started {ext.get('started_at', '-')}  records {totals.get('records', 0)}"
        )
        others = [k for k in doc if k not in ("run_id", "created_at", "updated_at", "extract")]
        for key in others:
            status = doc[key].get("status") if isinstance(doc[key], dict) else None
            line += f"  {key}={status or 'present'}"
        print(line + (f"  error: {error}" if error else ""))
    return ExitCode.OK


def cmd_unlock(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    print(unlock(ctx.storage, force=bool(getattr(args, "force", False))))
    return ExitCode.OK


def duckdb_error() -> type[Exception]:
    import duckdb  # loaded only by the commands that query (~40 MiB)

    return duckdb.Error


# -- transform and gate ---------------------------------------------------------------------


def cmd_run_transforms(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    if (missing := missing_bronze(ctx)) is not None:
        return fail(missing)
    # dbt imports while the lock is taken and the build planned (listing Bronze).
    with DbtChild(ctx.settings, ctx.storage, ctx.run) as child, ctx.lock("run-transforms"):
        build, _, _ = transform(ctx, getattr(args, "full_refresh", False), child=child)
    if not build.ok:
        return fail(
            f"run {ctx.run}: dbt build failed; Gold models downstream of a failure were "
            f"skipped and keep their last good state:\n{describe_failures(build.failures)}"
        )
    print(f"run {ctx.run} transforms succeeded ({build.elapsed_seconds:.1f}s): {build.counts}")
    return ExitCode.OK


def cmd_run_quality(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    if (missing := missing_bronze(ctx)) is not None:
        return fail(missing)
    with DbtChild(ctx.settings, ctx.storage, ctx.run) as child, ctx.lock("run-quality"):
        started_at = now_iso()
        bronze = scan_bronze(ctx.storage)
        # Tests, then freshness whatever the tests found, in one dbt child.
        outcomes = run_dbt_session(
            [TEST, FRESHNESS],
            ctx.settings,
            ctx.storage,
            ctx.run,
            env={
                **NO_FOLD.dbt_env(),
                FRESHNESS_ENV: json.dumps(
                    freshness_runs(ctx.storage, bronze.parts), sort_keys=True
                ),
                **large_lake_env(bronze.bytes, ctx.settings.large_bronze_bytes),
            },
            stop_after_failure=False,
            child=child,
        )
        fresh = outcomes[1] if len(outcomes) > 1 else None
        explain_failed_checks(outcomes[0], lambda: ctx.connect_warehouse(duckdb_limits()))
        section = quality_section(outcomes[0], fresh, started_at)
        add_quarantine(ctx, section)
        update_section(ctx.storage, ctx.run, "quality", section)
    return report_gate(ctx.run, section)


def cmd_run_pipeline(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    names = tuple(s.name for s in ENTITY_STREAMS)
    plan = Plan("run-all", names, True, args.days, bool(args.full_relist))
    return run_pipeline(ctx, plan, getattr(args, "full_refresh", False))


# What `query` runs: reads. COPY, EXPORT, ATTACH, CREATE, INSERT, SET, CALL, LOAD, ... could
# write into the lake (a Silver partition the next incremental build would trust) or loosen
# the connection's settings.
READ_ONLY_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})


def cmd_query(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    """Run SQL against the warehouse views (Gold and Silver by model name) and print it."""
    if not ctx.warehouse.exists():
        return fail(
            f"no warehouse at {ctx.warehouse}: run `payments-pipeline run-transforms` first"
        )
    con = ctx.connect_warehouse()
    try:
        refused = sorted(
            {s.type.name for s in con.extract_statements(args.sql)} - READ_ONLY_STATEMENTS
        )
        if refused:
            return fail(
                f"query is read-only: {', '.join(refused)} statements are refused (it reads "
                "the lake; builds write it, through run-transforms)",
                ExitCode.USAGE,
            )
        started = time.monotonic()
        relation = con.sql(args.sql)
        if relation is not None:
            relation.show(max_rows=args.max_rows, max_width=10_000)
        logs.log("query", seconds=round(time.monotonic() - started, 3))
    except duckdb_error() as exc:
        return fail(f"query failed: {' '.join(str(exc).split())}")
    finally:
        con.close()
    return ExitCode.OK


def cmd_report(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    from extractor.report import write_report  # loads duckdb: only for this command

    print(write_report(ctx, args.run_id, Path(args.out) if args.out else None))
    return ExitCode.OK


# -- webhooks -------------------------------------------------------------------------------


def cmd_run_webhooks(args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    # Flask and waitress are loaded by the one command that serves, not by every command.
    from webhook_app.serve import ServerOptions, run_server

    options = ServerOptions(
        host=args.host,
        port=args.port,
        verify_signatures=not args.insecure_no_verify,
        tolerance_seconds=args.tolerance_seconds,
        max_body_bytes=args.max_body_bytes,
        threads=args.threads,
        workers=args.workers,
        connection_limit=args.connection_limit,
        read_timeout=args.read_timeout,
    )
    secrets = (ctx.settings.webhook_secret.reveal(),)
    return ExitCode(run_server(options, ctx.storage, secrets, ctx.settings.secrets()))
