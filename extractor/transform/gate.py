"""The quality gate's verdict: dbt's results folded into manifest sections and one answer.

run-transforms is `dbt build`: seeds, models and their tests interleaved, so a failing
Silver test skips the Gold models built on it and Gold keeps its last good state (ADR 0011).
run-quality is `dbt test` plus `dbt source freshness`. Both record a manifest section
(`transform`, `quality`) and exit non-zero naming every failing test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from extractor.exits import ExitCode, fail
from extractor.lake import layout
from extractor.lake.storage import Storage
from extractor.streams import ENTITY_NAMES
from extractor.transform.dbt import DbtOutcome
from extractor.transform.failed_checks import describe_checks

if TYPE_CHECKING:
    import duckdb

# Tables `query`, the demo and the report know about, in the order they are shown.
GOLD_MODELS = (
    "dim_customers",
    "fct_payments",
    "fct_refunds",
    "fct_disputes",
    "fct_invoices",
    "agg_daily_revenue",
    "fct_balance_transactions",
    "fct_payouts",
    "rpt_payout_reconciliation",
    "agg_daily_balance",
    "dim_products",
    "dim_prices",
    "dim_subscriptions",
    "dim_subscription_history",
    "fct_invoice_line_items",
    "fct_mrr_movements",
    "agg_monthly_mrr",
)
SILVER_MODELS = tuple(f"stg_stripe__{entity}" for entity in ENTITY_NAMES)
TEST_KINDS = ("test", "unit_test")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def transform_section(build: DbtOutcome, started_at: str) -> dict[str, Any]:
    section = build.as_dict()
    section["started_at"] = started_at
    section["ended_at"] = now_iso()
    return section


def quality_section(
    tests: DbtOutcome | None, freshness: DbtOutcome | None, started_at: str
) -> dict[str, Any]:
    """One gate verdict from the tests (of a build or of `dbt test`) and freshness."""
    parts = [p for p in (tests, freshness) if p is not None]
    section: dict[str, Any] = {
        "status": "succeeded" if all(p.ok for p in parts) else "failed",
        "started_at": started_at,
        "ended_at": now_iso(),
        "failures": [f for p in parts for f in p.failures],
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
    """One line per failure, then each distinct hint (what to change) once."""
    lines, hints = [], []
    for failure in outcome_failures:
        detail = failure.get("message") or ""
        line = f"  {failure['kind']} {failure['name']}: {failure['status']} {detail}"
        lines.append(line.rstrip())
        lines += describe_checks(failure)
        if (hint := failure.get("hint")) and hint not in hints:
            hints.append(hint)
    return "\n".join(lines + hints)


def build_test_results(build: DbtOutcome) -> DbtOutcome:
    """The test results of a `dbt build`, as if `dbt test` had run them."""
    counts: dict[str, int] = {}
    for kind in TEST_KINDS:
        for status, n in build.kind_counts.get(kind, {}).items():
            counts[status] = counts.get(status, 0) + n
    failures = [f for f in build.failures if f["kind"] in TEST_KINDS]
    return DbtOutcome(
        command="build (tests)",
        exit_code=1 if failures else 0,
        elapsed_seconds=0.0,
        counts=counts,
        kind_counts={k: v for k, v in build.kind_counts.items() if k in TEST_KINDS},
        failures=failures,
        warnings=[w for w in build.warnings if w["kind"] in TEST_KINDS],
    )


def report_gate(run_id: str, section: dict[str, Any]) -> ExitCode:
    """Print the gate's verdict; FAILED when any test or freshness check failed."""
    if section["status"] != "succeeded":
        return fail(
            f"run {run_id}: quality gate failed ({len(section['failures'])} failing):\n"
            + describe_failures(section["failures"])
        )
    warned = len(section["warnings"])
    print(f"run {run_id} quality gate passed" + (f" with {warned} warnings" if warned else ""))
    quarantined = [w for w in section["warnings"] if w["kind"] == "quarantine"]
    if quarantined:
        print(
            f"  WARNING {len(quarantined)} webhook capture(s) quarantined as unreadable "
            f"(see {layout.QUARANTINE_KEY}): " + ", ".join(w["name"] for w in quarantined)
        )
    return ExitCode.OK


def never_extracted(storage: Storage) -> bool:
    """Nothing was ever extracted into this lake: no watermark and no Bronze. (An entity
    with no objects is normal: its extraction leaves a watermark and no part, and it builds
    empty.)"""
    for prefix in (layout.WATERMARKS, layout.BRONZE):
        if next(iter(storage.list(prefix)), None) is not None:
            return False
    return True


# Gold's reconciliation of webhooks and the batch (dbt_project/models/marts).
RECONCILIATION_MODEL = "rpt_webhook_reconciliation"


def pending_webhook_events(con: duckdb.DuckDBPyConnection) -> int:
    """Events Gold's reconciliation holds as `pending` (a webhook the batch has not read yet):
    their status moves with the events watermark, which a run moves without new data."""
    query = f"select count(*) from {RECONCILIATION_MODEL} where reconciliation_status = 'pending'"
    return int(con.sql(query).fetchone()[0])


def reconciliation_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Events per reconciliation status, counted while the webhook receiver was listening
    (before its first capture every event is trivially a missing webhook)."""
    result = con.sql(
        "select reconciliation_status, count(*) from rpt_webhook_reconciliation "
        "where is_in_webhook_coverage or is_seen_by_webhook group by 1 order by 1"
    ).fetchall()
    outside = con.sql(
        "select count(*) from rpt_webhook_reconciliation "
        "where not is_in_webhook_coverage and not is_seen_by_webhook"
    ).fetchone()[0]
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
