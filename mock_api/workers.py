"""`serve --workers N`: N waitress processes on one listening socket, and what that costs.

One Python process renders pages on one core; Stripe's live read ceiling (100 requests/s of
100 objects) needs more than that here. So the socket is bound once, the app (dataset, its
caches, the clock) is built once, and N processes are forked from it, each serving the same
socket (the webhook receiver's supervisor, `webhook_app.serve.supervise`).

Each process then holds its own copy of the mock's mutable state: the clock, the fault
settings with their counters and token bucket, the request log, its page cache (pages one
renders are shared with the others through files, `PageCache.share`). What would differ
between processes is refused: changing the clock or the faults over HTTP, reading the
request log, and starting with faults whose outcome depends on counting requests (a rate
limit would allow N times its rate, a script's `nth` would count per process, random faults
would no longer follow the order of requests). A fixed `latency_ms` is the same everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

from flask import Response

from mock_api.control import DEFAULT_FAULTS

SHM = "/dev/shm"
# Fault settings that keep per-process state; only their defaults are allowed with workers.
COUNTED_FAULTS = (
    "rate_limit",
    "script",
    "error_rate",
    "truncate_rate",
    "malformed_rate",
    "drop_rate",
)


def check_faults(config: dict[str, Any], workers: int) -> None:
    """ValueError if `config` (merged onto the defaults) needs one process and has more."""
    if workers <= 1:
        return
    counted = [key for key in COUNTED_FAULTS if config.get(key) != DEFAULT_FAULTS[key]]
    if counted:
        raise ValueError(
            f"faults {counted} count requests in one process; with --workers {workers} each "
            "process would count its own: use --workers 1"
        )


def one_process_only(what: str, workers: int) -> Response:
    """409 for a control endpoint whose state each worker process keeps for itself."""
    body = {
        "error": {
            "message": f"{what} needs one process: this mock runs {workers} worker "
            "processes, each with its own clock, faults and request log (serve --workers 1)"
        }
    }
    return Response(json.dumps(body), status=409, mimetype="application/json")


def serve_workers(app: Any, host: str, port: int, threads: int, workers: int, ident: str) -> int:
    """Serve `app` from `workers` forked processes on one socket until stopped; the exit
    code (1: a worker died, 2: the port could not be bound). The workers share rendered
    pages through a temporary directory (in memory where /dev/shm exists), removed here."""
    from waitress import create_server

    from webhook_app.serve import listen, supervise

    try:
        sock = listen(host, port)
    except OSError as exc:
        print(f"mock_api: cannot listen on {host}:{port}: {exc}", flush=True)
        return 2
    pages = tempfile.mkdtemp(prefix="mock-api-pages-", dir=SHM if os.path.isdir(SHM) else None)
    app.extensions["mock"]["cache"].share(pages)

    def worker() -> int:
        create_server(app, sockets=[sock], threads=threads, ident=ident).run()
        return 0

    try:
        return supervise(workers, worker, sock, name="mock_api")
    finally:
        shutil.rmtree(pages, ignore_errors=True)
