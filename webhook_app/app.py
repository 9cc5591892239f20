"""The webhook receiver: `POST /webhooks/stripe` and `GET /health` (Flask app factory).

A delivery is answered 200 only after its event is durable in the lake; every refusal says
why in `message`, and a storage failure is a 503 so Stripe delivers again later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from extractor import logs
from extractor.storage import LocalStorage, Storage, StorageError
from webhook_app.capture import InvalidEvent, capture, parse_event
from webhook_app.signature import (
    DEFAULT_TOLERANCE_SECONDS,
    HEADER,
    SignatureError,
    SignatureHeader,
    Verifier,
    parse_header,
)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # Stripe events are a few KB; 1 MiB leaves wide room.
STORAGE_RETRY_AFTER_SECONDS = 30
# The two success answers, serialised once (they are the hot path).
_ACCEPTED = {
    duplicate: json.dumps({"received": True, "duplicate": duplicate}).encode() + b"\n"
    for duplicate in (False, True)
}

DEFAULTS: dict[str, Any] = {
    # A Storage instance, or LAKE_ROOT (local path) to build one.
    "STORAGE": None,
    "LAKE_ROOT": None,
    # Signing secrets (strings); more than one while rotating.
    "WEBHOOK_SECRETS": (),
    "VERIFY_SIGNATURES": True,
    "SIGNATURE_TOLERANCE_SECONDS": DEFAULT_TOLERANCE_SECONDS,
    "MAX_BODY_BYTES": DEFAULT_MAX_BODY_BYTES,
    # Injectable clock (unix seconds) for signature freshness and the envelope's stamps.
    "CLOCK": time.time,
}


class WebhookConfigError(ValueError):
    """The app cannot run safely with this configuration."""


def _refuse(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"received": False, "error": code, "message": message}), status


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the receiver; refuses (WebhookConfigError) to verify without a secret."""
    settings = {**DEFAULTS, **(config or {})}
    storage: Storage | None = settings["STORAGE"]
    if storage is None:
        if not settings["LAKE_ROOT"]:
            raise WebhookConfigError("create_app needs STORAGE or LAKE_ROOT")
        storage = LocalStorage(settings["LAKE_ROOT"])
    clock = settings["CLOCK"]
    max_body = int(settings["MAX_BODY_BYTES"])
    verifier: Verifier | None = None
    if settings["VERIFY_SIGNATURES"]:
        secrets = tuple(s for s in settings["WEBHOOK_SECRETS"] if s)
        if not secrets:
            raise WebhookConfigError(
                "signature verification is on but no webhook signing secret is configured: "
                "set STRIPE_WEBHOOK_SECRET (whsec_...), or pass --insecure-no-verify for local "
                "testing only"
            )
        verifier = Verifier(secrets, int(settings["SIGNATURE_TOLERANCE_SECONDS"]), clock)

    app = Flask(__name__)
    # Secrets stay in the verifier's closure, never in app.config (which gets dumped/logged).
    app.config.update(
        MAX_BODY_BYTES=max_body,
        VERIFY_SIGNATURES=verifier is not None,
        SIGNATURE_TOLERANCE_SECONDS=settings["SIGNATURE_TOLERANCE_SECONDS"],
    )
    app.extensions["webhook_storage"] = storage

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok", "verifying_signatures": verifier is not None})

    @app.post("/webhooks/stripe")
    def receive() -> tuple[Response, int]:
        received_at = clock()
        length = request.content_length
        if length is not None and length > max_body:
            return _too_large(length)
        header = request.headers.get(HEADER)
        parsed: SignatureHeader | None = None
        if verifier is not None:
            # Header problems are answered before reading a body we would refuse anyway.
            try:
                parsed = parse_header(header)
            except SignatureError as exc:
                return _refused_signature(exc)
        body = request.stream.read(max_body + 1)
        if len(body) > max_body:
            return _too_large(None)
        if verifier is not None:
            try:
                verifier.verify(body, header, parsed)
            except SignatureError as exc:
                return _refused_signature(exc)
        try:
            event = parse_event(body)
        except InvalidEvent as exc:
            logs.warn("webhook_refused", status=400, reason=exc.code, message=str(exc))
            return _refuse(400, exc.code, str(exc))
        try:
            result = capture(storage, event, received_at, clock())
        except StorageError as exc:
            logs.error(
                "webhook_storage_failed", event_id=event.id, event_type=event.type, error=str(exc)
            )
            response, status = _refuse(
                503, "storage_unavailable", "the event could not be stored durably; retry later"
            )
            response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
            return response, status
        logs.log(
            "webhook_captured",
            event_id=event.id,
            event_type=event.type,
            duplicate=result.duplicate,
            key=result.key,
        )
        return Response(_ACCEPTED[result.duplicate], mimetype="application/json"), 200

    def _too_large(length: int | None) -> tuple[Response, int]:
        size = f"{length} bytes" if length is not None else "more than that"
        message = f"body is {size}; the limit is {max_body} bytes"
        logs.warn("webhook_refused", status=413, reason="body_too_large", message=message)
        return _refuse(413, "body_too_large", message)

    def _refused_signature(exc: SignatureError) -> tuple[Response, int]:
        logs.warn("webhook_refused", status=400, reason=exc.code, message=str(exc))
        return _refuse(400, exc.code, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        return _refuse(status, (exc.name or "error").lower().replace(" ", "_"), exc.description)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        # Never 2xx when something unforeseen happened: Stripe will retry a 500.
        logs.error("webhook_unexpected_error", error=f"{type(exc).__name__}: {exc}")
        return _refuse(500, "internal_error", "unexpected error; the event was not stored")

    return app
