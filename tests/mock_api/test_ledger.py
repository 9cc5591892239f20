"""The mock's ledger: balance transactions, fees, FX, refunds, disputes, payouts and the
balance hold together to the minor unit, and each follows its documented lifecycle.

Expected figures are computed here from the mock's own objects (charges, refunds, disputes,
payouts) with the rules of docs/mock_api.md#the-ledger, never read from the ledger itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from mock_api.dataset import CURRENCY_EXPONENT, DAY, Dataset, MockConfig, parse_time
from mock_api.dataset.charges import money_facts, payment_facts
from mock_api.dataset.config import EVENT_RETENTION_SECONDS
from tests.support.paging import page_all_of

NOW = parse_time("2026-03-12T15:30:00Z")
CONFIG = MockConfig(seed=5, start_date="2026-01-01", volume=25)
SETTLES = {"usd", "eur"}


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset(CONFIG)


@pytest.fixture(scope="module")
def txns(ds) -> list[dict]:
    return ds.all_balance_transactions(NOW)


@pytest.fixture(scope="module")
def by_id(txns) -> dict[str, dict]:
    return {t["id"]: t for t in txns}


@pytest.fixture(scope="module")
def charges(ds) -> list[dict]:
    return ds.objects("charges", NOW)


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def settle(amount: int, currency: str, rate: float | None) -> int:
    """Presentment minor units -> settlement minor units, as the docs state the rule."""
    if rate is None:
        return amount
    major = Decimal(amount) / Decimal(10) ** CURRENCY_EXPONENT[currency]
    return half_up(major * Decimal(repr(rate)) * 100)


def expected_fee(charge: dict, settled: int, converted: bool) -> int:
    method = charge["payment_method_details"]["type"]
    if method != "card":
        return min(500, half_up(settled * Decimal("0.008")))
    percent = Decimal("0.029")
    if charge["payment_method_details"]["card"]["country"] != "US":
        percent += Decimal("0.015")
    if converted:
        percent += Decimal("0.01")
    return half_up(settled * percent) + 30


def test_every_transaction_adds_up(txns) -> None:
    assert len(txns) > 1000
    for t in txns:
        assert t["fee"] + t["net"] == t["amount"], t["id"]
        assert t["fee"] == sum(d["amount"] for d in t["fee_details"]), t["id"]
        assert all(d["currency"] == t["currency"] for d in t["fee_details"])
        assert t["currency"] in SETTLES
        assert t["status"] == ("available" if t["available_on"] <= NOW else "pending")
        assert t["created"] <= NOW and t["available_on"] >= t["created"]
    assert [(t["created"], t["id"]) for t in txns] == sorted(
        ((t["created"], t["id"]) for t in txns), reverse=True
    )
    assert len({t["id"] for t in txns}) == len(txns)


def test_captured_charges_have_their_transaction_exact_in_every_currency(
    ds, charges, by_id
) -> None:
    presentment = Counter()
    partial = 0
    for charge in charges:
        moved = charge["status"] == "succeeded" and charge["captured"]
        if not moved:
            assert charge["balance_transaction"] is None
            continue
        t = by_id[charge["balance_transaction"]]
        currency = charge["currency"]
        converted = currency not in SETTLES
        assert t["source"] == charge["id"]
        assert t["currency"] == ("usd" if converted else currency)
        assert (t["exchange_rate"] is not None) == converted
        rate = t["exchange_rate"]
        assert t["amount"] == settle(charge["amount"], currency, rate)
        captured = settle(charge["amount_captured"], currency, rate)
        assert t["fee"] == expected_fee(charge, captured, converted)
        method = charge["payment_method_details"]["type"]
        assert t["type"] == ("charge" if method == "card" else "payment")
        assert t["reporting_category"] == "charge"
        # Available two business days after the day it was created.
        day, lag = t["created"] // DAY, 0
        while lag < 2:
            day += 1
            lag += (day + 3) % 7 < 5
        assert t["available_on"] == day * DAY
        if charge["amount_captured"] < charge["amount"]:
            (refund,) = charge["refunds"]["data"]
            reversal = by_id[refund["balance_transaction"]]
            assert reversal["reporting_category"] == "partial_capture_reversal"
            assert reversal["amount"] == captured - t["amount"]
            assert t["net"] + reversal["net"] == captured - t["fee"]
            partial += 1
        presentment[currency] += 1
    assert partial > 0
    assert {"usd", "eur", "jpy", "krw", "kwd", "gbp"} <= set(presentment)


def test_exchange_rates_are_daily_and_carry_six_significant_digits(txns) -> None:
    rates = defaultdict(set)
    for t in txns:
        if t["exchange_rate"] is not None and t["type"] in ("charge", "payment"):
            digits = Decimal(repr(t["exchange_rate"])).normalize().as_tuple().digits
            assert len(digits) <= 6
            rates[t["created"] // DAY].add(t["exchange_rate"])
    assert len(rates) > 30
    assert len({rate for day in rates.values() for rate in day}) > 100


def test_refunds_are_objects_with_their_transaction(ds, charges, by_id) -> None:
    refunds = {r["id"]: r for r in ds.objects("refunds", NOW)}
    embedded = [r for c in charges for r in c["refunds"]["data"]]
    assert {r["id"] for r in embedded} == set(refunds)
    for charge in charges:
        assert charge["amount_refunded"] == sum(r["amount"] for r in charge["refunds"]["data"])
    reasons = Counter()
    for refund in refunds.values():
        reasons[refund["reason"]] += 1
        if refund["reason"] == "expired_uncaptured_charge":
            assert refund["balance_transaction"] is None
            continue
        t = by_id[refund["balance_transaction"]]
        if refund["reason"] == "requested_by_customer":
            assert t["source"] == refund["id"] and t["type"] == "refund" and t["fee"] == 0
            assert t["amount"] == -settle(refund["amount"], refund["currency"], t["exchange_rate"])
            if refund["created"] + DAY > NOW:
                assert refund["status"] == "pending"
            else:
                assert refund["status"] in ("succeeded", "failed")
                reasons[refund["status"]] += 1
            assert ("failure_reason" in refund) == (refund["status"] == "failed")
        elif refund["status"] == "failed":
            raise AssertionError(f"only a customer's refund fails: {refund['id']}")
    assert reasons["failed"] and reasons["succeeded"] > 10 * reasons["failed"]
    del reasons["failed"], reasons["succeeded"]
    assert set(reasons) == {"requested_by_customer", None, "expired_uncaptured_charge"}


def test_a_refund_is_pending_then_succeeds_a_day_later(ds) -> None:
    events = [e for e in ds.events(NOW) if e["type"].startswith(("refund.", "charge.refund."))]
    created = {e["data"]["object"]["id"]: e for e in events if e["type"] == "refund.created"}
    updates = [e for e in events if e["type"] == "refund.updated"]
    mirrors = [
        e
        for e in events
        if e["type"] == "charge.refund.updated" and e["data"]["object"]["status"] == "succeeded"
    ]
    assert updates and len(updates) == len(mirrors)
    for update in updates:
        refund = update["data"]["object"]
        assert refund["status"] == "succeeded"
        assert update["data"]["previous_attributes"] == {"status": "pending"}
        assert update["created"] == refund["created"] + DAY
        if refund["id"] in created:
            assert created[refund["id"]]["data"]["object"]["status"] == "pending"


def test_a_failed_refund_returns_its_money_a_day_later(ds, charges, by_id) -> None:
    """pending with its refund transaction, then failed: `failure_reason`, and a
    `refund_failure` transaction giving back exactly what the refund took, fee 0."""
    failed = [r for r in ds.objects("refunds", NOW) if r["status"] == "failed"]
    assert len(failed) >= 3
    by_charge = {c["id"]: c for c in charges}
    events = ds.events(NOW)
    for refund in failed:
        assert refund["reason"] == "requested_by_customer"
        assert refund["failure_reason"] == "expired_or_canceled_card"
        out = by_id[refund["balance_transaction"]]
        back = by_id[refund["failure_balance_transaction"]]
        assert (back["type"], back["reporting_category"]) == ("adjustment", "refund_failure")
        assert back["source"] == refund["id"] and back["currency"] == out["currency"]
        assert back["amount"] == back["net"] == -out["amount"] > 0 and back["fee"] == 0
        assert back["created"] == refund["created"] + DAY
        # The charge does not change (no event would carry it; docs/mock_api.md).
        assert by_charge[refund["charge"]]["amount_refunded"] == refund["amount"]
    failed_ids = {r["id"] for r in failed}
    told = Counter(
        (e["type"], e["created"] - e["data"]["object"]["created"])
        for e in events
        if e["data"]["object"].get("id") in failed_ids and e["type"] != "refund.created"
    )
    recent = sum(1 for r in failed if r["created"] + DAY >= NOW - EVENT_RETENTION_SECONDS)
    assert recent
    assert told == {("refund.failed", DAY): recent, ("charge.refund.updated", DAY): recent}
    for e in events:
        if e["type"] == "charge.refund.updated" and e["data"]["object"]["id"] in failed_ids:
            previous = e["data"]["previous_attributes"]
            assert previous == {"status": "pending"}


def test_disputes_withdraw_funds_and_fee_and_reinstate_them_when_won(ds, by_id) -> None:
    disputes = ds.objects("disputes", NOW)
    assert {d["status"] for d in disputes} >= {"under_review", "won", "lost"}
    for dispute in disputes:
        movements = dispute["balance_transactions"]
        debit = by_id[movements[0]["id"]]
        assert debit["source"] == dispute["id"] and debit["type"] == "adjustment"
        assert debit["reporting_category"] == "dispute" and debit["fee"] == 1500
        assert debit["amount"] == -settle(
            dispute["amount"], dispute["currency"], debit["exchange_rate"]
        )
        assert len(movements) == (2 if dispute["status"] == "won" else 1)
        if dispute["status"] == "won":
            credit = by_id[movements[1]["id"]]
            assert credit["reporting_category"] == "dispute_reversal"
            assert credit["amount"] == -debit["amount"] and credit["fee"] == -1500
        review = dispute["status"] != "needs_response"
        assert dispute["evidence_details"]["has_evidence"] == review
        assert dispute["evidence_details"]["due_by"] == dispute["created"] + 7 * DAY
    kinds = [e["type"] for e in ds.events(NOW) if e["type"].startswith("charge.dispute.")]
    assert set(kinds) == {
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    }


def test_every_payout_is_exactly_its_itemized_transactions(ds, by_id) -> None:
    payouts = ds.objects("payouts", NOW)
    assert {p["status"] for p in payouts} >= {"paid", "failed"}
    assert {p["currency"] for p in payouts} == SETTLES
    paid_out: Counter[str] = Counter()
    for payout in payouts:
        items = page_all_of(ds.balance_transactions, NOW, limit=7, payout=payout["id"])
        assert payout["amount"] > 0
        assert sum(t["net"] for t in items) == payout["amount"], payout["id"]
        assert all(t["currency"] == payout["currency"] for t in items)
        assert all(t["available_on"] <= payout["created"] for t in items)
        paid_out.update(t["id"] for t in items)
        own = by_id[payout["balance_transaction"]]
        assert own["amount"] == -payout["amount"] and own["source"] == payout["id"]
        assert payout["arrival_date"] > payout["created"]
        if payout["status"] == "failed":
            back = by_id[payout["failure_balance_transaction"]]
            assert back["type"] == "payout_failure" and back["amount"] == payout["amount"]
            assert back["created"] == payout["arrival_date"] + 3600
    assert max(paid_out.values()) == 1  # no transaction is paid out twice
    last = max(p["created"] for p in payouts)
    # Everything available before the latest payout (but payouts themselves) was paid out,
    # except in a currency whose balance was carried.
    owed = {
        t["id"]
        for t in by_id.values()
        if t["type"] != "payout" and t["available_on"] < last - 86400 * 4
    }
    assert owed <= set(paid_out)


@pytest.mark.parametrize("hours", [0, 1.5, 2.5, 30, 200, 1000, 1700])
def test_the_balance_is_the_sum_of_available_and_pending_transactions(ds, hours) -> None:
    at = parse_time("2026-01-01T00:00:00Z") + int(hours * 3600)
    at = min(at, NOW)
    balance = ds.balance(at)
    txns = ds.all_balance_transactions(at)
    for slot, key in ((0, "available"), (1, "pending")):
        for entry in balance[key]:
            want = sum(
                t["net"]
                for t in txns
                if t["currency"] == entry["currency"]
                and ((t["available_on"] <= at) if slot == 0 else (t["available_on"] > at))
            )
            assert entry["amount"] == want, (key, entry["currency"], at)


def test_daily_truth_is_the_ledger_per_currency_and_day(ds, txns) -> None:
    truth = ds.daily_truth(NOW)
    sums: dict = defaultdict(lambda: [0, 0, 0])
    for t in txns:
        import datetime as dt

        day = dt.datetime.fromtimestamp(t["created"], dt.UTC).date().isoformat()
        row = sums[(t["currency"], day)]
        row[0] += t["fee"]
        row[1] += t["net"]
        row[2] += -t["amount"] if t["type"] in ("payout", "payout_failure") else 0
    assert set(truth) == set(sums)
    for key, (fee, net, payouts) in sums.items():
        assert (truth[key]["fee"], truth[key]["net"], truth[key]["payouts"]) == (fee, net, payouts)
    final = ds.balance(NOW)
    for entry in final["available"]:
        last_day = max(day for currency, day in truth if currency == entry["currency"])
        assert truth[(entry["currency"], last_day)]["available"] == entry["amount"]


def test_money_facts_agree_with_payment_facts(ds) -> None:
    for i in range(0, 4000, 3):
        full = payment_facts(ds, i)
        assert money_facts(ds, i) == {
            "currency": full["currency"],
            "country": full["customer_facts"]["country"],
            "amount": full["amount"],
            "captured_amount": full["captured_amount"],
            "refund_amount": full["refund_amount"],
        }


def _lifecycles(ds: Dataset, prefixes: tuple[str, ...]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for event in sorted(ds.events(NOW), key=lambda e: (e["created"], e["id"])):
        if event["type"].startswith(prefixes):
            out[event["data"]["object"]["id"]].append(event)
    return out


def test_a_payout_goes_pending_in_transit_then_paid_or_failed(ds) -> None:
    finals = Counter()
    for payout_id, events in _lifecycles(ds, ("payout.",)).items():
        kinds = [e["type"] for e in events]
        statuses = [e["data"]["object"]["status"] for e in events]
        if kinds[0] != "payout.created":
            continue  # created before the 30 days of events
        assert statuses[:2] == ["pending", "in_transit"][: len(statuses)], payout_id
        if len(events) > 1:
            assert events[1]["data"]["previous_attributes"] == {"status": "pending"}
            assert events[1]["created"] == events[0]["created"] + 3600
        if len(events) == 3:
            payout = events[2]["data"]["object"]
            assert (kinds[2], statuses[2]) in {("payout.paid", "paid"), ("payout.failed", "failed")}
            arrival = payout["arrival_date"]
            assert events[2]["created"] == arrival + (3600 if statuses[2] == "failed" else 0)
            finals[statuses[2]] += 1
    assert (
        finals["paid"] > 10
    )  # failed ones: test_every_payout_is_exactly_its_itemized_transactions


def test_a_dispute_goes_needs_response_under_review_then_won_or_lost(ds) -> None:
    # Closing comes 35 days after opening, past the 30 days events are kept: each dispute's
    # retained events must still move forward only.
    rank = {"needs_response": 0, "under_review": 1, "won": 2, "lost": 2}
    seen = Counter()
    for dispute_id, events in _lifecycles(ds, ("charge.dispute.",)).items():
        kinds = [e["type"] for e in events]
        ranks = [rank[e["data"]["object"]["status"]] for e in events]
        assert ranks == sorted(ranks), dispute_id
        for event in events:
            status = event["data"]["object"]["status"]
            seen[(event["type"], status)] += 1
            if event["type"] == "charge.dispute.updated":
                assert event["data"]["previous_attributes"]["status"] == "needs_response"
        if "charge.dispute.closed" in kinds:
            won = events[kinds.index("charge.dispute.closed")]["data"]["object"]["status"] == "won"
            assert ("charge.dispute.funds_reinstated" in kinds) == won
    assert {
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.funds_withdrawn", "needs_response"),
        ("charge.dispute.updated", "under_review"),
    } <= set(seen)
    assert {status for kind, status in seen if kind == "charge.dispute.closed"} == {"won", "lost"}
