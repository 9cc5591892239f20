"""`python -m mock_api serve --host 127.0.0.1 --port 8000`: the mock on a real WSGI server."""

from __future__ import annotations

import argparse
import logging
import sys

from waitress import serve

from mock_api.app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_api", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the mock API (config from MOCK_* env variables)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        app = create_app()
    except ValueError as exc:
        print(f"mock_api: bad configuration: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("waitress").setLevel(logging.WARNING)
    print(f"mock Stripe API on http://{args.host}:{args.port} (docs: /docs)", flush=True)
    # One process: the clock and fault state must be shared by every request.
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="mock-stripe")
    return 0


if __name__ == "__main__":
    sys.exit(main())
