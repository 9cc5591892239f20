"""`payments-pipeline`: the command-line entry point (docs/architecture.md#cli).

This module parses arguments, builds the run context once, runs the command and turns what
it raised into one message and one exit code (ADR 0050). The commands are in
`extractor.commands`.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import NoReturn

from extractor import commands, logs
from extractor.context import RunContext
from extractor.exits import ExitCode, PipelineError, UsageError, error_line, fail
from extractor.lake.ids import InvalidName
from extractor.lake.lock import LockHeld
from extractor.settings import ENVIRONMENT_HELP, ConfigError, Settings
from extractor.streams import SELECTABLE_NAMES

Command = Callable[[argparse.Namespace, RunContext], ExitCode]


@dataclass(frozen=True)
class Subcommand:
    run: Command
    # Starts a run: gets a run id (and the run's logs carry it); SIGTERM stops it like Ctrl-C.
    starts_run: bool


COMMANDS: dict[str, Subcommand] = {
    "run-batch": Subcommand(commands.cmd_run_batch, starts_run=True),
    "run-all": Subcommand(commands.cmd_run_all, starts_run=True),
    "backfill": Subcommand(commands.cmd_backfill, starts_run=True),
    "status": Subcommand(commands.cmd_status, starts_run=False),
    "unlock": Subcommand(commands.cmd_unlock, starts_run=False),
    "run-transforms": Subcommand(commands.cmd_run_transforms, starts_run=True),
    "run-quality": Subcommand(commands.cmd_run_quality, starts_run=True),
    "run-pipeline": Subcommand(commands.cmd_run_pipeline, starts_run=True),
    "query": Subcommand(commands.cmd_query, starts_run=False),
    "report": Subcommand(commands.cmd_report, starts_run=False),
    "run-webhooks": Subcommand(commands.cmd_run_webhooks, starts_run=False),
}


def _add_run_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-id",
        help="fix the run id (default: $RUN_ID, else a new UTC timestamp-based id)",
    )


# A century: longer than Stripe has existed, short enough for every date computed from it.
MAX_DAYS = 36_500


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{days} is not between 1 and {MAX_DAYS}")
    return days


def _utc_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _add_extract_window(parser: argparse.ArgumentParser) -> None:
    """The options of every command that extracts incrementally."""
    parser.add_argument(
        "--days",
        type=_days,
        default=3,
        help=f"look-back on the first run, 1 to {MAX_DAYS} (default 3)",
    )
    parser.add_argument(
        "--full-relist",
        action="store_true",
        help="events watermark older than 30 days: re-list every entity since its first run",
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


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in the one format and exit code every command uses."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    p.add_argument(
        "--entity",
        required=True,
        choices=SELECTABLE_NAMES,
        help="payouts also lists each new payout's balance transactions",
    )
    _add_extract_window(p)
    _add_run_id(p)

    p = sub.add_parser("run-all", help="extract every entity (and the events feed) into Bronze")
    _add_extract_window(p)
    _add_run_id(p)

    p = sub.add_parser(
        "backfill", help="re-extract an explicit date range; watermarks never move back"
    )
    p.add_argument(
        "--start", required=True, type=_utc_date, help="first UTC date, YYYY-MM-DD (inclusive)"
    )
    p.add_argument(
        "--end",
        required=True,
        type=_utc_date,
        help="last UTC date, YYYY-MM-DD (inclusive; a later day than the API's ends at its clock)",
    )
    p.add_argument(
        "--entity",
        action="append",
        choices=SELECTABLE_NAMES,
        help="repeatable; default all (payouts brings its balance transactions)",
    )
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
    _add_extract_window(p)
    _add_full_refresh(p)
    _add_run_id(p)

    p = sub.add_parser(
        "query", help="run a read-only SQL query against the Gold and Silver views and print it"
    )
    p.add_argument("sql", help='for example "select * from agg_daily_revenue limit 5"')
    p.add_argument("--max-rows", type=int, default=40, help="rows to print (default 40)")

    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run (no network needed to view it)",
        description=(
            "Write one static HTML page for a run: step times and status, records per layer, "
            "the quality gate's results, webhook reconciliation, daily net revenue and the "
            "ledger (fees, net, payouts, balance) per settlement currency, and MRR with its "
            "movements per currency and month, each with a chart per currency. Needs the "
            "run's manifest and the warehouse (run-pipeline first)."
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
    p.add_argument(
        "--connection-limit",
        type=int,
        help="open connections per worker before new ones wait in the backlog (default 1000)",
    )
    p.add_argument(
        "--read-timeout",
        type=int,
        help=(
            "seconds a connection gets to send a whole request (headers and body), and the "
            "longest it may sit idle, before it is closed (default 10)"
        ),
    )
    return parser


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C: the manifest says failed, the lock is freed, and a
    dbt child is killed with us (DbtChild stops it on any exception)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests calling in-process from a worker)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return fail(str(exc), ExitCode.USAGE)
    subcommand = COMMANDS[args.command]
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"payments-pipeline: configuration error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    run_id = getattr(args, "run_id", None) if subcommand.starts_run else None
    try:
        ctx = RunContext.create(settings, run_id, subcommand.starts_run)
    except (InvalidName, PipelineError) as exc:
        return fail(error_line(exc), ExitCode.USAGE)
    return int(run_command(subcommand, args, ctx))


def run_command(subcommand: Subcommand, args: argparse.Namespace, ctx: RunContext) -> ExitCode:
    """Run one command; every expected failure becomes one message and one exit code."""
    where = f"run {ctx.run_id} " if ctx.run_id else ""
    try:
        if subcommand.starts_run:
            with _sigterm_as_interrupt():
                return subcommand.run(args, ctx)
        return subcommand.run(args, ctx)
    except LockHeld as exc:
        return fail(error_line(exc), ExitCode.LOCKED)
    except KeyboardInterrupt:
        logs.error("interrupted", step=args.command)
        return fail(
            f"{where}interrupted; nothing after the last committed state is kept",
            ExitCode.INTERRUPTED,
        )
    except (UsageError, InvalidName) as exc:
        return fail(error_line(exc), ExitCode.USAGE)
    except (PipelineError, ValueError) as exc:
        code = fail(f"{where}failed: {error_line(exc)}" if where else error_line(exc))
        for note in getattr(exc, "__notes__", ()):
            fail(f"{where}{note}")
        return code


if __name__ == "__main__":
    sys.exit(main())
