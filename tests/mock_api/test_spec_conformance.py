"""The mock's objects and events conform to Stripe's published OpenAPI spec.

The yardstick is Stripe's spec (API version 2023-08-16, vendored in `mock_api/stripe_spec`)
plus what API version 2024-06-20, the mock's pinned one, added to it (taken from Stripe's
2024-06-20 fixture objects): required fields present, types, `nullable`, `anyOf`, enums,
no field the spec does not list, and expandable ids that refer to the right resource.
Everything is read over a real socket: list pages and retrieves, in every state the mock
produces, and every event type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from mock_api.dataset import API_VERSION, EVENT_TYPES, RESOURCES, Dataset, MockConfig, parse_time
from mock_api.ids import IdCodec
from mock_api.stripe_spec import newer_version_changes, validator
from mock_api.stripe_spec.validate import ExpandableId, Report
from tests.support.paging import page_all
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = pytest.mark.integration

# 78 days of history: long enough for customer deletions (40 and 75 days after creation)
# and uncollectible invoices (30 days); the events list keeps the last 30 days. The clock
# stops 1000 s after an invoice's creation: it is still a draft (finalised after an hour).
SEED = 11
CONFIG = MockConfig(seed=SEED, start_date="2026-01-01", volume=30)
_INVOICES = Dataset(CONFIG).timelines["invoices"]
NOW = _INVOICES.created(_INVOICES.last_at_or_before(parse_time("2026-03-20T00:00:00Z"))) + 1000
ENV = {
    "MOCK_NOW": str(NOW),
    "MOCK_START_DATE": "2026-01-01",
    "MOCK_VOLUME": "30",
    "MOCK_SEED": str(SEED),
}
KEY = "sk_test_conformance"
PER_STATE = 3  # objects of each state that are also retrieved one by one

SCHEMA = {
    "customers": "customer",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "invoices": "invoice",
    "refunds": "refund",
    "disputes": "dispute",
    "payouts": "payout",
    "products": "product",
    "prices": "price",
    "coupons": "coupon",
    "subscriptions": "subscription",
}
# Fewer than a page of some resources in this history (1.5% of payments are disputed; the
# catalog is a fixed list; a subscription a day).
MIN_LISTED = {"disputes": 20, "products": 15, "coupons": 8, "subscriptions": 60}
# Stripe lists canceled subscriptions only when asked (docs/mock_api.md#billing).
LIST_PARAMS = {"subscriptions": {"status": "all"}}
# Every state the mock produces, per resource: each must show up, and each is validated.
STATES: dict[str, dict[str, Callable[[dict], bool]]] = {
    "customers": {
        "without email": lambda c: c["email"] is None,
        "created": lambda c: "address_verified" not in c["metadata"],
        "updated": lambda c: "address_verified" in c["metadata"],
    },
    "charges": {
        "succeeded": lambda c: c["status"] == "succeeded" and not c["refunds"]["data"],
        "failed": lambda c: c["status"] == "failed",
        "fully refunded": lambda c: c["refunded"],
        "partially refunded": lambda c: 0 < c["amount_refunded"] < c["amount"],
        "disputed": lambda c: c["disputed"],
        "metadata updated": lambda c: "support_ticket" in c["metadata"],
        "authorised, not captured": lambda c: c["status"] == "succeeded" and not c["captured"],
        "partially captured": lambda c: c["captured"] and c["amount_captured"] < c["amount"],
        "pending bank debit": lambda c: c["status"] == "pending",
        "sepa_debit": lambda c: c["payment_method_details"]["type"] == "sepa_debit",
        "us_bank_account": lambda c: c["payment_method_details"]["type"] == "us_bank_account",
        "no billing address": lambda c: c["billing_details"]["address"]["country"] is None,
    },
    "payment_intents": {
        "succeeded": lambda p: p["status"] == "succeeded",
        "failed, card_declined": lambda p: (
            (p["last_payment_error"] or {}).get("code") == "card_declined"
        ),
        "failed, other code": lambda p: (
            (p["last_payment_error"] or {}).get("code") not in (None, "card_declined")
        ),
        "canceled": lambda p: p["status"] == "canceled",
        "requires_capture": lambda p: p["status"] == "requires_capture",
        "processing": lambda p: p["status"] == "processing",
    },
    "invoices": {
        status: (lambda s: lambda i: i["status"] == s)(status)
        for status in ("draft", "open", "paid", "void", "uncollectible")
    }
    | {
        "send_invoice": lambda i: i["collection_method"] == "send_invoice",
        "taxed": lambda i: bool(i["total_tax_amounts"]),
        "automatic_pending_invoice_item_invoice": lambda i: (
            i["billing_reason"] == "automatic_pending_invoice_item_invoice"
        ),
    }
    | {
        reason: (lambda r: lambda i: i["billing_reason"] == r)(reason)
        for reason in ("subscription_create", "subscription_cycle", "subscription_update")
    }
    | {
        "more than 10 lines": lambda i: i["lines"]["has_more"],
        "proration": lambda i: any(line["proration"] for line in i["lines"]["data"]),
        "discounted subscription invoice": lambda i: bool(i["total_discount_amounts"]),
    },
}
STATES |= {
    "refunds": {
        "customer's, pending": lambda r: r["status"] == "pending",
        "customer's, succeeded": lambda r: (
            r["reason"] == "requested_by_customer" and r["status"] == "succeeded"
        ),
        "customer's, failed": lambda r: r["status"] == "failed",
        "a partial capture's rest": lambda r: r["reason"] is None,
        "expired authorisation": lambda r: r["reason"] == "expired_uncaptured_charge",
    },
    # needs_response shows in every charge.dispute.created payload (see the events test).
    "disputes": {
        status: (lambda s: lambda d: d["status"] == s)(status)
        for status in ("under_review", "won", "lost")
    },
    "payouts": {
        status: (lambda s: lambda p: p["status"] == s)(status)
        for status in ("in_transit", "paid", "failed")
    }
    | {"eur": lambda p: p["currency"] == "eur"},
    "products": {
        "created": lambda p: p["updated"] == p["created"],
        "updated": lambda p: p["updated"] > p["created"],
    },
    "prices": {
        "recurring": lambda p: p["type"] == "recurring",
        "one_time": lambda p: p["type"] == "one_time",
        "metered": lambda p: (p["recurring"] or {}).get("usage_type") == "metered",
        "free": lambda p: p["unit_amount"] == 0,
        "kwd": lambda p: p["currency"] == "kwd",
    },
    "coupons": {
        "percent_off": lambda c: c["percent_off"] is not None,
        "amount_off": lambda c: c["amount_off"] is not None,
        "repeating": lambda c: c["duration"] == "repeating",
    },
    "subscriptions": {
        status: (lambda s: lambda sub: sub["status"] == s)(status)
        for status in ("trialing", "active", "unpaid", "canceled")
    }
    | {
        "discounted": lambda s: s["discount"] is not None,
        "cancel at period end": lambda s: s["cancel_at_period_end"],
        "more than 10 items": lambda s: len(s["items"]["data"]) > 10,
        "metered item": lambda s: any("quantity" not in i for i in s["items"]["data"]),
    },
}
# Every (type, reporting_category) of balance transaction the mock books.
TXN_KINDS = {
    ("charge", "charge"),
    ("payment", "charge"),
    ("refund", "refund"),
    ("refund", "partial_capture_reversal"),
    ("adjustment", "dispute"),
    ("adjustment", "dispute_reversal"),
    ("payout", "payout"),
    ("payout_failure", "payout_reversal"),
    ("adjustment", "refund_failure"),
}
# The schema of an event's data.object, by the event type's prefix.
EVENT_SCHEMA = {
    "charge.dispute.": "dispute",
    "charge.refund.": "refund",
    "balance.": "balance",
    "customer.subscription.": "subscription",
}
# The mock's resource of each expandable target (the others have no endpoint here).
SERVED = {schema: resource for resource, schema in SCHEMA.items()}


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_mock_api(ENV, tmp_path_factory.mktemp("conformance"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(mock: ServerProcess) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    yield session
    session.close()


@pytest.fixture(scope="module")
def events(api, mock) -> list[dict]:
    return page_all(api, f"{mock.url}/v1/events")


def get(api: requests.Session, url: str, **params) -> dict:
    response = api.get(url, params=params, timeout=30)
    assert response.status_code == 200, (url, response.text[:500])
    return response.json()


def assert_conforms(report: Report, what: str) -> None:
    assert not report.errors, f"{what} breaks Stripe's spec:\n" + "\n".join(report.errors[:20])


def check_ids(api: requests.Session, mock: ServerProcess, ids: list[ExpandableId]) -> None:
    """An expandable id names an object of one of the field's resources: retrieved when the
    mock serves that resource, else decoded from the id (its Stripe prefix)."""
    codec = IdCodec(SEED)
    for ref in ids:
        decoded = codec.decode(ref.id)
        assert decoded is not None, f"{ref.path}: {ref.id!r} is no id of this mock"
        # Subscription invoices and their payments are invoices, charges and payment
        # intents with ids of their own range (in_2..., ch_4..., pi_4...).
        resource = {
            "subscription_invoices": "invoices",
            "subscription_charges": "charges",
            "subscription_payment_intents": "payment_intents",
        }.get(decoded[0], decoded[0])
        schema = SCHEMA.get(resource, resource.removesuffix("s"))
        assert schema in ref.resources, f"{ref.path}: {ref.id!r} is not a {ref.resources}"
        if resource in SCHEMA:
            obj = get(api, f"{mock.url}/v1/{resource}/{ref.id}")
            assert obj["object"] == schema and obj["id"] == ref.id


@pytest.mark.parametrize("resource", list(SCHEMA))
def test_every_listed_and_retrieved_object_conforms(api, mock, resource: str) -> None:
    spec = validator()
    listed = page_all(api, f"{mock.url}/v1/{resource}", **LIST_PARAMS.get(resource, {}))
    assert len(listed) > MIN_LISTED.get(resource, 100)  # more than one page, mostly
    for obj in listed:
        assert_conforms(spec.validate(obj, SCHEMA[resource]), f"{resource} {obj['id']}")
    for state, is_in in STATES[resource].items():
        sample = [obj for obj in listed if is_in(obj)][:PER_STATE]
        assert sample, f"the mock produced no {resource} in state {state!r}"
        for obj in sample:
            retrieved = get(api, f"{mock.url}/v1/{resource}/{obj['id']}")
            report = spec.validate(retrieved, SCHEMA[resource])
            assert_conforms(report, f"retrieved {resource} {obj['id']} ({state})")
            check_ids(api, mock, report.expandable_ids)


def test_a_deleted_customer_retrieves_as_stripes_deleted_customer(api, mock, events) -> None:
    spec = validator()
    deleted = [e["data"]["object"]["id"] for e in events if e["type"] == "customer.deleted"]
    assert deleted, "no customer.deleted event in the window"
    for customer_id in deleted[:PER_STATE]:
        stub = get(api, f"{mock.url}/v1/customers/{customer_id}")
        assert_conforms(spec.validate(stub, "deleted_customer"), f"deleted {customer_id}")
        assert stub == {"id": customer_id, "object": "customer", "deleted": True}


def test_every_event_type_and_payload_conforms(api, mock, events) -> None:
    spec = validator()
    assert {e["type"] for e in events} == set(EVENT_TYPES)
    checked_ids: set[str] = set()
    for event in events:
        what = f"{event['type']} {event['id']}"
        assert_conforms(spec.validate(event, "event"), what)
        assert event["api_version"] == API_VERSION
        kind = event["type"]
        prefix = next((p for p in EVENT_SCHEMA if kind.startswith(p)), None)
        schema = EVENT_SCHEMA[prefix] if prefix else kind.split(".")[0]
        obj = event["data"]["object"]
        assert obj["object"] == schema, what
        report = spec.validate(obj, schema)
        assert_conforms(report, f"{what} data.object")
        previous = event["data"].get("previous_attributes")
        # Stripe sends previous_attributes with *.updated events only.
        assert (previous is not None) == kind.endswith(".updated"), what
        if previous is not None:
            assert previous, f"{what}: an update that changed nothing"
            assert_conforms(
                spec.validate(previous, schema, partial=True), f"{what} previous_attributes"
            )
        # The ids of one object of each type (retrieving every one is slow, not stronger).
        if kind not in checked_ids:
            checked_ids.add(kind)
            check_ids(api, mock, report.expandable_ids)


def test_every_balance_transaction_and_the_balance_conform(api, mock) -> None:
    spec = validator()
    listed = page_all(api, f"{mock.url}/v1/balance_transactions")
    assert len(listed) > 1000
    seen: dict[tuple[str, str], dict] = {}
    for txn in listed:
        report = spec.validate(txn, "balance_transaction")
        assert_conforms(report, f"balance_transaction {txn['id']}")
        kind = (txn["type"], txn["reporting_category"])
        if kind not in seen:
            seen[kind] = txn
            check_ids(api, mock, report.expandable_ids)
    assert set(seen) == TXN_KINDS
    for txn in seen.values():
        retrieved = get(api, f"{mock.url}/v1/balance_transactions/{txn['id']}")
        assert retrieved == txn
    balance = get(api, f"{mock.url}/v1/balance")
    assert_conforms(spec.validate(balance, "balance"), "balance")
    assert [b["currency"] for b in balance["available"]] == ["usd", "eur"]


def test_every_resource_is_checked() -> None:
    """A resource added to the registry must be added here (and to trim.py's ROOTS)."""
    assert set(SCHEMA) == set(RESOURCES)
    assert newer_version_changes()["api_version"] == API_VERSION


def test_invoice_lines_page_and_conform(api, mock) -> None:
    """An invoice embeds its first 10 lines; /v1/invoices/{id}/lines pages them all."""
    spec = validator()
    invoices = page_all(api, f"{mock.url}/v1/invoices")
    long = [i for i in invoices if i["lines"]["has_more"]]
    assert long, "no invoice with more than 10 lines"
    for invoice in long[:PER_STATE]:
        lines = page_all(api, f"{mock.url}/v1/invoices/{invoice['id']}/lines", limit=4)
        assert len(lines) > 10 and lines[:10] == invoice["lines"]["data"]
        assert sum(line["amount"] for line in lines) == invoice["subtotal"]
        for line in lines:
            report = spec.validate(line, "line_item")
            assert_conforms(report, f"line {line['id']} of {invoice['id']}")
        check_ids(api, mock, report.expandable_ids)
    response = api.get(f"{mock.url}/v1/invoices/in_nope/lines", timeout=30)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No such invoice: 'in_nope'"
