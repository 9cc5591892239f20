"""The engine's own MRR: from the subscriptions' lifecycle model, never from rendered JSON.

The definition is the billing contract's (Stripe's published one made exact; rules and
sources in docs/mock_api.md#mrr). Tests compare Gold's MRR tables with these figures.

- `subscription_mrr_at(ds, subscription_id, t, churn_at)`: one subscription's MRR at t.
- `mrr_movements(ds, now, churn_at)`: (subscription id, YYYY-MM) -> (kind, delta).
- `monthly_mrr(ds, now, churn_at)`: (YYYY-MM, currency) -> `MonthMrr`.
- `billing_scenarios(ds, now)`: scenario name -> a subscription id that shows it by `now`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from mock_api.dataset.catalog import COUPONS, coupon_amount_off, price_plan, unit_amount
from mock_api.dataset.subscriptions import INVOICES_PER_SUBSCRIPTION, E, lifecycle, state

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset
    from mock_api.dataset.subscriptions import Item

CHURN_MODES = ("cancellation", "period_end")
COUNTING = ("active", "past_due")
# A price's interval in months: its amount x (this) is its monthly amount.
PER_MONTH = {
    "month": Fraction(1),
    "year": Fraction(1, 12),
    "week": Fraction(52, 12),
    "day": Fraction(365, 12),
}


@dataclass(frozen=True)
class MonthMrr:
    """One row of agg_monthly_mrr: money in minor units of `currency`."""

    month: str  # YYYY-MM
    currency: str
    opening: int
    new: int
    expansion: int
    contraction: int
    churn: int
    reactivation: int
    closing: int
    arr: int
    active_subscriptions: int
    churned_subscriptions: int
    subscriber_churn_rate: Decimal | None
    net_revenue_retention: Decimal | None


def _check_mode(churn_at: str) -> None:
    if churn_at not in CHURN_MODES:
        raise ValueError(f"churn_at={churn_at!r}: must be one of {', '.join(CHURN_MODES)}")


def round_half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)).__floor__())


def item_monthly(item: Item) -> Fraction:
    """An item's exact monthly amount: 0 unless a licensed recurring price above 0."""
    plan, _ = price_plan(item.price)
    amount = unit_amount(item.price)
    if plan.interval is None or plan.usage_type != "licensed" or amount <= 0:
        return Fraction(0)
    return amount * (item.quantity or 0) * PER_MONTH[plan.interval]


def exact_mrr(ds: Dataset, s: int, t: int, churn_at: str = "cancellation") -> Fraction:
    """Subscription index s's MRR at t, before rounding."""
    _check_mode(churn_at)
    if ds.created("subscriptions", s) > t:
        return Fraction(0)
    st = state(ds, s, ds.applied("subscriptions", s, t))
    if st.status not in COUNTING:
        return Fraction(0)
    if churn_at == "cancellation" and st.canceled_at is not None and st.canceled_at <= t:
        return Fraction(0)
    total = sum((item_monthly(item) for item in st.items), Fraction(0))
    if st.coupon is not None and COUPONS[st.coupon].duration == "forever":
        coupon = COUPONS[st.coupon]
        if coupon.percent_off is not None:
            total *= 1 - Fraction(str(coupon.percent_off)) / 100
        amount_off = coupon_amount_off(coupon)
        if amount_off is not None and coupon.currency == lifecycle(ds, s).currency:
            per_month = PER_MONTH[lifecycle(ds, s).interval]
            total = max(Fraction(0), total - amount_off * per_month)
    return total


def mrr_of(ds: Dataset, s: int, t: int, churn_at: str = "cancellation") -> int:
    """Subscription index s's MRR at t, rounded once, half up, to the minor unit."""
    return round_half_up(exact_mrr(ds, s, t, churn_at))


def subscription_mrr_at(
    ds: Dataset, subscription_id: str, t: int, churn_at: str = "cancellation"
) -> int:
    decoded = ds.ids.decode(subscription_id)
    if decoded is None or decoded[0] != "subscriptions":
        raise ValueError(f"{subscription_id!r} is no subscription id of this dataset")
    return mrr_of(ds, decoded[1], t, churn_at)


# ---------------------------------------------------------------------------- months


def month_key(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m")


def _month_start(year: int, month: int) -> int:
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp())


def month_ends(first: int, now: int) -> list[tuple[str, int]]:
    """(YYYY-MM, the instant its MRR is read) from `first`'s month to `now`'s: the last
    second before the next month starts, or `now` for the current month."""
    at = dt.datetime.fromtimestamp(first, dt.UTC)
    year, month = at.year, at.month
    out = []
    while True:
        following = _month_start(year + month // 12, month % 12 + 1)
        key = f"{year:04d}-{month:02d}"
        if following > now:
            out.append((key, now))
            return out
        out.append((key, following - 1))
        year, month = year + month // 12, month % 12 + 1


@dataclass
class _History:
    """Every subscription's month-end MRR up to `now`."""

    months: list[str]
    mrr: dict[int, list[int]]  # subscription index -> MRR per month (0 before it exists)
    first_month: dict[int, int]  # subscription index -> position of its creation month


def _history(ds: Dataset, now: int, churn_at: str) -> _History:
    """Cached per (now, churn mode): the month-end MRR of every subscription."""
    _check_mode(churn_at)
    histories = ds.billing_cache.setdefault("histories", {})
    if (now, churn_at) not in histories:
        histories[(now, churn_at)] = _compute_history(ds, now, churn_at)
    return histories[(now, churn_at)]


def _compute_history(ds: Dataset, now: int, churn_at: str) -> _History:
    last = ds.timelines["subscriptions"].last_at_or_before(now)
    if last < 0:
        return _History([], {}, {})
    ends = month_ends(ds.created("subscriptions", 0), now)
    months = [key for key, _ in ends]
    position = {key: n for n, key in enumerate(months)}
    mrr: dict[int, list[int]] = {}
    first: dict[int, int] = {}
    for s in range(last + 1):
        start = position[month_key(ds.created("subscriptions", s))]
        first[s] = start
        mrr[s] = [0] * start + [mrr_of(ds, s, t, churn_at) for _, t in ends[start:]]
    return _History(months, mrr, first)


def _classify(h: _History, ds: Dataset) -> dict[tuple[int, int], tuple[str, int]]:
    """(subscription index, month position) -> (kind, delta) where delta != 0."""
    by_customer: dict[tuple[int, str], list[int]] = defaultdict(list)
    for s in h.mrr:
        lc = lifecycle(ds, s)
        by_customer[(lc.customer, lc.currency)].append(s)
    totals = {
        key: [sum(h.mrr[s][m] for s in subs) for m in range(len(h.months))]
        for key, subs in by_customer.items()
    }
    out: dict[tuple[int, int], tuple[str, int]] = {}
    for s, values in h.mrr.items():
        lc = lifecycle(ds, s)
        total = totals[(lc.customer, lc.currency)]
        for m in range(h.first_month[s], len(h.months)):
            prev = values[m - 1] if m > 0 else 0
            cur = values[m]
            delta = cur - prev
            if delta == 0:
                continue
            if prev == 0:
                returning = m >= 1 and total[m - 1] == 0 and any(v > 0 for v in total[: m - 1])
                kind = "reactivation" if returning else "new"
            elif cur == 0:
                kind = "churn"
            else:
                kind = "expansion" if delta > 0 else "contraction"
            out[(s, m)] = (kind, delta)
    return out


def mrr_movements(
    ds: Dataset, now: int, churn_at: str = "cancellation"
) -> dict[tuple[str, str], tuple[str, int]]:
    h = _history(ds, now, churn_at)
    return {
        (ds.object_id("subscriptions", s), h.months[m]): movement
        for (s, m), movement in _classify(h, ds).items()
    }


def _rate(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    exact = Decimal(numerator) / Decimal(denominator)
    return exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def monthly_mrr(
    ds: Dataset, now: int, churn_at: str = "cancellation"
) -> dict[tuple[str, str], MonthMrr]:
    """Per (month, currency), from the month of a currency's first subscription to `now`'s."""
    h = _history(ds, now, churn_at)
    movements = _classify(h, ds)
    currencies: dict[str, int] = {}  # currency -> first month position
    for s in h.mrr:
        currency = lifecycle(ds, s).currency
        currencies[currency] = min(currencies.get(currency, h.first_month[s]), h.first_month[s])
    sums: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (s, m), (kind, delta) in movements.items():
        row = sums[(m, lifecycle(ds, s).currency)]
        row[kind] += abs(delta)
        if kind == "churn":
            row["churned"] += 1
    closing: dict[tuple[int, str], int] = defaultdict(int)
    active: dict[tuple[int, str], int] = defaultdict(int)
    for s, values in h.mrr.items():
        currency = lifecycle(ds, s).currency
        for m, value in enumerate(values):
            closing[(m, currency)] += value
            active[(m, currency)] += value > 0
    out: dict[tuple[str, str], MonthMrr] = {}
    for currency, first in sorted(currencies.items()):
        for m in range(first, len(h.months)):
            row = sums[(m, currency)]
            opening = closing[(m - 1, currency)] if m > first else 0
            active_at_opening = active[(m - 1, currency)] if m > first else 0
            retained = opening + row["expansion"] - row["contraction"] - row["churn"]
            out[(h.months[m], currency)] = MonthMrr(
                month=h.months[m],
                currency=currency,
                opening=opening,
                new=row["new"],
                expansion=row["expansion"],
                contraction=row["contraction"],
                churn=row["churn"],
                reactivation=row["reactivation"],
                closing=closing[(m, currency)],
                arr=12 * closing[(m, currency)],
                active_subscriptions=active[(m, currency)],
                churned_subscriptions=row["churned"],
                subscriber_churn_rate=_rate(row["churned"], active_at_opening),
                net_revenue_retention=_rate(retained, opening),
            )
    return out


# ---------------------------------------------------------------------------- scenarios

SCENARIO_NAMES = (
    "monthly",
    "yearly",
    "weekly",
    "trial_converted",
    "trial_canceled",
    "forever_coupon",
    "once_coupon",
    "upgrade_with_proration",
    "downgrade",
    "quantity_change",
    "cancel_at_period_end",
    "canceled_immediately",
    "unpaid_churn",
    "reactivation",
    "past_due_recovered",
    "many_items",
)


def _scenarios_of(ds: Dataset, s: int, now: int, reactivated: set[int]) -> list[str]:
    """The scenario names subscription s exhibits by `now` (its changes have happened)."""
    lc = lifecycle(ds, s)
    applied = ds.applied("subscriptions", s, now)
    st = state(ds, s, applied)
    names = []
    paid = any(item_monthly(item) > 0 for item in st.items)
    plain = lc.scenario == "plain" and lc.coupon is None and not lc.trial
    # Renewed at least once; a yearly plan's first renewal lies beyond a 100-day history.
    if plain and paid and st.status == "active" and (st.renewals or lc.interval == "year"):
        names.append({"month": "monthly", "year": "yearly", "week": "weekly"}[lc.interval])
    if E.TRIAL_ENDED in applied and st.status == "active":
        names.append("trial_converted")
    if E.TRIAL_CANCELED in applied:
        names.append("trial_canceled")
    if lc.coupon is not None and st.status == "active" and not lc.trial:
        duration = COUPONS[lc.coupon].duration
        if duration == "forever":
            names.append("forever_coupon")
        elif duration == "once":
            names.append("once_coupon")
    changed = {"upgrade": "upgrade_with_proration", "downgrade": "downgrade"}
    if E.CHANGED in applied and lc.scenario in ("upgrade", "downgrade", "quantity_change"):
        names.append(changed.get(lc.scenario, lc.scenario))
    if E.ENDED in applied and paid:
        names.append("cancel_at_period_end")
    if E.CANCELED_NOW in applied and paid:
        names.append("canceled_immediately")
    if E.UNPAID in applied:
        names.append("unpaid_churn")
    if E.RECOVERED in applied:
        names.append("past_due_recovered")
    if s in reactivated:
        names.append("reactivation")
    if lc.scenario == "many_items":
        names.append("many_items")
    return names


def billing_scenarios(ds: Dataset, now: int) -> dict[str, str]:
    """Scenario name -> a subscription id exhibiting it by `now` (the oldest, usd first;
    `invoice_over_10_lines`: an invoice id). Also `<name>_<currency>` for every currency in
    which one exists, so a test can pick a jpy or kwd one."""
    reactivated = {
        s
        for (s, _), (kind, _) in _classify(_history(ds, now, "cancellation"), ds).items()
        if kind == "reactivation"
    }
    last = ds.timelines["subscriptions"].last_at_or_before(now)
    found: dict[str, dict[str, str]] = defaultdict(dict)  # name -> currency -> id
    for s in range(last + 1):
        currency = lifecycle(ds, s).currency
        for name in _scenarios_of(ds, s, now, reactivated):
            found[name].setdefault(currency, ds.object_id("subscriptions", s))
    out = {}
    # The invoice of a subscription with 12 items: its creation's invoice has 12 lines.
    for currency, sub_id in found["many_items"].items():
        s = ds.ids.decode(sub_id)[1]  # type: ignore[index]
        invoice_id = ds.ids.encode("subscription_invoices", s * INVOICES_PER_SUBSCRIPTION)
        found["invoice_over_10_lines"][currency] = invoice_id
    for name in (*SCENARIO_NAMES, "invoice_over_10_lines"):
        if found[name]:
            out[name] = found[name].get("usd") or next(iter(found[name].values()))
    for name in (*SCENARIO_NAMES, "invoice_over_10_lines"):
        for currency, sub_id in sorted(found[name].items()):
            out[f"{name}_{currency}"] = sub_id
    return out
