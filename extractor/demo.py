"""`make demo`: start the mock API if needed, run the whole pipeline (extract -> dbt build with
the quality gate -> freshness) into LAKE_ROOT, then print records per layer, the Gold tables,
the gate's result, where the files are, an example query and the HTML run report's path.
Stops what it started.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from extractor.context import RunContext
from extractor.lake import layout
from extractor.lake.ids import new_run_id
from extractor.lake.manifest import read_manifest
from extractor.report import write_report
from extractor.settings import REPO_ROOT, Settings
from extractor.transform import mrr_summary
from extractor.transform.gate import GOLD_MODELS, SILVER_MODELS
from extractor.transform.ledger_summary import LedgerNotBuilt, read_ledger, text_lines

if TYPE_CHECKING:
    import duckdb

DAYS = os.environ.get("DAYS", "3")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return json.loads(response.read()).get("status") == "ok"
    except (OSError, ValueError):
        return False


def _start_mock(settings: Settings) -> subprocess.Popen | None:
    """Start the mock on the configured port unless something already serves it."""
    if _answers(settings.api_base):
        print(f"using the API already running at {settings.api_base}")
        return None
    host_port = settings.api_base.split("://", 1)[1]
    host, _, port = host_port.partition(":")
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_api", "serve", "--host", host, "--port", port or "8000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if _answers(settings.api_base):
            print(f"started the mock Stripe API at {settings.api_base} (pid {process.pid})")
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"demo: the mock API did not start on {settings.api_base}; is the port taken?")


def _bronze_summary(ctx: RunContext) -> Counter:
    storage = ctx.storage
    counts: Counter = Counter()
    for key in storage.list(layout.BRONZE):
        if layout.is_part(key):
            entity = layout.entity_of(key)
            raw = storage.get(key) or b""
            if key.endswith(".gz"):
                raw = gzip.decompress(raw)
            counts[entity] += raw.count(b"\n")
    return counts


EXAMPLE_QUERY = (
    "select currency, sum(gross) as gross, sum(refunded) as refunded, "
    "settlement_currency as settles_in, sum(fee) as fee, sum(net_settlement) as net "
    "from agg_daily_revenue where settlement_currency is not null "
    "group by currency, settlement_currency order by currency"
)


def _run_pipeline(settings: Settings, log_path: Path) -> tuple[int, str]:
    """run-pipeline in a child process; its summary goes to our stdout, logs to a file."""
    run_id = new_run_id()
    print(f"running the pipeline (run {run_id}): extract {DAYS} days -> dbt build -> gate ...")
    print(f"  dbt output and JSON logs: {log_path}", flush=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        result = subprocess.run(
            [sys.executable, "-m", "extractor", "run-pipeline", "--days", DAYS, "--run-id", run_id],
            stderr=log,
        )
    return result.returncode, run_id


def print_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """The ledger's figures, as the run report shows them (one shared reading of Gold)."""
    print("\nLedger per settlement currency (major units, signed as each moves the balance):")
    try:
        ledgers = read_ledger(con)
    except LedgerNotBuilt as exc:
        print(f"  {exc}")
        return
    for line in text_lines(ledgers):
        print(line)
    print("  (gross + refunds + disputes + other + fees = net, Stripe's net after fees;")
    print("   net + paid out = the balance's change, from the extracted transactions: Stripe's")
    print("   balance once the whole history is extracted; docs/finance.md)")


def print_mrr(con: duckdb.DuckDBPyConnection) -> None:
    """MRR and its movements per currency, as the run report shows them."""
    print("\nMRR per currency (major units; movements over all months, MRR at the last month):")
    try:
        currencies = mrr_summary.read_mrr(con)
    except mrr_summary.MrrNotBuilt as exc:
        print(f"  {exc}")
        return
    for line in mrr_summary.text_lines(currencies):
        print(line)
    print("  (MRR at end = the movements' sum: new + expansion + reactivation - contraction")
    print("   - churn; Stripe's definition made exact, docs/finance.md. A subscription counts")
    print("   from its first state in Bronze: on a 3-day lake nearly all MRR is 'new' this")
    print("   month: Bronze holds no earlier state of them, docs/finance.md#limits)")


def _print_summary(ctx: RunContext, run_id: str) -> None:
    con = ctx.connect_warehouse()
    bronze = _bronze_summary(ctx)
    print("\nRecords per layer (Bronze keeps every copy; Silver one row per object):")
    print(f"  {'entity':<28} {'bronze lines':>12} {'silver rows':>12}")
    for model in SILVER_MODELS:
        entity = model.removeprefix("stg_stripe__")
        silver_rows = con.sql(f"select count(*) from {model}").fetchone()[0]
        print(f"  {entity:<28} {bronze.get(entity, 0):>12} {silver_rows:>12}")
    print(
        "  (invoice_line_items: Silver also unfolds the lines each invoice embeds; Bronze's own"
        "\n   lines are the rest of invoices with more than their embedded page, ADR 0053)"
    )
    print("\nGold tables:")
    for model in GOLD_MODELS:
        gold_rows = con.sql(f"select count(*) from {model}").fetchone()[0]
        print(f"  {model:<28} {gold_rows:>8} rows")
    print_ledger(con)
    print_mrr(con)

    doc = read_manifest(ctx.storage, run_id) or {}
    gate = doc.get("quality") or {}
    counts = (gate.get("tests") or {}).get("counts", {})
    fresh = (gate.get("freshness") or {}).get("counts", {})
    print(
        f"\nQuality gate: {gate.get('status', 'not run')} "
        f"(tests {counts}, freshness {fresh}, {len(gate.get('warnings', []))} warnings)"
    )
    for warning in gate.get("warnings", []):
        print(f"  warn {warning['name']}: {warning.get('message')}")
    if any(w["name"].endswith("_extracted") for w in gate.get("warnings", [])):
        print(
            "  (*_extracted: ids that point at objects created before the extracted window;"
            " `payments-pipeline backfill` of older days resolves them)"
        )

    root = ctx.settings.lake_root  # as the user wrote it
    print("\nWhere the files are:")
    print(f"  Bronze     {root}/{layout.BRONZE_RUN_PATTERN}")
    print(f"  Silver     {root}/{layout.SILVER_PATTERN}")
    print(f"  Gold       {root}/{layout.GOLD_PATTERN}")
    print(f"  Manifest   {root}/{layout.manifest_key(run_id)}")
    print(f"  Warehouse  {ctx.warehouse} (views over Silver and Gold)")

    print(f'\nExample query: payments-pipeline query "{EXAMPLE_QUERY}"')
    con.sql(EXAMPLE_QUERY).show(max_width=10_000)


def main() -> int:
    settings = Settings.from_env()
    ctx = RunContext.create(settings, run_id=None, starts_run=False)
    log_path = REPO_ROOT / "target" / "demo.log"
    mock = _start_mock(settings)
    try:
        code, run_id = _run_pipeline(settings, log_path)
    finally:
        if mock is not None:
            mock.terminate()
            mock.wait(timeout=10)
            print("stopped the mock Stripe API")
    if code != 0:
        print(f"demo: the pipeline failed (exit {code}); see {log_path}", file=sys.stderr)
        return code
    _print_summary(ctx, run_id)
    print(f"\nRun report: {write_report(ctx, run_id)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
