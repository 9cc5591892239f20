"""A tiny Stripe-shaped list server for extractor tests, on a real loopback socket.

Serves the list endpoints with `created[gte|lt]`, `starting_after`, `limit`, `type`
wildcards, a settable clock (sent as the Date header), a request log and a fault script;
subscriptions as Stripe lists them (no canceled ones without `status`, every one with
`status=all`), and an invoice's lines at `/v1/invoices/{id}/lines`. `billing_fixture` gives
Stripe's published example objects (tests/data/stripe) to build billing objects from.
The team's full mock lives in `mock_api/`; this stays small so the extractor can be tested
on its own, with exact control of every page.
"""

from __future__ import annotations

import bisect
import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RESOURCES = {
    "/v1/customers": "customer",
    "/v1/charges": "charge",
    "/v1/payment_intents": "payment_intent",
    "/v1/invoices": "invoice",
    "/v1/balance_transactions": "balance_transaction",
    "/v1/refunds": "refund",
    "/v1/disputes": "dispute",
    "/v1/payouts": "payout",
    "/v1/products": "product",
    "/v1/prices": "price",
    "/v1/coupons": "coupon",
    "/v1/subscriptions": "subscription",
    "/v1/events": "event",
}
BALANCE_PATH = "/v1/balance"
INVOICE_LINES = re.compile(r"^/v1/invoices/([^/]+)/lines$")
BILLING_FIXTURES = Path(__file__).parents[1] / "data/stripe/fixtures-billing-2024-06-20.json"
_fixtures: dict[str, Any] = {}


def billing_fixture(resource: str, **fields: Any) -> dict[str, Any]:
    """A copy of Stripe's example `resource` (product, price, coupon, subscription,
    line_item) with `fields` replaced."""
    if not _fixtures:
        _fixtures.update(json.loads(BILLING_FIXTURES.read_text()))
    return {**copy.deepcopy(_fixtures[resource]), **fields}


@dataclass
class Fault:
    path: str
    nth: int  # 1-based count of requests to `path`
    status: int = 500
    body: str | None = None  # raw body to send instead of an error object
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class FakeStripe:
    def __init__(self, now: int) -> None:
        self.now = now
        self.objects: dict[str, list[dict[str, Any]]] = {p: [] for p in RESOURCES}
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.counts: dict[str, int] = {}
        self.pretty = False
        self._cache: dict[str, Any] = {}
        self.delay = 0.0  # seconds to wait before answering a list call
        # `GET /v1/balance_transactions?payout=po_...`: each payout's transactions.
        self.payout_items: dict[str, list[dict[str, Any]]] = {}
        # `GET /v1/invoices/{id}/lines`: every line of an invoice, in its order.
        self.invoice_lines: dict[str, list[dict[str, Any]]] = {}
        self.balance: dict[str, Any] = {
            "object": "balance",
            "available": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
            "livemode": False,
            "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
        }
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- data ------------------------------------------------------------------------------
    def add(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj = {"id": obj["id"], "object": RESOURCES[path], **obj}
        with self.lock:
            self.objects[path].append(obj)
            self._cache.pop(path, None)
        return obj

    def add_event(
        self,
        event_id: str,
        event_type: str,
        created: int,
        obj: dict[str, Any],
        api_version: str = "2024-06-20",
    ):
        # Stripe stamps every event with the version its `data` is rendered in.
        return self.add(
            "/v1/events",
            {
                "id": event_id,
                "type": event_type,
                "created": created,
                "api_version": api_version,
                "data": {"object": obj},
            },
        )

    def set_faults(self, *faults: Fault) -> None:
        """Replace the fault script; `nth` counts from the next request on."""
        with self.lock:
            self.faults = list(faults)
            self.counts.clear()

    def ids(self, path: str) -> set[str]:
        return {o["id"] for o in self.objects[path]}

    # -- serving -----------------------------------------------------------------------------
    def _sorted(self, path: str) -> tuple[list[dict[str, Any]], list[int], dict[str, int]]:
        """Objects of `path` oldest first, their `created`, and id -> position; cached
        until the next `add`."""
        with self.lock:
            cached = self._cache.get(path)
            if cached is None:
                rows = sorted(self.objects[path], key=lambda o: (o["created"], o["id"]))
                cached = (
                    rows,
                    [o["created"] for o in rows],
                    {o["id"]: i for i, o in enumerate(rows)},
                )
                self._cache[path] = cached
            return cached

    def add_payout_items(self, payout_id: str, items: list[dict[str, Any]]) -> None:
        """The transactions `?payout=<payout_id>` lists (newest first, as given)."""
        with self.lock:
            self.payout_items[payout_id] = [
                {"object": "balance_transaction", **item} for item in items
            ]

    def add_invoice(
        self, invoice_id: str, created: int, lines: list[dict[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        """An invoice as Stripe renders it: its first 10 lines embedded, `has_more` when it
        has more, every line at `/v1/invoices/{id}/lines`. Not listed unless added with
        `add("/v1/invoices", ...)` (return value): it can arrive in events only."""
        url = f"/v1/invoices/{invoice_id}/lines"
        with self.lock:
            self.invoice_lines[invoice_id] = lines
        embedded = {
            "object": "list",
            "data": lines[:10],
            "has_more": len(lines) > 10,
            "total_count": len(lines),
            "url": url,
        }
        return {
            "id": invoice_id,
            "object": "invoice",
            "created": created,
            "lines": embedded,
            **fields,
        }

    def _lines_page(self, invoice_id: str, query: dict[str, str]) -> tuple[int, str, dict]:
        lines = self.invoice_lines.get(invoice_id)
        if lines is None:
            error = {"type": "invalid_request_error", "message": f"No such invoice: '{invoice_id}'"}
            return 404, json.dumps({"error": error}), {}
        return self._cursor_page(lines, query, f"/v1/invoices/{invoice_id}/lines")

    def _cursor_page(
        self, items: list[dict[str, Any]], query: dict[str, str], url: str
    ) -> tuple[int, str, dict[str, str]]:
        start = 0
        if "starting_after" in query:
            start = 1 + next(i for i, o in enumerate(items) if o["id"] == query["starting_after"])
        limit = int(query.get("limit", 10))
        page = items[start : start + limit]
        body = {"object": "list", "url": url, "has_more": start + limit < len(items), "data": page}
        return 200, json.dumps(body), {}

    def _payout_page(self, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        items = self.payout_items.get(query["payout"])
        if items is None:
            error = {
                "type": "invalid_request_error",
                "param": "payout",
                "message": "No such payout",
            }
            return 400, json.dumps({"error": error}), {}
        start = 0
        if "starting_after" in query:
            start = 1 + next(i for i, o in enumerate(items) if o["id"] == query["starting_after"])
        limit = int(query.get("limit", 10))
        page = items[start : start + limit]
        body = {"object": "list", "has_more": start + limit < len(items), "data": page}
        return 200, json.dumps(body), {}

    def _list(self, path: str, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        if "payout" in query:
            return self._payout_page(query)
        rows, created, position = self._sorted(path)
        lo = bisect.bisect_left(created, int(query.get("created[gte]", -(10**12))))
        hi = bisect.bisect_left(created, min(int(query.get("created[lt]", 10**12)), self.now + 1))
        if "starting_after" in query:
            hi = min(hi, position[query["starting_after"]])
        limit = int(query.get("limit", 10))
        page: list[dict[str, Any]] = []
        pattern = query.get("type")
        # Stripe lists canceled subscriptions only when asked (`status=all` or `canceled`).
        status = query.get("status") if path == "/v1/subscriptions" else "all"
        i = hi - 1
        while i >= lo and len(page) <= limit:
            obj = rows[i]
            i -= 1
            if status is None and obj.get("status") == "canceled":
                continue
            if status not in (None, "all") and obj.get("status") != status:
                continue
            if pattern is not None:
                kind = obj["type"]
                if pattern.endswith(".*") and not kind.startswith(pattern[:-1]):
                    continue
                if not pattern.endswith(".*") and kind != pattern:
                    continue
            page.append(obj)
        body = {"object": "list", "url": path, "has_more": len(page) > limit, "data": page[:limit]}
        text = json.dumps(body, indent=2) if self.pretty else json.dumps(body)
        return 200, text, {}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
                with fake.lock:
                    fake.requests.append(
                        {
                            "path": parts.path,
                            "query": query,
                            "headers": headers,
                            "authorization": self.headers.get("Authorization"),
                        }
                    )
                    n = fake.counts[parts.path] = fake.counts.get(parts.path, 0) + 1
                    fault = next(
                        (
                            f
                            for f in fake.faults
                            if f.path == parts.path and f.nth <= n < f.nth + f.times
                        ),
                        None,
                    )
                if fault is not None:
                    body = fault.body
                    if body is None:
                        body = json.dumps(
                            {"error": {"type": "api_error", "message": f"fault {fault.status}"}}
                        )
                    self._send(fault.status, body, fault.headers)
                    return
                if parts.path == BALANCE_PATH:
                    self._send(200, json.dumps(fake.balance), {})
                    return
                lines_of = INVOICE_LINES.match(parts.path)
                if lines_of:
                    self._send(*fake._lines_page(lines_of.group(1), query))
                    return
                if parts.path not in RESOURCES:
                    self._send(404, json.dumps({"error": {"type": "invalid_request_error"}}), {})
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                self._send(*fake._list(parts.path, query))

            def _send(self, status: int, body: str, headers: dict[str, str]) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def date_time_string(self, timestamp: float | None = None) -> str:
                return formatdate(fake.now, usegmt=True)

        return Handler
