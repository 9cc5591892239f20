"""The billing engine: catalog amounts, subscription lifecycles, and the engine's own MRR.

MRR is checked three ways: literal answers worked out by hand (a weekly plan's
normalisation, yearly plans, jpy and kwd amounts, half-up rounding), a recomputation from
the rendered subscriptions' JSON (status, items, forever coupon, canceled_at) that shares
no code with `mrr.py`, and the roll-forward identity of the monthly table.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from mock_api.dataset import Dataset, MockConfig, MockError, mrr, parse_time
from mock_api.dataset.catalog import PLAN_INDEX, convert, price_index, unit_amount
from mock_api.dataset.subscriptions import E, Item, add_months, lifecycle
from tests.support.paging import page_all_of

NOW = parse_time("2026-04-10T00:00:00Z")
CONFIG = MockConfig(seed=42, start_date="2026-01-01", volume=100)
DAY = 86_400
CONTRACT_SCENARIOS = (
    "monthly",
    "yearly",
    "weekly",
    "trial_converted",
    "trial_canceled",
    "forever_coupon",
    "once_coupon",
    "upgrade_with_proration",
    "downgrade",
    "cancel_at_period_end",
    "canceled_immediately",
    "unpaid_churn",
    "reactivation",
    "past_due_recovered",
)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset(CONFIG)


@pytest.fixture(scope="module")
def subscriptions(ds) -> list[dict]:
    return page_all_of(ds.list_page, "subscriptions", NOW, limit=100, status="all")


def price(plan: str, currency: str) -> int:
    return price_index(PLAN_INDEX[plan], currency)


# ---------------------------------------------------------------------------- catalog


@pytest.mark.parametrize(
    ("plan", "currency", "amount"),
    [
        ("starter", "usd", 1_500),
        ("starter", "jpy", 2_250),  # 15 USD x 150, no decimals
        ("starter", "kwd", 4_650),  # 15 x 0.31 = 4.650 KWD, three decimals
        ("starter", "krw", 20_250),
        ("pulse", "kwd", 2_170),  # 7 x 0.31 = 2.170 KWD
        ("pulse", "eur", 644),
        ("business", "jpy", 148_500),
        ("api_calls", "kwd", 10),  # 0.0062 KWD: at least one ten of fils
        ("free", "usd", 0),
    ],
)
def test_prices_per_currency_in_its_minor_unit(plan, currency, amount) -> None:
    assert unit_amount(price(plan, currency)) == amount


def test_three_decimal_amounts_end_in_zero() -> None:
    assert all(convert(usd, "kwd") % 10 == 0 for usd in (2, 700, 1_500, 4_900, 99_000))


def test_catalog_lists_every_plan_in_every_currency(ds) -> None:
    prices = ds.objects("prices", NOW)
    products = {p["id"]: p for p in ds.objects("products", NOW)}
    assert len(prices) == 6 * len(products)
    assert all(p["product"] in products and p["tax_behavior"] == "exclusive" for p in prices)
    kinds = {(p["type"], (p["recurring"] or {}).get("interval")) for p in prices}
    assert kinds == {
        ("recurring", "month"),
        ("recurring", "year"),
        ("recurring", "week"),
        ("one_time", None),
    }
    coupons = ds.objects("coupons", NOW)
    assert {c["duration"] for c in coupons} == {"forever", "once", "repeating"}
    assert any(c["amount_off"] and c["currency"] == "jpy" for c in coupons)


# ---------------------------------------------------------------------------- hand-computed MRR


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (Item(0, price("pulse", "usd"), 1), 3_033),  # 700 x 52 / 12 = 3033.33
        (Item(0, price("pulse", "kwd"), 1), 9_403),  # 2170 x 52 / 12 = 9403.33
        (Item(0, price("pulse", "eur"), 1), 2_791),  # 644 x 52 / 12 = 2790.67
        (Item(0, price("pulse", "jpy"), 1), 4_550),  # 1050 x 52 / 12
        (Item(0, price("business", "usd"), 1), 8_250),  # 99000 / 12
        (Item(0, price("business", "kwd"), 1), 25_575),  # 306900 / 12
        (Item(0, price("team", "jpy"), 3), 5_400),  # 1800 x 3
        (Item(0, price("free", "usd"), 1), 0),
        (Item(1, price("api_calls", "usd"), None), 0),  # metered
        (Item(0, price("onboarding", "usd"), 1), 0),  # one-time
    ],
)
def test_item_normalised_to_a_month(item, expected) -> None:
    assert mrr.round_half_up(mrr.item_monthly(item)) == expected


def test_rounding_is_half_up_once() -> None:
    assert [mrr.round_half_up(Fraction(n, 2)) for n in (1, 3, 5, -1)] == [1, 2, 3, 0]
    # 20% off a weekly plan: 3033.33 x 0.8 = 2426.67, rounded after the discount.
    exact = mrr.item_monthly(Item(0, price("pulse", "usd"), 1)) * Fraction(4, 5)
    assert mrr.round_half_up(exact) == 2_427


def test_weekly_subscription_counts_52_weeks_over_12_months(ds) -> None:
    sub_id = mrr.billing_scenarios(ds, NOW)["weekly"]
    sub = ds.retrieve(sub_id, NOW, "subscriptions")
    assert sub["items"]["data"][0]["price"]["recurring"]["interval"] == "week"
    assert sub["currency"] == "usd" and sub["status"] == "active"
    assert mrr.subscription_mrr_at(ds, sub_id, NOW) == 3_033


def test_trial_counts_only_after_it_converts(ds) -> None:
    sub_id = mrr.billing_scenarios(ds, NOW)["trial_converted"]
    sub = ds.retrieve(sub_id, NOW, "subscriptions")
    assert sub["trial_end"] - sub["trial_start"] == 14 * DAY
    assert mrr.subscription_mrr_at(ds, sub_id, sub["trial_end"] - 1) == 0
    assert mrr.subscription_mrr_at(ds, sub_id, sub["trial_end"]) > 0


def test_churn_mode_cancellation_or_period_end(ds) -> None:
    sub_id = mrr.billing_scenarios(ds, NOW)["cancel_at_period_end"]
    sub = ds.retrieve(sub_id, NOW, "subscriptions")
    asked, ended = sub["canceled_at"], sub["ended_at"]
    assert sub["status"] == "canceled" and asked < ended == sub["cancel_at"]
    between = (asked + ended) // 2
    assert mrr.subscription_mrr_at(ds, sub_id, between) == 0
    assert mrr.subscription_mrr_at(ds, sub_id, between, "period_end") > 0
    assert mrr.subscription_mrr_at(ds, sub_id, ended, "period_end") == 0
    with pytest.raises(ValueError, match="churn_at"):
        mrr.subscription_mrr_at(ds, sub_id, NOW, "whenever")


def test_unpaid_churns_and_past_due_still_counts(ds) -> None:
    sub_id = mrr.billing_scenarios(ds, NOW)["unpaid_churn"]
    assert ds.retrieve(sub_id, NOW, "subscriptions")["status"] == "unpaid"
    s = ds.ids.decode(sub_id)[1]
    past_due = ds.change_time(E.PAST_DUE, s)
    unpaid = ds.change_time(E.UNPAID, s)
    assert (
        mrr.subscription_mrr_at(ds, sub_id, past_due)
        == mrr.subscription_mrr_at(ds, sub_id, past_due - 1)
        > 0
    )
    assert mrr.subscription_mrr_at(ds, sub_id, unpaid) == 0


# ---------------------------------------------------------------------------- MRR from the JSON

PER_MONTH = {"month": Fraction(1), "year": Fraction(1, 12), "week": Fraction(52, 12)}


def mrr_from_json(sub: dict, t: int) -> int:
    """The contract's definition applied to a rendered subscription (its state at t)."""
    if sub["status"] not in ("active", "past_due"):
        return 0
    if sub["canceled_at"] is not None and sub["canceled_at"] <= t:
        return 0
    total = Fraction(0)
    interval = None
    for item in sub["items"]["data"]:
        p = item["price"]
        recurring = p["recurring"]
        if recurring is None or recurring["usage_type"] != "licensed" or p["unit_amount"] <= 0:
            continue
        interval = recurring["interval"]
        total += p["unit_amount"] * item["quantity"] * PER_MONTH[interval]
    coupon = (sub["discount"] or {}).get("coupon")
    if coupon and coupon["duration"] == "forever":
        if coupon["percent_off"] is not None:
            total *= 1 - Fraction(str(coupon["percent_off"])) / 100
        if coupon["amount_off"] is not None and interval is not None:
            total = max(Fraction(0), total - coupon["amount_off"] * PER_MONTH[interval])
    return int(total + Fraction(1, 2))


def test_engine_mrr_equals_the_definition_applied_to_every_subscription(ds, subscriptions) -> None:
    assert len(subscriptions) > 400
    counted = 0
    for sub in subscriptions:
        expected = mrr_from_json(sub, NOW)
        assert mrr.subscription_mrr_at(ds, sub["id"], NOW) == expected, sub["id"]
        counted += expected > 0
    assert counted > 300


def test_forever_coupons_reduce_mrr_and_once_coupons_do_not(ds) -> None:
    found = mrr.billing_scenarios(ds, NOW)
    forever = ds.retrieve(found["forever_coupon"], NOW, "subscriptions")
    once = ds.retrieve(found["once_coupon"], NOW, "subscriptions")
    assert forever["discount"]["coupon"]["duration"] == "forever"
    assert once["discount"]["coupon"]["duration"] == "once"
    undiscounted = {**once, "discount": None}
    assert mrr.subscription_mrr_at(ds, once["id"], NOW) == mrr_from_json(undiscounted, NOW) > 0
    plain = mrr_from_json({**forever, "discount": None}, NOW)
    assert 0 < mrr.subscription_mrr_at(ds, forever["id"], NOW) < plain


# ---------------------------------------------------------------------------- the monthly table


def test_roll_forward_holds_per_month_and_currency(ds) -> None:
    table = mrr.monthly_mrr(ds, NOW)
    months = sorted({m for m, _ in table})
    assert months == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert {c for _, c in table} == {"usd", "eur", "gbp", "jpy", "krw", "kwd"}
    for (month, currency), row in table.items():
        assert row.closing == (
            row.opening + row.new + row.expansion + row.reactivation - row.contraction - row.churn
        ), (month, currency)
        assert row.arr == 12 * row.closing
        following = table.get((f"{month[:5]}{int(month[5:]) + 1:02d}", currency))
        if following is not None:
            assert following.opening == row.closing
        if row.opening:
            retained = Decimal(row.opening + row.expansion - row.contraction - row.churn)
            assert row.net_revenue_retention == (retained / row.opening).quantize(
                Decimal("0.000001")
            )
        else:
            assert row.net_revenue_retention is None


def test_movements_sum_to_the_closing_mrr_of_each_subscription(ds, subscriptions) -> None:
    movements = mrr.mrr_movements(ds, NOW)
    table = mrr.monthly_mrr(ds, NOW)
    kinds = {kind for kind, _ in movements.values()}
    assert kinds == {"new", "expansion", "contraction", "churn", "reactivation"}
    per_sub: dict[str, int] = {}
    for (sub_id, _), (kind, delta) in movements.items():
        assert delta != 0 and (kind in ("churn", "contraction")) == (delta < 0)
        per_sub[sub_id] = per_sub.get(sub_id, 0) + delta
    for sub in subscriptions:
        assert per_sub.get(sub["id"], 0) == mrr.subscription_mrr_at(ds, sub["id"], NOW)
    closing: dict[str, int] = {}
    for sub in subscriptions:
        closing[sub["currency"]] = closing.get(sub["currency"], 0) + per_sub.get(sub["id"], 0)
    assert {c: table[("2026-04", c)].closing for c in closing} == closing
    churned = sum(1 for (_, m), (k, _) in movements.items() if m == "2026-03" and k == "churn")
    assert churned == sum(r.churned_subscriptions for (m, _), r in table.items() if m == "2026-03")


def test_every_named_scenario_happens_by_now(ds) -> None:
    found = mrr.billing_scenarios(ds, NOW)
    assert set(CONTRACT_SCENARIOS) <= set(found)
    currencies = {
        key[len(name) + 1 :]
        for name in CONTRACT_SCENARIOS
        for key in found
        if key.startswith(f"{name}_")
    }
    assert {"usd", "jpy", "kwd"} <= currencies
    for name in CONTRACT_SCENARIOS:
        sub = ds.retrieve(found[name], NOW, "subscriptions")
        assert sub["created"] <= NOW
    moves = mrr.mrr_movements(ds, NOW)
    assert any(moves[k][0] == "reactivation" for k in moves if k[0] == found["reactivation"])
    upgraded = [v for k, v in moves.items() if k[0] == found["upgrade_with_proration"]]
    assert [kind for kind, _ in upgraded][-1] == "expansion"
    downgraded = [v for k, v in moves.items() if k[0] == found["downgrade"]]
    assert "contraction" in [kind for kind, _ in downgraded]


# ---------------------------------------------------------------------------- lifecycles and events


def test_months_keep_the_anchor_day_or_the_last_day() -> None:
    jan31 = parse_time("2026-01-31T10:00:00Z")
    assert add_months(jan31, 1) == parse_time("2026-02-28T10:00:00Z")
    assert add_months(jan31, 2) == parse_time("2026-03-31T10:00:00Z")
    assert add_months(jan31, 12) == parse_time("2027-01-31T10:00:00Z")


def test_list_omits_canceled_subscriptions_unless_asked(ds, subscriptions) -> None:
    default = page_all_of(ds.list_page, "subscriptions", NOW, limit=100)
    canceled = page_all_of(ds.list_page, "subscriptions", NOW, limit=100, status="canceled")
    assert canceled and all(s["status"] == "canceled" for s in canceled)
    assert [s["id"] for s in default] == [
        s["id"] for s in subscriptions if s["status"] != "canceled"
    ]
    assert len(default) + len(canceled) == len(subscriptions)
    with pytest.raises(MockError, match="Invalid status"):
        ds.list_page("subscriptions", NOW, status="gone")


def test_each_change_has_an_event_carrying_the_subscription_after_it(ds, subscriptions) -> None:
    types = {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
    }
    events = ds.events(NOW, tuple(types))
    assert {e["type"] for e in events} == types
    latest: dict[str, dict] = {}
    for event in events:  # newest first
        latest.setdefault(event["data"]["object"]["id"], event)
        obj = event["data"]["object"]
        if event["type"] == "customer.subscription.trial_will_end":
            assert obj["trial_end"] - event["created"] == 3 * DAY
        if event["type"] == "customer.subscription.deleted":
            assert obj["status"] == "canceled" and obj["ended_at"] == event["created"]
    current = {s["id"]: s for s in subscriptions}
    for sub_id, event in latest.items():
        if event["type"] != "customer.subscription.trial_will_end":
            assert event["data"]["object"] == current[sub_id], sub_id
    renewals = [
        e for e in events if "current_period_start" in e["data"].get("previous_attributes", {})
    ]
    assert renewals and all(
        e["data"]["object"]["current_period_start"] == e["created"] for e in renewals
    )


def test_a_subscription_keeps_its_customer_and_currency(ds, subscriptions) -> None:
    customers = {c["id"]: c for c in ds.objects("customers", NOW)}
    for sub in subscriptions:
        customer = customers[sub["customer"]]
        assert customer["currency"] == sub["currency"] and customer["created"] <= sub["created"]
        assert all(i["price"]["currency"] == sub["currency"] for i in sub["items"]["data"])
    s = ds.ids.decode(mrr.billing_scenarios(ds, NOW)["reactivation"])[1]
    churned = lifecycle(ds, s).reactivates
    assert churned is not None and lifecycle(ds, churned).customer == lifecycle(ds, s).customer


# ---------------------------------------------------------------------------- subscription invoices


@pytest.fixture(scope="module")
def sub_invoices(ds) -> list[dict]:
    invoices = ds.objects("invoices", NOW)
    keys = [(i["created"], i["id"]) for i in invoices]
    assert keys == sorted(keys, reverse=True)  # one list with the other invoices
    return [i for i in invoices if i["subscription"]]


def all_lines(ds, invoice: dict) -> list[dict]:
    return page_all_of(ds.invoice_lines, invoice["id"], NOW, limit=3)


def test_invoice_lines_sum_to_the_subtotal_and_embed_the_first_ten(ds, sub_invoices) -> None:
    reasons = {i["billing_reason"] for i in sub_invoices}
    assert reasons == {"subscription_create", "subscription_cycle", "subscription_update"}
    long = [i for i in sub_invoices if i["lines"]["has_more"]]
    assert long
    for invoice in sub_invoices:
        embedded = invoice["lines"]["data"]
        lines = all_lines(ds, invoice) if invoice["lines"]["has_more"] else embedded
        assert len(embedded) == min(len(lines), 10) and embedded == lines[:10]
        assert invoice["lines"]["has_more"] == (len(lines) > 10)
        assert sum(line["amount"] for line in lines) == invoice["subtotal"], invoice["id"]
        discount = sum(d["amount"] for line in lines for d in line["discount_amounts"])
        tax = sum(t["amount"] for line in lines for t in line["tax_amounts"])
        assert invoice["total"] == invoice["subtotal"] - discount + tax
        assert invoice["amount_due"] == max(invoice["total"], 0)
        assert len({line["id"] for line in lines}) == len(lines)
    found = mrr.billing_scenarios(ds, NOW)["invoice_over_10_lines"]
    assert len(all_lines(ds, ds.retrieve(found, NOW, "invoices"))) == 12


def test_one_invoice_per_period(ds, sub_invoices) -> None:
    by_sub: dict[str, list[dict]] = {}
    for invoice in sub_invoices:
        by_sub.setdefault(invoice["subscription"], []).append(invoice)
    subs = {
        s["id"]: s for s in page_all_of(ds.list_page, "subscriptions", NOW, limit=100, status="all")
    }
    assert set(by_sub) == set(subs)
    for sub_id, invoices in by_sub.items():
        sub = subs[sub_id]
        cycles = sorted(
            i["lines"]["data"][0]["period"]["start"]
            for i in invoices
            if i["billing_reason"] != "subscription_update"
        )
        assert len(cycles) == len(set(cycles)), sub_id  # no period billed twice
        assert sub["latest_invoice"] == max(invoices, key=lambda i: i["created"])["id"]
        if sub["status"] != "canceled" or sub["trial_end"] is None:
            assert cycles[-1] == sub["current_period_start"]


def test_upgrade_prorates_by_the_time_left(ds, sub_invoices) -> None:
    sub_id = mrr.billing_scenarios(ds, NOW)["upgrade_with_proration_usd"]
    sub = ds.retrieve(sub_id, NOW, "subscriptions")
    update = next(
        i
        for i in sub_invoices
        if i["subscription"] == sub_id and i["billing_reason"] == "subscription_update"
    )
    credit, charge = update["lines"]["data"]
    assert credit["proration"] and charge["proration"]
    # Starter (1500) credited and Pro (4900) charged for the share of the period left.
    end = credit["period"]["end"]
    s = ds.ids.decode(sub_id)[1]
    start = ds.change_time(E.RENEWED_1, s) if not lifecycle(ds, s).trial else None
    assert start is not None and sub["items"]["data"][0]["price"]["unit_amount"] == 4_900
    left = Fraction(end - update["created"], end - start)
    assert credit["amount"] == -int(1_500 * left + Fraction(1, 2))
    assert charge["amount"] == int(4_900 * left + Fraction(1, 2))
    assert update["subtotal"] == credit["amount"] + charge["amount"] > 0


def test_failed_renewal_is_open_until_recovered(ds, sub_invoices) -> None:
    sub_id = mrr.billing_scenarios(ds, NOW)["past_due_recovered"]
    s = ds.ids.decode(sub_id)[1]
    failed_at = ds.change_time(E.INVOICE_PAYMENT_FAILED, s)
    paid_at = ds.change_time(E.INVOICE_PAID, s)
    events = [
        e
        for e in ds.events(NOW, ("invoice.payment_failed", "invoice.paid"))
        if e["data"]["object"]["subscription"] == sub_id
    ]
    if events:
        assert {e["data"]["object"]["status"] for e in events} <= {"open", "paid"}
    invoice = next(
        i
        for i in sub_invoices
        if i["subscription"] == sub_id and i["status_transitions"]["paid_at"] == paid_at
    )
    assert invoice["status"] == "paid" and invoice["created"] < failed_at < paid_at
    before = ds.retrieve(invoice["id"], paid_at - 1, "invoices")
    assert before["status"] == "open" and before["amount_remaining"] == before["amount_due"]
