"""Flask app factory for the mock Stripe API: thin HTTP over `mock_api.dataset`."""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from flask import Flask, Response, request

from mock_api.control import Clock, Faults, RequestLog
from mock_api.dataset import (
    EVENT_TYPES,
    RESOURCES,
    CreatedFilter,
    Dataset,
    MockConfig,
    MockError,
    parse_time,
    versions,
)
from mock_api.docs import DOCS_HTML, docs_asset, openapi_spec
from mock_api.page_cache import DEFAULT_MAX_BYTES, PageCache
from mock_api.workers import check_faults, one_process_only

LIST_RESOURCES = (*RESOURCES, "events")
_CREATED_KEY = re.compile(r"^created(?:\[(gt|gte|lt|lte)\])?$")
_ARRAY_KEY = re.compile(r"^(expand|types)\[\d*\]$")


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status=status, mimetype="application/json", headers=headers)


def _error(exc: MockError, headers: dict[str, str] | None = None) -> Response:
    return _json(exc.body(), exc.status, headers)


def _int_param(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise MockError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
        ) from None


def _created_filter(args) -> CreatedFilter:
    gte: int | None = None
    lte: int | None = None
    for key in args:
        match = _CREATED_KEY.match(key)
        if not match:
            continue
        value = _int_param(key, args[key])
        op = match.group(1)
        if op is None:
            gte, lte = value, value
        elif op == "gt":
            gte = value + 1 if gte is None else max(gte, value + 1)
        elif op == "gte":
            gte = value if gte is None else max(gte, value)
        elif op == "lt":
            lte = value - 1 if lte is None else min(lte, value - 1)
        else:
            lte = value if lte is None else min(lte, value)
    return CreatedFilter(gte=gte, lte=lte)


def _array(args, name: str) -> list[str]:
    return [
        v
        for key in args
        if _ARRAY_KEY.match(key) and key.startswith(name)
        for v in args.getlist(key)
    ]


def _event_types(args) -> tuple[str, ...] | None:
    patterns = _array(args, "types") + ([args["type"]] if "type" in args else [])
    if not patterns:
        return None
    return tuple(t for t in EVENT_TYPES if any(fnmatch.fnmatchcase(t, p) for p in patterns))


def _api_key(header: str) -> str | None:
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[len("Basic ") :]).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.split(":", 1)[0]
    return None


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config` may set MOCK_CONFIG, MOCK_NOW, MOCK_FAULTS, MOCK_API_KEYS,
    MOCK_PAGE_CACHE_MB and MOCK_WORKERS (how many processes will serve it: state that one
    process keeps for itself is refused when more than one serves, `mock_api.workers`)."""
    config = dict(config or {})
    env = os.environ
    mock_config = config.get("MOCK_CONFIG") or MockConfig.from_env()
    now_raw = config.get("MOCK_NOW", env.get("MOCK_NOW"))
    faults_raw = config.get("MOCK_FAULTS", env.get("MOCK_FAULTS"))
    keys_raw = config.get("MOCK_API_KEYS", env.get("MOCK_API_KEYS", ""))
    cache_mb = config.get("MOCK_PAGE_CACHE_MB", env.get("MOCK_PAGE_CACHE_MB"))
    workers = int(config.get("MOCK_WORKERS", 1))

    app = Flask(__name__)
    dataset = Dataset(mock_config)
    clock = Clock(parse_time(str(now_raw)) if now_raw not in (None, "") else None)
    faults = Faults(json.loads(faults_raw) if isinstance(faults_raw, str) else faults_raw or {})
    check_faults(faults.config, workers)
    log = RequestLog()
    api_keys = {k.strip() for k in str(keys_raw).split(",") if k.strip()}
    cache = PageCache(
        DEFAULT_MAX_BYTES if cache_mb in (None, "") else int(float(cache_mb) * 1024 * 1024)
    )
    app.extensions["mock"] = {
        "dataset": dataset,
        "clock": clock,
        "faults": faults,
        "log": log,
        "cache": cache,
    }

    def cached(now: int, build: Callable[[], Any]) -> Response:
        """This GET's JSON body, rendered once per frozen `now` (`mock_api.page_cache`). A
        running clock moves every second, so its pages are not worth keeping."""
        if not clock.frozen:
            return _json(build())
        key = (request.path, request.query_string, request.headers.get("Stripe-Version"), now)
        body = cache.get_or_render(key, lambda: _encode(build()))
        return Response(body, mimetype="application/json")

    def authorised() -> bool:
        key = _api_key(request.headers.get("Authorization", ""))
        if key is None:
            return False
        return key in api_keys if api_keys else key.startswith("sk_test_")

    def faulty(response: Response) -> Response:
        """Apply this request's fault (decided before the handler ran) to its response."""
        fault = request.environ.get("mock.fault")
        if fault is None or fault.action is None:
            return response
        body = response.get_data()
        if fault.action == "truncate":
            response.set_data(body[: max(1, len(body) // 2)])
        elif fault.action == "malformed":
            response.set_data(b'{"object": "list", "data": [ this is not json')
        elif fault.action == "drop":
            # Promise the whole body, send half, then let the server close the socket.
            half = body[: len(body) // 2]

            def broken():
                yield half
                raise ConnectionAbortedError("mock fault: connection dropped")

            dropped = Response(broken(), status=200, mimetype="application/json")
            dropped.headers["Content-Length"] = str(len(body))
            return dropped
        return response

    def request_now() -> int:
        """The clock read once per request: the body shows the account at this second and the
        `Date` header names the same second. Read twice, a render that outlasts a second (the
        first `/v1/balance` books the whole history) stamped a later Date than its data, and a
        transaction created in between looked counted by a balance that did not count it."""
        now = request.environ.get("mock.now")
        if now is None:
            now = request.environ["mock.now"] = clock.now()
        return now

    def request_version(now: int) -> str:
        """The request's Stripe-Version, else the account's default now (events ignore it)."""
        version = request.headers.get("Stripe-Version") or mock_config.version_at(now)
        try:
            return versions.check(version, "Stripe-Version")
        except ValueError as exc:
            raise MockError(400, f"Invalid Stripe API version: {exc}") from None

    @app.before_request
    def gate() -> Response | None:
        if not request.path.startswith("/v1/"):
            return None
        log.add(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode(),
                "headers": {
                    k: v for k, v in request.headers.items() if k.lower() != "authorization"
                },
                "at": time.time(),
            }
        )
        if not authorised():
            return _error(
                MockError(
                    401,
                    "Invalid API Key provided. Send it as a Bearer token or as the basic auth user",
                    error_type="invalid_request_error",
                )
            )
        fault = faults.decide(request.path)
        if faults.latency_seconds:
            time.sleep(faults.latency_seconds)
        if fault.status is not None:
            headers = {"Stripe-Should-Retry": "true"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            if fault.status == 429:
                exc = MockError(
                    429,
                    "Too many requests hit the API too quickly.",
                    code="rate_limit",
                    error_type="invalid_request_error",
                )
            else:
                exc = MockError(
                    fault.status,
                    "An unexpected error occurred (mock fault).",
                    error_type="api_error",
                )
            return _error(exc, headers)
        request.environ["mock.fault"] = fault
        return None

    @app.after_request
    def stamp_date(response: Response) -> Response:
        # The extractor takes "now" from the API's Date header: it must be the mock's clock.
        response.headers["Date"] = formatdate(request_now(), usegmt=True)
        return faulty(response)

    @app.errorhandler(MockError)
    def mock_error(exc: MockError) -> Response:
        return _error(exc)

    @app.get("/health")
    def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/openapi.json")
    def openapi() -> Response:
        return _json(openapi_spec())

    @app.get("/docs")
    def docs() -> Response:
        return Response(DOCS_HTML, mimetype="text/html")

    @app.get("/docs/assets/<name>")
    def docs_assets(name: str) -> Response:
        asset = docs_asset(name)
        if asset is None:
            return _json({"error": {"message": f"no such docs asset: {name}"}}, 404)
        body, mimetype = asset
        return Response(body, mimetype=mimetype, headers={"Cache-Control": "max-age=3600"})

    def _limit(args) -> int:
        limit = _int_param("limit", args.get("limit", "10"))
        if not 1 <= limit <= 100:
            raise MockError(
                400,
                "Invalid limit: must be between 1 and 100",
                code="parameter_invalid_integer",
                param="limit",
            )
        return limit

    @app.get("/v1/balance")
    def balance() -> Response:
        now = request_now()
        return cached(now, lambda: dataset.balance(now))

    @app.get("/v1/balance_transactions")
    def list_balance_transactions() -> Response:
        args = request.args
        now = request_now()

        def build() -> dict:
            page = dataset.balance_transactions(
                now,
                limit=_limit(args),
                starting_after=args.get("starting_after") or None,
                ending_before=args.get("ending_before") or None,
                created=_created_filter(args),
                txn_type=args.get("type") or None,
                payout=args.get("payout") or None,
                currency=(args.get("currency") or "").lower() or None,
            )
            return {
                "object": "list",
                "url": "/v1/balance_transactions",
                "has_more": page.has_more,
                "data": page.data,
            }

        return cached(now, build)

    @app.get("/v1/balance_transactions/<txn_id>")
    def retrieve_balance_transaction(txn_id: str) -> Response:
        now = request_now()
        return cached(now, lambda: dataset.balance_transaction(txn_id, now))

    @app.get("/v1/invoices/<invoice_id>/lines")
    def invoice_lines(invoice_id: str) -> Response:
        args = request.args
        now = request_now()

        def build() -> dict:
            page = dataset.invoice_lines(
                invoice_id,
                now,
                limit=_limit(args),
                starting_after=args.get("starting_after") or None,
                ending_before=args.get("ending_before") or None,
                version=request_version(now),
            )
            return {
                "object": "list",
                "url": f"/v1/invoices/{invoice_id}/lines",
                "has_more": page.has_more,
                "data": page.data,
            }

        return cached(now, build)

    @app.get("/v1/<resource>")
    def list_resource(resource: str) -> Response:
        if resource not in LIST_RESOURCES:
            raise MockError(404, f"Unrecognized request URL (GET: /v1/{resource}).")
        args = request.args
        now = request_now()

        def build() -> dict:
            limit = _limit(args)
            version = request_version(now)
            page = dataset.list_page(
                resource,
                now,
                limit=limit,
                starting_after=args.get("starting_after") or None,
                ending_before=args.get("ending_before") or None,
                created=_created_filter(args),
                customer=args.get("customer")
                if resource in ("charges", "payment_intents", "invoices")
                else None,
                types=_event_types(args) if resource == "events" else None,
                version=version,
                status=args.get("status") or None if resource == "subscriptions" else None,
            )
            expand = [p[len("data.") :] for p in _array(args, "expand") if p.startswith("data.")]
            data = (
                [dataset.expand(resource, obj, expand, now, version) for obj in page.data]
                if expand
                else page.data
            )
            return {
                "object": "list",
                "url": f"/v1/{resource}",
                "has_more": page.has_more,
                "data": data,
            }

        return cached(now, build)

    @app.get("/v1/<resource>/<object_id>")
    def retrieve(resource: str, object_id: str) -> Response:
        if resource not in LIST_RESOURCES:
            raise MockError(404, f"Unrecognized request URL (GET: /v1/{resource}/{object_id}).")
        now = request_now()

        def build() -> dict:
            version = request_version(now)
            obj = dataset.retrieve(object_id, now, resource, version)
            expand = _array(request.args, "expand")
            return dataset.expand(resource, obj, expand, now, version) if expand else obj

        return cached(now, build)

    @app.route("/_mock/clock", methods=["GET", "POST"])
    def mock_clock() -> Response:
        if request.method == "POST":
            if workers > 1:
                return one_process_only("moving the clock", workers)
            body = request.get_json(silent=True) or {}
            if "now" in body:
                clock.set(parse_time(str(body["now"])))
            elif "advance" in body:
                clock.advance(int(body["advance"]))
            else:
                return _json(
                    {"error": {"message": "send {'now': unix} or {'advance': seconds}"}}, 400
                )
        return _json({"now": request_now(), "frozen": clock.frozen})  # read after any move

    @app.route("/_mock/faults", methods=["GET", "POST"])
    def mock_faults() -> Response:
        if request.method == "POST":
            if workers > 1:
                return one_process_only("changing the faults", workers)
            try:
                faults.replace(request.get_json(silent=True) or {})
            except (ValueError, TypeError, KeyError) as exc:
                return _json({"error": {"message": str(exc)}}, 400)
        return _json(faults.config)

    @app.route("/_mock/requests", methods=["GET", "DELETE"])
    def mock_requests() -> Response:
        if workers > 1:
            return one_process_only("the request log", workers)
        if request.method == "DELETE":
            log.clear()
            return _json({"cleared": True})
        return _json({"data": log.last(int(request.args.get("limit", "100")))})

    @app.get("/_mock/cache")
    def mock_cache() -> Response:
        return _json({**cache.stats(), "pid": os.getpid()})

    return app
