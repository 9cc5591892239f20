"""`payments-pipeline run-webhooks`: serve the receiver with waitress (a real WSGI server).

Verification is on unless `--insecure-no-verify` is given; with verification on and no
STRIPE_WEBHOOK_SECRET the server refuses to start. Logs are JSON lines on stderr, including
waitress's own, and the secret is registered for redaction (it is never logged on purpose).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from extractor import logs
from extractor.settings import Settings
from extractor.storage import storage_for
from webhook_app.app import (
    DEFAULT_MAX_BODY_BYTES,
    WebhookConfigError,
    create_app,
)
from webhook_app.signature import DEFAULT_TOLERANCE_SECONDS

DEFAULT_THREADS = 8
EXIT_CONFIG = 2
WAITRESS_BODY_FACTOR = 4


def _route_waitress_logs() -> None:
    """Make waitress's own messages JSON lines too."""
    waitress_logger = logging.getLogger("waitress")
    waitress_logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logs.JsonFormatter())
    waitress_logger.addHandler(handler)
    waitress_logger.setLevel(logging.INFO)
    waitress_logger.propagate = False


def app_config(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The create_app config for these CLI arguments and settings."""
    return {
        "STORAGE": storage_for(settings),
        "WEBHOOK_SECRETS": (settings.webhook_secret.reveal(),),
        "VERIFY_SIGNATURES": not getattr(args, "insecure_no_verify", False),
        # Optional flags: the CLI may grow them; the defaults are DESIGN §6's.
        "SIGNATURE_TOLERANCE_SECONDS": getattr(args, "tolerance_seconds", None)
        or DEFAULT_TOLERANCE_SECONDS,
        "MAX_BODY_BYTES": getattr(args, "max_body_bytes", None) or DEFAULT_MAX_BODY_BYTES,
    }


def cmd_run_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    logs.configure(run_id=settings.run_id, secrets=[settings.webhook_secret.reveal()])
    _route_waitress_logs()
    verify = not args.insecure_no_verify
    try:
        config = app_config(args, settings)
        app = create_app(config)
    except WebhookConfigError as exc:
        logs.error("webhook_server_refused_to_start", message=str(exc))
        print(f"payments-pipeline run-webhooks: refusing to start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not verify:
        logs.warn(
            "webhook_signature_verification_disabled",
            message="--insecure-no-verify: unsigned and forged webhooks will be accepted; "
            "never use this outside local testing",
        )

    import waitress

    threads = getattr(args, "threads", None) or DEFAULT_THREADS
    server = waitress.create_server(
        app,
        host=args.host,
        port=args.port,
        threads=threads,
        # Waitress buffers a whole body (de-chunking it) before the app runs; this backstop
        # bounds that buffer, while the app answers the JSON 413 for anything up to it.
        max_request_body_size=WAITRESS_BODY_FACTOR * config["MAX_BODY_BYTES"],
    )

    def stop(signum: int, _frame: object) -> None:
        logs.log("webhook_server_stopping", signal=signal.Signals(signum).name)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    logs.log(
        "webhook_server_started",
        url=f"http://{args.host}:{server.effective_port}/webhooks/stripe",
        lake=config["STORAGE"].root,
        verifying_signatures=verify,
        tolerance_seconds=config["SIGNATURE_TOLERANCE_SECONDS"],
        max_body_bytes=config["MAX_BODY_BYTES"],
        threads=threads,
    )
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
    logs.log("webhook_server_stopped")
    return 0
