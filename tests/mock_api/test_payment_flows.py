"""The mock's harder payments and invoices behave as Stripe's do (docs/mock_api.md#payment-flows).

Manual capture (captured later, in part, or released after 7 days), bank debits pending for
days, charges without a billing address, customers without an email, taxed invoices, other
billing reasons and days without invoices: each checked on the objects and on their events.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mock_api.dataset import CURRENCY_EXPONENT, DAY, Dataset, MockConfig, parse_time
from mock_api.dataset.config import NEVER
from mock_api.dataset.paging import CreatedFilter

NOW = parse_time("2026-02-10T00:00:00Z")


@pytest.fixture(scope="module")
def data() -> Dataset:
    # An account without subscriptions: its invoices are all the invoicing team's (the
    # subscription invoices' own rules are tested in test_billing.py).
    never = (("subscriptions", NEVER),)
    return Dataset(MockConfig(seed=7, start_date="2026-01-01", volume=120, resource_start=never))


@pytest.fixture(scope="module")
def charges(data) -> list[dict]:
    return data.objects("charges", NOW)


@pytest.fixture(scope="module")
def intents(data) -> dict[str, dict]:
    return {p["id"]: p for p in data.objects("payment_intents", NOW)}


@pytest.fixture(scope="module")
def events(data) -> list[dict]:
    return data.events(NOW)


def _events_of(events: list[dict], object_id: str) -> list[tuple[str, int]]:
    return sorted(
        (e["type"], e["created"]) for e in events if e["data"]["object"].get("id") == object_id
    )


def test_manual_authorisations_are_captured_later_in_full_or_in_part(
    charges, intents, events
) -> None:
    captured = [
        c
        for c in charges
        if intents[c["payment_intent"]]["capture_method"] == "manual" and c["captured"]
    ]
    partial = [c for c in captured if c["amount_captured"] < c["amount"]]
    assert len(captured) > 20 and partial and len(partial) < len(captured)
    for charge in captured:
        intent = intents[charge["payment_intent"]]
        assert charge["status"] == "succeeded" and charge["paid"]
        assert intent["status"] == "succeeded" and intent["amount_capturable"] == 0
        assert intent["amount_received"] == charge["amount_captured"]
        # Stripe refunds what was not captured, at once.
        assert charge["amount_refunded"] == charge["amount"] - charge["amount_captured"]
        assert not charge["refunded"]
        capture = [t for kind, t in _events_of(events, charge["id"]) if kind == "charge.captured"]
        if charge["created"] >= NOW - 30 * DAY:
            assert len(capture) == 1 and capture[0] > charge["created"]
    for charge in partial:
        (refund,) = charge["refunds"]["data"]
        assert refund["amount"] == charge["amount"] - charge["amount_captured"]
        # Booked as a partial_capture_reversal transaction (tests/mock_api/test_ledger.py).
        assert refund["balance_transaction"] is not None and refund["reason"] is None


def test_an_authorisation_never_captured_is_released_after_seven_days(
    charges, intents, events
) -> None:
    manual = [c for c in charges if intents[c["payment_intent"]]["capture_method"] == "manual"]
    expired = [c for c in manual if c["refunded"]]
    waiting = [
        c for c in manual if c["status"] == "succeeded" and not c["captured"] and not c["refunded"]
    ]
    assert expired and waiting
    for charge in expired:
        intent = intents[charge["payment_intent"]]
        assert not charge["captured"] and charge["amount_captured"] == 0
        assert charge["amount_refunded"] == charge["amount"]
        (refund,) = charge["refunds"]["data"]
        assert refund["reason"] == "expired_uncaptured_charge"
        assert refund["created"] == charge["created"] + 7 * DAY
        assert intent["status"] == "canceled" and intent["cancellation_reason"] == "automatic"
        kinds = [kind for kind, _ in _events_of(events, charge["id"])]
        if charge["created"] >= NOW - 30 * DAY:
            assert kinds.count("charge.expired") == 1 and "charge.captured" not in kinds
    for charge in waiting:  # still inside its 7 days, or captured after NOW
        intent = intents[charge["payment_intent"]]
        assert charge["created"] > NOW - 7 * DAY
        assert charge["amount_captured"] == 0 and charge["balance_transaction"] is None
        assert intent["status"] == "requires_capture"
        assert intent["amount_capturable"] == charge["amount"]


def test_bank_debits_are_pending_for_four_days_then_settle_or_fail(
    data, charges, intents, events
) -> None:
    bank = [c for c in charges if c["payment_method_details"]["type"] != "card"]
    by_status = Counter(c["status"] for c in bank)
    assert by_status["succeeded"] and by_status["failed"] and by_status["pending"]
    for charge in bank:
        method = charge["payment_method_details"]["type"]
        assert method == {"usd": "us_bank_account", "eur": "sepa_debit"}[charge["currency"]]
        intent = intents[charge["payment_intent"]]
        assert intent["payment_method_types"] == [method]
        settled = charge["created"] + 4 * DAY <= NOW
        assert (charge["status"] == "pending") == (not settled)
        assert charge["paid"] == (charge["status"] == "succeeded")
        expected_intent = {
            "pending": "processing",
            "succeeded": "succeeded",
            "failed": "requires_payment_method",
        }[charge["status"]]
        assert intent["status"] == expected_intent
        if charge["status"] == "failed":
            assert charge["failure_code"] in {"insufficient_funds", "debit_not_authorized"}
            assert intent["last_payment_error"]["code"] == charge["failure_code"]
        if charge["created"] >= NOW - 30 * DAY:
            kinds = dict(_events_of(events, charge["id"]))
            assert kinds["charge.pending"] == charge["created"]
            if settled:
                outcome = "charge.succeeded" if charge["paid"] else "charge.failed"
                assert kinds[outcome] == charge["created"] + 4 * DAY
    # The pending state is what a list showed before the debit settled.
    pending_then = data.retrieve(bank[0]["id"], bank[0]["created"] + 3 * DAY, "charges")
    assert pending_then["status"] == "pending" and not pending_then["paid"]


def test_some_charges_have_no_billing_address_and_some_customers_no_email(data, charges) -> None:
    no_address = [c for c in charges if c["billing_details"]["address"]["country"] is None]
    assert no_address
    for charge in no_address:
        assert set(charge["billing_details"]["address"].values()) == {None}
        if charge["payment_method_details"]["type"] == "card":
            assert charge["payment_method_details"]["card"]["country"]
    customers = data.objects("customers", NOW)
    without = {c["id"] for c in customers if c["email"] is None}
    assert 0 < len(without) < len(customers) // 5
    theirs = [c for c in charges if c["customer"] in without]
    assert theirs and all(c["receipt_email"] is None for c in theirs)


def test_taxed_invoices_add_up_and_other_billing_reasons_exist(data) -> None:
    invoices = data.objects("invoices", NOW)
    taxed = [i for i in invoices if i["tax"]]
    assert taxed and len(taxed) < len(invoices)
    for invoice in invoices:
        tax = invoice["tax"] or 0
        assert invoice["total"] == invoice["subtotal"] + tax == invoice["amount_due"]
        assert sum(t["amount"] for t in invoice["total_tax_amounts"]) == tax
        if CURRENCY_EXPONENT[invoice["currency"]] == 3:
            assert tax % 10 == 0
    assert {t["currency"] for t in taxed} >= {"usd", "eur", "jpy"}
    reasons = Counter(i["billing_reason"] for i in invoices)
    assert set(reasons) == {"manual", "automatic_pending_invoice_item_invoice"}


def test_no_invoice_is_created_on_a_sunday(data) -> None:
    invoices = data.objects("invoices", NOW)
    weekdays = Counter((i["created"] // DAY + 3) % 7 for i in invoices)  # Monday = 0
    assert weekdays[6] == 0 and all(weekdays[d] > 0 for d in range(6))
    sunday = parse_time("2026-02-01T00:00:00Z")
    assert (sunday // DAY + 3) % 7 == 6
    window = CreatedFilter(gte=sunday, lte=sunday + DAY - 1)
    page = data.list_page("invoices", NOW, limit=100, created=window)
    assert page.data == [] and page.has_more is False
    # Charges keep coming on Sundays.
    assert any(sunday <= c["created"] < sunday + DAY for c in data.objects("charges", NOW))
