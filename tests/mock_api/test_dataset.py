"""The mock's data is a pure function of its config, and objects change as the schedule says."""

from __future__ import annotations

import pytest

from mock_api.dataset import CURRENCY_EXPONENT, Dataset, MockConfig, parse_time

NOW = parse_time("2026-01-25T00:00:00Z")
CONFIG = MockConfig(seed=3, start_date="2026-01-01", volume=50)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset(CONFIG)


def test_same_config_gives_identical_data_and_another_seed_does_not() -> None:
    first = Dataset(CONFIG).objects("charges", NOW)
    again = Dataset(MockConfig(seed=3, start_date="2026-01-01", volume=50)).objects("charges", NOW)
    other = Dataset(MockConfig(seed=4, start_date="2026-01-01", volume=50)).objects("charges", NOW)
    assert first == again
    assert [c["amount"] for c in first] != [c["amount"] for c in other]


def test_objects_exist_only_after_creation_and_the_past_does_not_change(data) -> None:
    earlier = {c["id"] for c in data.objects("charges", NOW - 86400)}
    later = {c["id"] for c in data.objects("charges", NOW)}
    assert earlier < later
    assert all(c["created"] <= NOW for c in data.objects("charges", NOW))


def test_charge_pairs_with_its_payment_intent_and_customer_predates_it(data) -> None:
    intents = {p["id"]: p for p in data.objects("payment_intents", NOW)}
    customers = {c["id"]: c for c in data.objects("customers", NOW)}
    for charge in data.objects("charges", NOW)[:200]:
        intent = intents[charge["payment_intent"]]
        assert intent["latest_charge"] == charge["id"]
        assert intent["amount"] == charge["amount"] and intent["currency"] == charge["currency"]
        if charge["status"] == "succeeded" and charge["captured"]:
            assert intent["status"] == "succeeded"
            assert intent["amount_received"] == charge["amount_captured"]
        elif charge["status"] == "succeeded":  # authorised, not (yet) captured
            assert intent["status"] in {"requires_capture", "canceled"}
        if charge["customer"] in customers:
            assert customers[charge["customer"]]["created"] <= charge["created"]


def test_currencies_and_failures_look_like_stripe(data) -> None:
    charges = data.objects("charges", NOW)
    currencies = {c["currency"] for c in charges}
    assert {"usd", "eur", "gbp", "jpy", "krw", "kwd"} <= currencies
    assert CURRENCY_EXPONENT["jpy"] == 0 and CURRENCY_EXPONENT["kwd"] == 3
    failed = [c for c in charges if c["status"] == "failed"]
    assert failed and all(c["failure_code"] and not c["paid"] for c in failed)
    assert all(c["amount"] > 0 and isinstance(c["amount"], int) for c in charges)


def test_refund_events_carry_the_refunded_charge_and_lists_show_it(data) -> None:
    events = data.events(NOW)
    refunds = [e for e in events if e["type"] == "charge.refunded"]
    assert refunds
    current = {c["id"]: c for c in data.objects("charges", NOW)}
    for event in refunds:
        charge = event["data"]["object"]
        assert charge["object"] == "charge" and charge["amount_refunded"] > 0
        # Nothing changes a charge after its refund without an event, not even the
        # refund's failure (docs/mock_api.md).
        assert current[charge["id"]]["amount_refunded"] == charge["amount_refunded"]
        assert event["created"] >= charge["created"]


def test_updated_events_have_previous_attributes_and_disputes_carry_disputes(data) -> None:
    events = data.events(NOW)
    updated = [e for e in events if e["type"].endswith(".updated")]
    assert updated and all(e["data"].get("previous_attributes") for e in updated)
    disputes = [e for e in events if e["type"] == "charge.dispute.created"]
    for event in disputes:
        assert event["data"]["object"]["object"] == "dispute"


def test_events_are_newest_first_and_kept_30_days(data) -> None:
    events = data.events(NOW)
    keys = [(e["created"], e["id"]) for e in events]
    assert keys == sorted(keys, reverse=True)
    assert min(e["created"] for e in events) >= NOW - 30 * 86400
    assert all(e["livemode"] is False and e["id"].startswith("evt_") for e in events)


def test_deleted_customers_leave_the_list_and_retrieve_as_a_stub(data) -> None:
    later = NOW + 90 * 86400
    deleted = [e for e in data.events(later) if e["type"] == "customer.deleted"]
    assert deleted
    customer_id = deleted[0]["data"]["object"]["id"]
    assert customer_id not in {c["id"] for c in data.objects("customers", later)}
    stub = data.retrieve(customer_id, later, "customers")
    assert stub["deleted"] is True and stub["id"] == customer_id


def test_invoice_amounts_add_up(data) -> None:
    invoices = data.objects("invoices", NOW)
    assert {"paid", "open", "void"} <= {i["status"] for i in invoices}
    for invoice in invoices:
        assert invoice["status"] in {"draft", "open", "paid", "void", "uncollectible"}
        # As in Stripe, voiding an invoice leaves nothing remaining to pay.
        remaining = invoice["amount_due"] - invoice["amount_paid"]
        expected = 0 if invoice["status"] == "void" else remaining
        assert invoice["amount_remaining"] == expected
