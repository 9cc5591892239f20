"""`python -m mock_api serve --host 127.0.0.1 --port 8000`: the mock on a real WSGI server."""

from __future__ import annotations

import argparse
import logging
import sys

from waitress import serve

from mock_api.app import create_app
from mock_api.workers import serve_workers

IDENT = "mock-stripe"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_api", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the mock API (config from MOCK_* env variables)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving one socket (default 1; more refuse clock/fault changes, "
        "see docs/mock_api.md)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    try:
        app = create_app({"MOCK_WORKERS": args.workers})
    except ValueError as exc:
        print(f"mock_api: bad configuration: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("waitress").setLevel(logging.WARNING)
    print(
        f"mock Stripe API on http://{args.host}:{args.port} (docs: /docs)"
        + (f", {args.workers} worker processes" if args.workers > 1 else ""),
        flush=True,
    )
    if args.workers > 1:
        return serve_workers(app, args.host, args.port, args.threads, args.workers, IDENT)
    # One process: the clock and fault state are shared by every request.
    serve(app, host=args.host, port=args.port, threads=args.threads, ident=IDENT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
