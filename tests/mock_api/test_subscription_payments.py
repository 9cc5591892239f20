"""Subscription invoices are paid by a charge and a payment intent, which reach the ledger.

Every figure is checked against the invoices the mock lists and the rules in
docs/mock_api.md#subscription-payments, not against the payment objects' own claims.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mock_api.dataset import DAY, Dataset, MockConfig, parse_time
from mock_api.dataset.config import EVENT_RETENTION_SECONDS
from mock_api.dataset.paging import CreatedFilter
from mock_api.dataset.subscriptions import E
from tests.mock_api.test_ledger import SETTLES, expected_fee, settle
from tests.support.paging import page_all_of, walk_pages

NOW = parse_time("2026-03-12T15:30:00Z")
CONFIG = MockConfig(seed=5, start_date="2026-01-01", volume=25)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset(CONFIG)


@pytest.fixture(scope="module")
def sub_invoices(ds) -> list[dict]:
    return [i for i in ds.objects("invoices", NOW) if i["subscription"] is not None]


@pytest.fixture(scope="module")
def charges(ds) -> list[dict]:
    return ds.objects("charges", NOW)


@pytest.fixture(scope="module")
def intents(ds) -> list[dict]:
    return ds.objects("payment_intents", NOW)


@pytest.fixture(scope="module")
def txns(ds) -> dict[str, dict]:
    return {t["id"]: t for t in ds.all_balance_transactions(NOW)}


def test_every_paid_invoice_with_an_amount_due_has_exactly_one_succeeded_charge(
    sub_invoices, charges, intents
) -> None:
    by_invoice: dict[str, list[dict]] = {}
    for charge in charges:
        if charge["invoice"] is not None:
            by_invoice.setdefault(charge["invoice"], []).append(charge)
    intent_by_id = {pi["id"]: pi for pi in intents}
    paid = [i for i in sub_invoices if i["status"] == "paid" and i["amount_due"] > 0]
    reasons = Counter(i["billing_reason"] for i in paid)
    assert len(paid) > 50 and set(reasons) >= {"subscription_create", "subscription_cycle"}
    for invoice in paid:
        (charge,) = by_invoice.pop(invoice["id"])
        assert charge["amount"] == charge["amount_captured"] == invoice["amount_due"]
        assert charge["currency"] == invoice["currency"]
        assert charge["customer"] == invoice["customer"]
        assert charge["status"] == "succeeded" and charge["paid"] and charge["captured"]
        assert charge["created"] == invoice["status_transitions"]["paid_at"]
        assert charge["amount_refunded"] == 0 and not charge["disputed"]
        first = invoice["billing_reason"] == "subscription_create"
        assert charge["description"] == (
            "Subscription creation" if first else "Subscription update"
        )
        assert invoice["charge"] == charge["id"] and not invoice["paid_out_of_band"]
        intent = intent_by_id[invoice["payment_intent"]]
        assert charge["payment_intent"] == intent["id"]
        assert intent["status"] == "succeeded" and intent["latest_charge"] == charge["id"]
        assert intent["amount"] == intent["amount_received"] == invoice["amount_due"]
        assert intent["invoice"] == invoice["id"] and intent["created"] == charge["created"]
        assert intent["customer"] == invoice["customer"]
    assert by_invoice == {}  # no charge names an invoice that is not paid with a charge
    for invoice in sub_invoices:
        if invoice["status"] != "paid" or invoice["amount_due"] == 0:
            assert invoice["charge"] is None and invoice["payment_intent"] is None
            assert not invoice["paid_out_of_band"]
    assert any(i["status"] == "open" for i in sub_invoices)
    assert any(i["status"] == "paid" and i["amount_due"] == 0 for i in sub_invoices)


def test_the_failing_renewal_is_charged_at_its_recovery_only(ds, sub_invoices) -> None:
    recovered = 0
    for invoice in sub_invoices:
        _, s = ds.ids.decode(invoice["subscription"])
        recovery = ds.change_time(E.RECOVERED, s)
        failure = ds.change_time(E.INVOICE_PAYMENT_FAILED, s)
        # The failing renewal: created at the renewal, its payment fails an hour later.
        if recovery is None or recovery > NOW or invoice["created"] != failure - 3600:
            continue
        assert invoice["status"] == "paid" and invoice["amount_due"] > 0
        charge = ds.retrieve(invoice["charge"], NOW, "charges")
        assert charge["created"] == recovery == invoice["status_transitions"]["paid_at"]
        before = ds.retrieve(invoice["id"], recovery - 1, "invoices")
        assert before["status"] == "open" and before["charge"] is None
        with pytest.raises(Exception, match="No such charge"):
            ds.retrieve(invoice["charge"], recovery - 1, "charges")
        recovered += 1
    assert recovered > 0


def test_their_balance_transactions_are_card_charges_exact_to_the_unit(ds, charges, txns) -> None:
    currencies = Counter()
    for charge in charges:
        if charge["invoice"] is None:
            continue
        t = txns[charge["balance_transaction"]]
        currency = charge["currency"]
        converted = currency not in SETTLES
        assert t["source"] == charge["id"] and t["type"] == t["reporting_category"] == "charge"
        assert t["created"] == charge["created"]
        assert t["currency"] == ("usd" if converted else currency)
        assert (t["exchange_rate"] is not None) == converted
        assert t["amount"] == settle(charge["amount"], currency, t["exchange_rate"])
        assert t["fee"] == expected_fee(charge, t["amount"], converted)
        assert t["net"] == t["amount"] - t["fee"]
        assert t["description"] == charge["description"]
        day, lag = t["created"] // DAY, 0
        while lag < 2:  # available two business days after its day, like card charges
            day += 1
            lag += (day + 3) % 7 < 5
        assert t["available_on"] == day * DAY
        currencies[currency] += 1
    assert len(currencies) >= 3 and any(c not in SETTLES for c in currencies)


def test_payouts_pay_them_out_and_still_sum_to_their_items(ds, charges, txns) -> None:
    sub_txns = {c["balance_transaction"] for c in charges if c["invoice"] is not None}
    paid_out = set()
    for payout in ds.objects("payouts", NOW):
        items = page_all_of(ds.balance_transactions, NOW, limit=50, payout=payout["id"])
        assert sum(t["net"] for t in items) == payout["amount"], payout["id"]
        paid_out.update(t["id"] for t in items if t["id"] in sub_txns)
    last = max(p["created"] for p in ds.objects("payouts", NOW))
    due = {t for t in sub_txns if txns[t]["available_on"] < last - 4 * DAY}
    assert due and due <= paid_out


@pytest.mark.parametrize("hours", [200, 1000, 1650])
def test_the_balance_still_rolls_with_them(ds, hours) -> None:
    at = parse_time("2026-01-01T00:00:00Z") + hours * 3600
    listed = ds.all_balance_transactions(at)
    assert any(t["description"] == "Subscription update" for t in listed) or hours < 1000
    balance = ds.balance(at)
    for slot, key in ((0, "available"), (1, "pending")):
        for entry in balance[key]:
            want = sum(
                t["net"]
                for t in listed
                if t["currency"] == entry["currency"]
                and ((t["available_on"] <= at) if slot == 0 else (t["available_on"] > at))
            )
            assert entry["amount"] == want, (key, entry["currency"], at)


@pytest.mark.parametrize("resource", ["charges", "payment_intents"])
def test_lists_page_both_kinds_newest_first_with_working_cursors(ds, resource) -> None:
    full = ds.objects(resource, NOW)
    kinds = Counter(obj["id"][:4] for obj in full)
    prefix = {"charges": "ch", "payment_intents": "pi"}[resource]
    assert kinds[prefix + "_3"] > 100 and kinds[prefix + "_4"] > 50
    keys = [(obj["created"], obj["id"]) for obj in full]
    assert keys == sorted(keys, reverse=True)

    def fetch(**filters):
        def page(cursor: dict) -> tuple[list[dict], bool]:
            got = ds.list_page(resource, NOW, limit=7, **filters, **cursor)
            return got.data, got.has_more

        return page

    ids = [obj["id"] for obj in full]
    assert [o["id"] for o in walk_pages(fetch())] == ids
    # Backwards from a subscription payment deep in the list: everything newer than it.
    pivot = next(n for n, i in enumerate(ids) if i[:4].endswith("4") and n > 40)
    back = walk_pages(fetch(), ending_before=ids[pivot])
    assert [o["id"] for o in back] == ids[:pivot]
    window = CreatedFilter(gte=NOW - 20 * DAY, lte=NOW - 5 * DAY)
    inside = [o["id"] for o in full if window.gte <= o["created"] <= window.lte]
    assert [o["id"] for o in walk_pages(fetch(created=window))] == inside
    customer = next(o["customer"] for o in full if o["id"][:4].endswith("4"))
    own = [o["id"] for o in full if o["customer"] == customer]
    assert [o["id"] for o in walk_pages(fetch(customer=customer))] == own
    for obj in full[:: max(1, len(full) // 40)]:
        assert ds.retrieve(obj["id"], NOW, resource) == obj


def test_each_payment_is_announced_by_its_three_events(ds, charges, intents) -> None:
    since = NOW - EVENT_RETENTION_SECONDS
    types = ("charge.succeeded", "payment_intent.created", "payment_intent.succeeded")
    seen: dict[str, list[dict]] = {}
    feed = ds.events(NOW, types)
    for event in feed:
        seen.setdefault(event["data"]["object"]["id"], []).append(event)
    count = 0
    for charge in charges:
        if charge["invoice"] is None or charge["created"] < since:
            continue
        (event,) = seen[charge["id"]]
        assert event["type"] == "charge.succeeded" and event["data"]["object"] == charge
        assert event["created"] == charge["created"]
        intent = ds.retrieve(charge["payment_intent"], NOW, "payment_intents")
        created, succeeded = sorted(seen[intent["id"]], key=lambda e: e["type"])
        assert created["type"] == "payment_intent.created"
        assert created["data"]["object"]["status"] == "requires_payment_method"
        assert succeeded["data"]["object"] == intent
        # Stripe's order at one second: intent created, charge, intent succeeded.
        newest_first = [e["id"] for e in feed if e["created"] == event["created"]]
        assert newest_first.index(succeeded["id"]) < newest_first.index(event["id"])
        assert newest_first.index(event["id"]) < newest_first.index(created["id"])
        count += 1
        if count >= 25:
            break
    assert count >= 10
    assert ds.retrieve(event["id"], NOW, "events") == event


def test_basil_drops_the_invoice_link_from_both(ds, charges) -> None:
    charge = next(c for c in charges if c["invoice"] is not None)
    basil = ds.retrieve(charge["id"], NOW, "charges", version="2025-03-31.basil")
    assert "invoice" not in basil and basil["amount"] == charge["amount"]
    intent = ds.retrieve(charge["payment_intent"], NOW, "payment_intents", "2025-03-31.basil")
    assert "invoice" not in intent and intent["latest_charge"] == charge["id"]


def test_every_paid_subscription_invoice_is_announced_once_by_invoice_paid(
    ds, sub_invoices
) -> None:
    """Every subscription invoice paid inside the feed's 30 days has exactly one invoice.paid,
    at its paid_at, carrying it paid (also a 0 invoice, which no charge pays); it follows the
    charge's event at the same second; an open invoice has none."""
    since = NOW - EVENT_RETENTION_SECONDS
    feed = ds.events(NOW, ("invoice.paid", "charge.succeeded"))
    paid_events: dict[str, list[dict]] = {}
    for event in feed:
        if event["type"] == "invoice.paid":
            paid_events.setdefault(event["data"]["object"]["id"], []).append(event)
    recent = [i for i in sub_invoices if i["created"] >= since]
    paid = [i for i in recent if i["status"] == "paid"]
    assert any(i["amount_due"] == 0 for i in paid) and any(i["amount_due"] > 0 for i in paid)
    for invoice in paid:
        (event,) = paid_events[invoice["id"]]
        paid_at = invoice["status_transitions"]["paid_at"]
        assert event["created"] == paid_at
        assert event["data"]["object"]["status"] == "paid"
        assert event["data"]["object"]["amount_paid"] == invoice["amount_due"]
        assert event["data"]["object"]["charge"] == invoice["charge"]
        if invoice["charge"] is not None and paid_at == invoice["created"]:
            ids = [e["id"] for e in feed if e["created"] == paid_at]  # newest first
            charge_event = next(e for e in feed if e["data"]["object"]["id"] == invoice["charge"])
            assert ids.index(event["id"]) < ids.index(charge_event["id"])
    for invoice in recent:
        if invoice["status"] == "open":
            assert invoice["id"] not in paid_events
    assert len(paid) > 20
