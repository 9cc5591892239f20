"""`payments-pipeline`: the command-line entry point (DESIGN §5).

This module only parses arguments and dispatches; each command lives in the module that
owns it, imported lazily so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from extractor.settings import ENVIRONMENT_HELP, ConfigError, Settings

ENTITIES = ("customers", "charges", "payment_intents", "invoices", "events")

# subcommand -> "module:function"; each function takes (args, settings) and returns an exit code.
COMMANDS: dict[str, str] = {
    "run-batch": "extractor.runner:cmd_run_batch",
    "run-all": "extractor.runner:cmd_run_all",
    "backfill": "extractor.runner:cmd_backfill",
    "status": "extractor.runner:cmd_status",
    "unlock": "extractor.runner:cmd_unlock",
    "run-transforms": "extractor.transforms:cmd_run_transforms",
    "run-quality": "extractor.transforms:cmd_run_quality",
    "run-pipeline": "extractor.pipeline:cmd_run_pipeline",
    "query": "extractor.transforms:cmd_query",
    "report": "extractor.report:cmd_report",
    "run-webhooks": "webhook_app.serve:cmd_run_webhooks",
}


def _add_run_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-id",
        help="fix the run id (default: $RUN_ID, else a new UTC timestamp-based id)",
    )


def _add_full_refresh(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild Silver from all of Bronze instead of folding in only the new runs",
    )


def _environment_epilog() -> str:
    width = max(len(name) for name, _, _ in ENVIRONMENT_HELP)
    rows = [
        f"  {name:<{width}}  {purpose} (default: {default})"
        for name, default, purpose in ENVIRONMENT_HELP
    ]
    return "\n".join(
        [
            "settings, from the environment:",
            *rows,
            "",
            "first time: `make demo`, or start the mock (`make mock-api`) and run",
            "`payments-pipeline run-pipeline --days 3`, then `payments-pipeline query ...`.",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payments-pipeline",
        description=(
            "Extract Stripe-style objects into an immutable Bronze lake, build Silver/Gold\n"
            "with dbt on DuckDB, and gate each run on data tests."
        ),
        epilog=_environment_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run-batch", help="extract one entity incrementally into Bronze")
    p.add_argument("--entity", required=True, choices=ENTITIES)
    p.add_argument("--days", type=int, default=3, help="look-back on the first run (default 3)")
    p.add_argument(
        "--full-relist",
        action="store_true",
        help="events watermark older than 30 days: re-list every entity since its first run",
    )
    _add_full_refresh(p)
    _add_run_id(p)

    p = sub.add_parser("run-all", help="extract every entity (and the events feed) into Bronze")
    p.add_argument("--days", type=int, default=3, help="look-back on the first run (default 3)")
    p.add_argument(
        "--full-relist",
        action="store_true",
        help="events watermark older than 30 days: re-list every entity since its first run",
    )
    _add_full_refresh(p)
    _add_run_id(p)

    p = sub.add_parser(
        "backfill", help="re-extract an explicit date range; watermarks never move back"
    )
    p.add_argument("--start", required=True, help="first UTC date, YYYY-MM-DD (inclusive)")
    p.add_argument("--end", required=True, help="last UTC date, YYYY-MM-DD (inclusive)")
    p.add_argument("--entity", action="append", choices=ENTITIES, help="repeatable; default all")
    _add_run_id(p)

    sub.add_parser("status", help="show watermarks, the lock and the last runs")

    p = sub.add_parser("unlock", help="clear a stale run lock (only when no run is alive)")
    p.add_argument("--force", action="store_true", help="clear even if the lock looks fresh")

    p = sub.add_parser("run-transforms", help="dbt build of Silver and Gold for this LAKE_ROOT")
    _add_full_refresh(p)
    _add_run_id(p)

    p = sub.add_parser("run-quality", help="dbt tests and source freshness (the quality gate)")
    _add_run_id(p)

    p = sub.add_parser("run-pipeline", help="extract, transform and gate under one run id")
    p.add_argument("--days", type=int, default=3, help="look-back on the first run (default 3)")
    p.add_argument(
        "--full-relist",
        action="store_true",
        help="events watermark older than 30 days: re-list every entity since its first run",
    )
    _add_full_refresh(p)
    _add_run_id(p)

    p = sub.add_parser("query", help="run a SQL query against the Gold tables and print it")
    p.add_argument("sql", help='for example "select * from agg_daily_revenue limit 5"')
    p.add_argument("--max-rows", type=int, default=40, help="rows to print (default 40)")

    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run (no network needed to view it)",
        description=(
            "Write one static HTML page for a run: step times and status, records per layer, "
            "the quality gate's results, webhook reconciliation and a daily net revenue chart "
            "per currency. Needs the run's manifest and the warehouse (run-pipeline first)."
        ),
    )
    p.add_argument(
        "--run-id", help="the run to report (default: the newest run that has a manifest)"
    )
    p.add_argument(
        "--out",
        help=(
            "output file (default: <LAKE_ROOT>/_state/reports/run_<run_id>.html; "
            "target/reports/run_<run_id>.html for an s3:// lake)"
        ),
    )

    p = sub.add_parser("run-webhooks", help="serve the webhook receiver on 127.0.0.1:8001")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8001, help="port to listen on (default 8001)")
    p.add_argument(
        "--insecure-no-verify",
        action="store_true",
        help="accept unsigned webhooks (testing only; logs a warning on every start)",
    )
    p.add_argument(
        "--tolerance-seconds",
        type=int,
        help="reject signatures whose timestamp is further than this from now (default 300)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        help="answer 413 above this request size in bytes (default 1 MiB)",
    )
    p.add_argument("--threads", type=int, help="waitress threads per worker process (default 8)")
    p.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port (default: one per CPU; 1 serves in-process)",
    )
    return parser


def _resolve(target: str) -> Callable[[argparse.Namespace, Settings], int]:
    module_name, _, func_name = target.partition(":")
    return getattr(importlib.import_module(module_name), func_name)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"payments-pipeline: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        command = _resolve(COMMANDS[args.command])
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith(("extractor.", "webhook_app.")):
            raise
        # Commands whose part has not landed yet say so instead of printing a traceback.
        print(
            f"payments-pipeline: {args.command} is not built yet ({exc.name} is missing)",
            file=sys.stderr,
        )
        return 2
    return int(command(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
