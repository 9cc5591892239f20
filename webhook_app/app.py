"""The webhook receiver: `POST /webhooks/stripe` and `GET /health` (Flask app factory).

A delivery is answered 200 only after its event is durable in the lake; every refusal says
why in `message`, and a storage failure is a 503 so Stripe delivers again later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from extractor import logs
from extractor.lake.storage import Storage, StorageError
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
PATH = "/webhooks/stripe"
_ENVIRON_HEADER = "HTTP_" + HEADER.upper().replace("-", "_")
_STATUS_LINES = {
    200: "200 OK",
    400: "400 Bad Request",
    413: "413 Content Too Large",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}
# The two success answers, serialised once (they are the hot path).
_ACCEPTED = {
    duplicate: json.dumps({"received": True, "duplicate": duplicate}).encode() + b"\n"
    for duplicate in (False, True)
}

DEFAULTS: dict[str, Any] = {
    # The lake to store events in (a Storage; required).
    "STORAGE": None,
    # Signing secrets (strings); more than one while rotating.
    "WEBHOOK_SECRETS": (),
    "VERIFY_SIGNATURES": True,
    "SIGNATURE_TOLERANCE_SECONDS": DEFAULT_TOLERANCE_SECONDS,
    "MAX_BODY_BYTES": DEFAULT_MAX_BODY_BYTES,
    # Injectable clock (unix seconds) for signature freshness and the envelope's stamps.
    "CLOCK": time.time,
}

# An answer: status, JSON body, extra headers.
Answer = tuple[int, bytes, tuple[tuple[str, str], ...]]


class WebhookConfigError(ValueError):
    """The app cannot run safely with this configuration."""


def _refusal(status: int, code: str, message: str, *headers: tuple[str, str]) -> Answer:
    body = {"received": False, "error": code, "message": message}
    return status, json.dumps(body).encode() + b"\n", headers


def _content_length(environ: Mapping[str, Any]) -> int | None:
    """As werkzeug reads it: none for a chunked request, or when missing or invalid."""
    if environ.get("HTTP_TRANSFER_ENCODING", "") == "chunked":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


class _Receiver:
    """`POST /webhooks/stripe` as plain WSGI in front of Flask.

    The hot path needs none of Flask's request machinery (context, routing, response
    objects), which cost more CPU per request than verifying and storing the event; every
    other request, `/health` and the JSON errors, is Flask's.
    """

    def __init__(self, handle: Callable[[Mapping[str, Any]], Answer], flask_wsgi: Any) -> None:
        self.handle = handle
        self.flask_wsgi = flask_wsgi

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.flask_wsgi(environ, start_response)
        status, body, headers = self.handle(environ)
        start_response(
            _STATUS_LINES[status],
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers],
        )
        return [body]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the receiver on `config["STORAGE"]`; refuses (WebhookConfigError) without a
    Storage, or to verify without a secret."""
    settings = {**DEFAULTS, **(config or {})}
    storage = settings["STORAGE"]
    if not isinstance(storage, Storage):
        raise WebhookConfigError(
            f"create_app needs STORAGE, a Storage such as storage_for(settings); got {storage!r}"
        )
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

    def receive(environ: Mapping[str, Any]) -> Answer:
        """One delivery, from the WSGI environ to the answer; never raises."""
        try:
            return _receive(environ)
        except Exception as exc:
            # Never 2xx when something unforeseen happened: Stripe will retry a 500.
            logs.error("webhook_unexpected_error", error=f"{type(exc).__name__}: {exc}")
            return _refusal(500, "internal_error", "unexpected error; the event was not stored")

    def _receive(environ: Mapping[str, Any]) -> Answer:
        received_at = clock()
        length = _content_length(environ)
        if length is not None and length > max_body:
            return _too_large(length)
        header = environ.get(_ENVIRON_HEADER)
        parsed: SignatureHeader | None = None
        if verifier is not None:
            # Header problems are answered before reading a body we would refuse anyway.
            try:
                parsed = parse_header(header)
            except SignatureError as exc:
                return _refused_signature(exc)
        # As werkzeug does: read at most Content-Length, and without one only a body the
        # server has already de-chunked and terminated (waitress), else nothing.
        if length is not None:
            body = environ["wsgi.input"].read(min(length, max_body + 1))
        elif environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read(max_body + 1)
        else:
            body = b""
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
            return _refusal(400, exc.code, str(exc))
        try:
            result = capture(storage, event, received_at, clock())
        except StorageError as exc:
            logs.error(
                "webhook_storage_failed", event_id=event.id, event_type=event.type, error=str(exc)
            )
            return _refusal(
                503,
                "storage_unavailable",
                "the event could not be stored durably; retry later",
                ("Retry-After", str(STORAGE_RETRY_AFTER_SECONDS)),
            )
        logs.log(
            "webhook_captured",
            event_id=event.id,
            event_type=event.type,
            duplicate=result.duplicate,
            key=result.key,
        )
        return 200, _ACCEPTED[result.duplicate], ()

    def _too_large(length: int | None) -> Answer:
        size = f"{length} bytes" if length is not None else "more than that"
        message = f"body is {size}; the limit is {max_body} bytes"
        logs.warn("webhook_refused", status=413, reason="body_too_large", message=message)
        return _refusal(413, "body_too_large", message)

    def _refused_signature(exc: SignatureError) -> Answer:
        logs.warn("webhook_refused", status=400, reason=exc.code, message=str(exc))
        return _refusal(400, exc.code, str(exc))

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok", "verifying_signatures": verifier is not None})

    @app.post(PATH)
    def receive_route() -> Response:
        # Normally _Receiver answers first; this keeps the route in Flask's map (so another
        # method is a 405) and serves the rare caller that mounts app.wsgi_app itself.
        status, body, headers = receive(request.environ)
        return Response(body, status, headers=list(headers), mimetype="application/json")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify({"received": False, "error": code, "message": exc.description}), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        logs.error("webhook_unexpected_error", error=f"{type(exc).__name__}: {exc}")
        body = {
            "received": False,
            "error": "internal_error",
            "message": "unexpected error; the event was not stored",
        }
        return jsonify(body), 500

    app.wsgi_app = _Receiver(receive, app.wsgi_app)  # type: ignore[method-assign]
    return app
