"""The pipeline's three steps as plain functions of a run context: extract, transform, gate.

`run-pipeline` is these three in a row under one run id, stopping at the first failure; the
single-step commands (`run-all`, `run-transforms`, `run-quality`) call the same functions.
Each step writes its own section of the run's manifest. Expected failures raise
`PipelineError` (or `LockHeld`), which `cli.main` turns into a message and an exit code.
"""

from __future__ import annotations

from typing import Any

from extractor import logs
from extractor.context import RunContext
from extractor.exits import ExitCode, PipelineError, fail
from extractor.extract.plan import Plan
from extractor.extract.progress import Progress, summary_text
from extractor.extract.run import Extraction
from extractor.lake.manifest import update_section
from extractor.settings import REPO_ROOT
from extractor.transform.dbt import (
    DbtChild,
    DbtOutcome,
    run_dbt,
    run_dbt_session,
    warehouse_path,
)
from extractor.transform.dbt_commands import FRESHNESS
from extractor.transform.failed_checks import duckdb_limits, explain_failed_checks
from extractor.transform.fold import (
    FoldPlan,
    forget_fold,
    plan_fold,
    project_fingerprint,
    record_fold,
)
from extractor.transform.gate import (
    RECONCILIATION_MODEL,
    build_test_results,
    describe_failures,
    never_extracted,
    now_iso,
    pending_webhook_events,
    print_reconciliation,
    quality_section,
    reconciliation_counts,
    report_gate,
    transform_section,
)
from extractor.transform.quarantine import (
    check_captures,
    quarantine_summary,
    quarantine_warnings,
    read_quarantine,
)
from extractor.transform.unit_test_record import record_passed, unit_tests_in
from extractor.transform.warehouse import views_read_this_lake

# A full read of Bronze, for commands that run no build of their own (run-quality).
NO_FOLD = FoldPlan(incremental=False, reason="not a build")


def extract(ctx: RunContext, plan: Plan) -> dict[str, Any]:
    """Fetch into Bronze under the lake lock; prints the run summary, returns the manifest's
    `extract` section."""
    extraction = Extraction(ctx.settings, ctx.storage, plan, ctx.run, progress=Progress())
    section = extraction.execute()
    print(summary_text(section, ctx.run))
    return section


def transform(
    ctx: RunContext,
    full_refresh: bool = False,
    then_freshness: bool = False,
    child: DbtChild | None = None,
) -> tuple[DbtOutcome, FoldPlan, DbtOutcome | None]:
    """dbt build, recorded in the manifest's `transform` section. Incremental when an earlier
    build recorded what it folded; the new fold state is written only if the build passed.
    With `then_freshness`, the same dbt child then checks source freshness if the build
    passed (one dbt start-up per run); that outcome is returned for the gate, else None.
    `child`: a dbt child started earlier in this run (else one starts here)."""
    started_at = now_iso()
    # Unreadable captures are left out of the build, visibly, instead of failing it. Checked
    # before the plan: a capture leaving the quarantine is something new to build.
    quarantined = check_captures(ctx.storage, ctx.settings, started_at)
    plan = plan_fold(
        ctx.storage,
        full_refresh,
        warehouse_current=views_read_this_lake(warehouse_path(ctx.storage), ctx.storage),
        large_bronze_bytes=ctx.settings.large_bronze_bytes,
    )
    logs.log(
        "transform_started",
        step="transform",
        lake=ctx.storage.root,
        mode=plan.as_dict()["mode"],
        bronze_runs=len(plan.run_ids) if plan.incremental else None,
    )
    if quarantined:
        print(quarantine_summary(quarantined))
    refresh_pending_reconciliation(ctx, plan)
    commands = [plan.build_command(), *([FRESHNESS] if then_freshness else [])]
    outcomes = run_dbt_session(
        commands,
        ctx.settings,
        ctx.storage,
        ctx.run,
        env=plan.dbt_env(),
        remove_placeholders=plan.rebuilds_models,
        child=child,
    )
    build = outcomes[0]
    checked = outcomes[1] if len(outcomes) > 1 and build.ok else None
    if build.ok:
        # After the build only: a crash before this line refolds the same runs next time,
        # a no-op for Silver's de-duplication (ADR 0040).
        record_fold(ctx.storage, plan)
        record_unit_tests(ctx, plan, build)
    else:
        forget_fold(ctx.storage)
        explain_failed_checks(build, lambda: ctx.connect_warehouse(duckdb_limits()))
        logs.warn(
            "next_build_is_full",
            step="transform",
            detail="the failed build may have written Silver; the next build rebuilds it "
            "from all of Bronze",
        )
    section = transform_section(build, started_at)
    section["fold"] = plan.as_dict()
    section["quarantined_captures"] = quarantined
    update_section(ctx.storage, ctx.run, "transform", section)
    logs.log(
        "transform_finished",
        step="transform",
        status="succeeded" if build.ok else "failed",
        seconds=round(build.elapsed_seconds, 3),
        counts=build.counts,
        quarantined_captures=len(quarantined),
    )
    return build, plan, checked


def record_unit_tests(ctx: RunContext, plan: FoldPlan, build: DbtOutcome) -> None:
    """After a passing build that ran every unit test the project declares and passed them
    all: this project's unit tests have passed on this machine (ADR 0059). Not when the
    project changed while the build ran (its fingerprint is taken again): the code dbt
    tested may not be the code recorded."""
    unit_tests = build.kind_counts.get("unit_test", {})
    if not plan.unit_tests or set(unit_tests) != {"pass"}:
        return
    if unit_tests["pass"] != unit_tests_in(REPO_ROOT / "dbt_project"):
        return  # some were left out (a selector in dbt's environment variables, say)
    if project_fingerprint() != plan.project_code:
        return
    record_passed(plan.project_code, ctx.run_id, ctx.storage.root, unit_tests["pass"])


def refresh_pending_reconciliation(ctx: RunContext, plan: FoldPlan) -> None:
    """A build that keeps Gold still rebuilds the webhook reconciliation while it holds
    `pending` events: their status moves with the events watermark, which every run moves,
    new data or not (ADR 0057). Usually there are none, and the build stays a no-op."""
    # A plan keeps Gold only when the warehouse's views read this lake (plan_fold).
    if plan.changed_sources is None or not ctx.warehouse.exists():
        return
    import duckdb  # here, not at import: extraction never loads it

    try:
        con = ctx.connect_warehouse()
    except duckdb.Error:
        return  # held by another client: the build stops on it, naming it
    try:
        pending = pending_webhook_events(con)
    except duckdb.Error:
        return  # no model yet: a build with outputs to keep always has it
    finally:
        con.close()
    if pending:
        plan.refreshed_models.append(RECONCILIATION_MODEL)
        logs.log("reconciliation_refreshed", step="transform", pending_events=pending)


def freshness(ctx: RunContext, plan: FoldPlan = NO_FOLD) -> DbtOutcome:
    """dbt source freshness; after an incremental build it reads only the runs just folded
    (the newest lines are there), not all of Bronze again."""
    return run_dbt(FRESHNESS, ctx.settings, ctx.storage, ctx.run, env=plan.dbt_env())


def gate(
    ctx: RunContext,
    build: DbtOutcome,
    plan: FoldPlan,
    started_at: str,
    checked: DbtOutcome | None = None,
) -> dict[str, Any]:
    """The gate after a build: its tests, then freshness (only if the build passed; `checked`
    when the build's dbt child already ran it), and the webhook reconciliation counts,
    recorded as the manifest's `quality` section."""
    if not build.ok:
        section = quality_section(build_test_results(build), None, started_at)
        section["status"] = "failed"
    else:
        fresh = checked if checked is not None else freshness(ctx, plan)
        section = quality_section(build_test_results(build), fresh, started_at)
        con = ctx.connect_warehouse()
        try:
            section["webhook_reconciliation"] = reconciliation_counts(con)
        finally:
            con.close()
    add_quarantine(ctx, section)
    update_section(ctx.storage, ctx.run, "quality", section)
    return section


def add_quarantine(ctx: RunContext, section: dict[str, Any]) -> None:
    """The gate warns about every capture the last build left out (one warning each)."""
    files = read_quarantine(ctx.storage)
    section["quarantined_captures"] = len(files)
    section["warnings"] += quarantine_warnings(files)


def missing_bronze(ctx: RunContext) -> str | None:
    """What to do when nothing was ever extracted into this lake (most likely a LAKE_ROOT
    other than the extractor's), or None."""
    if never_extracted(ctx.storage):
        return (
            f"nothing was ever extracted into {ctx.storage.root} (no watermark, no Bronze): "
            "extract first (`make extract` or `payments-pipeline run-all --days 3`) with the "
            "same LAKE_ROOT"
        )
    return None


def run_pipeline(ctx: RunContext, plan: Plan, full_refresh: bool = False) -> ExitCode:
    """extract -> transform -> gate under one run id, stopping at the first failure. The dbt
    child starts first: it imports dbt (2-3 s) while the extraction runs."""
    with DbtChild(ctx.settings, ctx.storage, ctx.run) as child:
        try:
            extract(ctx, plan)
        except PipelineError as exc:
            exc.add_note("pipeline stopped at extract")  # cli.main prints it after the error
            raise
        with ctx.lock("run-pipeline"):
            started_at = now_iso()
            build, fold, checked = transform(ctx, full_refresh, then_freshness=True, child=child)
            section = gate(ctx, build, fold, started_at, checked)
    if not build.ok:
        return fail(
            f"run {ctx.run}: pipeline stopped at transform; Gold models downstream of a "
            f"failure keep their last good state:\n{describe_failures(build.failures)}"
        )
    print_reconciliation(section["webhook_reconciliation"])
    return report_gate(ctx.run, section)
