"""Subscriptions: a lifecycle per subscription, drawn from its index, and its rendering.

`lifecycle(ds, s)` is the engine's model of subscription s: its scenario (plain, upgrade,
downgrade, quantity change, cancel at period end, canceled immediately, past_due then
recovered or unpaid, a reactivation of a churned customer, many items, free plan; any of
them after a trial, or a trial that ends canceled), its customer, plan items, coupon and
which changes it undergoes. Every change is a `SubscriptionEvent` kind at an offset from
creation; periods follow Stripe's billing cycle (calendar months from the billing cycle
anchor, which is the trial's end when there is a trial), so those offsets are `Shift`s, one
variant per (interval, trial). `state(ds, s, applied)` is the subscription after exactly
the changes in `applied`: what the renderer shows and what `mrr.py` counts.
Rules and sources: docs/mock_api.md#billing.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.catalog import (
    ADDON_PLANS,
    COUPON_INDEX,
    COUPONS,
    PLAN_INDEX,
    price_index,
    price_plan,
    render_coupon,
    render_plan,
    render_price,
)
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.customers import CustomerEvent, customer_currency
from mock_api.dataset.errors import MockError
from mock_api.dataset.schedule import EventKind, Shift, offset_time
from mock_api.memo import keep

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

TRIAL = 14 * DAY
TRIAL_WILL_END_BEFORE = 3 * DAY  # Stripe sends trial_will_end three days before the end
INTERVALS = ("month", "year", "week")
# A variant per (interval, has a trial): the offsets of period-bound changes differ.
VARIANTS = tuple((interval, trial) for interval in INTERVALS for trial in (False, True))
RENEWALS = 52  # the schedule's horizon: a weekly plan's year, a monthly plan's 52 months
RENEWAL_CODE = 80  # RENEWED_n has code RENEWAL_CODE + n - 1
PERIOD_BOUNDS = {
    "week": (7 * DAY, 7 * DAY),
    "month": (28 * DAY, 31 * DAY),
    "year": (365 * DAY, 366 * DAY),
}
# (period, seconds into it) of each period-bound change, per interval.
CHANGE_AT = {"month": (1, 12 * DAY), "week": (4, 3 * DAY), "year": (0, 45 * DAY)}
CANCEL_REQUEST_AT = {"month": (1, 9 * DAY), "week": (4, 2 * DAY), "year": (0, 60 * DAY)}
CANCEL_NOW_AT = {"month": (1, 5 * DAY), "week": (3, 4 * DAY), "year": (0, 50 * DAY)}
# The renewal whose payment fails: past_due an hour after it (the invoice is finalised and
# charged an hour after the renewal), then paid 3 days later, or unpaid when the retries
# end (Stripe's recommended schedule retries for up to two weeks).
FAIL_RENEWAL = {"month": 1, "week": 3, "year": 1}
PAST_DUE_AFTER = HOUR
RECOVERED_AFTER = PAST_DUE_AFTER + 3 * DAY
UNPAID_AFTER = PAST_DUE_AFTER + 15 * DAY


def add_months(ts: int, months: int) -> int:
    """`ts` plus calendar months, Stripe's way: the anchor's day of month, or the month's last
    day when it is shorter (an anchor on the 31st bills on Feb 28, then Mar 31). The time of
    day is kept (UTC has no leap seconds in unix time), so only the day is computed."""
    day, second = divmod(ts, DAY)
    return _add_months_to_day(day, months) * DAY + second


# Pure and keyed by day, not second: every subscription created on one day shares its
# entries (a schedule asks for up to 52 renewals). 2^16 entries: ~12 MiB when full.
@lru_cache(maxsize=1 << 16)
def _add_months_to_day(day: int, months: int) -> int:
    """Day number (since the epoch) of day `day` plus calendar months."""
    at = _EPOCH_DATE + dt.timedelta(days=day)
    total = at.month - 1 + months
    year, month = at.year + total // 12, total % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return (dt.date(year, month, min(at.day, last)) - _EPOCH_DATE).days


_EPOCH_DATE = dt.date(1970, 1, 1)


def period_start(interval: str, anchor: int, n: int) -> int:
    """Start of the n-th period (0: the first) from the billing cycle anchor."""
    if interval == "week":
        return anchor + 7 * DAY * n
    return add_months(anchor, n if interval == "month" else 12 * n)


def _shift(interval: str, trial: bool, period: int, extra: int) -> Shift:
    lead = TRIAL if trial else 0
    low, high = PERIOD_BOUNDS[interval]
    return Shift(
        at=lambda created: period_start(interval, created + lead, period) + extra,
        low=lead + low * period + extra,
        high=lead + high * period + extra,
        slack=0 if interval == "week" else DAY,
    )


def _per_variant(at: dict[str, tuple[int, int]], extra: int = 0) -> tuple[Shift, ...]:
    return tuple(_shift(i, trial, at[i][0], at[i][1] + extra) for i, trial in VARIANTS)


def _renewal(n: int) -> tuple[Shift, ...]:
    return tuple(_shift(i, trial, n, 0) for i, trial in VARIANTS)


def _ended_at() -> tuple[Shift, ...]:
    return tuple(_shift(i, trial, CANCEL_REQUEST_AT[i][0] + 1, 0) for i, trial in VARIANTS)


def _failed_at(extra: int) -> tuple[Shift, ...]:
    return tuple(_shift(i, trial, FAIL_RENEWAL[i], extra) for i, trial in VARIANTS)


_UPDATED = "customer.subscription.updated"
_DELETED = "customer.subscription.deleted"
_MEMBERS = [
    ("CREATED", (64, "customer.subscription.created", (0,))),
    (
        "TRIAL_WILL_END",
        (65, "customer.subscription.trial_will_end", (TRIAL - TRIAL_WILL_END_BEFORE,)),
    ),
    ("TRIAL_ENDED", (66, _UPDATED, (TRIAL,))),  # trialing -> active
    ("TRIAL_CANCELED", (67, _DELETED, (TRIAL,))),  # no payment method at the trial's end
    ("CHANGED", (68, _UPDATED, _per_variant(CHANGE_AT))),  # items: price or quantity
    ("CANCEL_REQUESTED", (69, _UPDATED, _per_variant(CANCEL_REQUEST_AT))),
    ("ENDED", (70, _DELETED, _ended_at())),  # at the end of the period the request fell in
    ("CANCELED_NOW", (71, _DELETED, _per_variant(CANCEL_NOW_AT))),
    ("PAST_DUE", (72, _UPDATED, _failed_at(PAST_DUE_AFTER))),
    ("RECOVERED", (73, _UPDATED, _failed_at(RECOVERED_AFTER))),
    ("UNPAID", (74, _UPDATED, _failed_at(UNPAID_AFTER))),
    # The failing renewal's invoice: its payment fails with the past_due change, and it is
    # paid with the recovery (the events carry the invoice).
    ("INVOICE_PAYMENT_FAILED", (75, "invoice.payment_failed", _failed_at(PAST_DUE_AFTER))),
    ("INVOICE_PAID", (76, "invoice.paid", _failed_at(RECOVERED_AFTER))),
    *(
        (f"RENEWED_{n}", (RENEWAL_CODE + n - 1, _UPDATED, _renewal(n)))
        for n in range(1, RENEWALS + 1)
    ),
]
# The functional API: 52 renewal kinds are not written out by hand.
SubscriptionEvent = EventKind("SubscriptionEvent", _MEMBERS)  # type: ignore[call-overload]
SubscriptionEvent.resource = "subscriptions"
E = SubscriptionEvent
RENEWED = tuple(E[f"RENEWED_{n}"] for n in range(1, RENEWALS + 1))
ENDING = (E.TRIAL_CANCELED, E.ENDED, E.CANCELED_NOW)  # a change that cancels the subscription

# Scenario weights (per 100 subscriptions); a trial comes on top of one (see `_draw`).
SCENARIOS = (
    ("plain", 32),
    ("upgrade", 8),
    ("downgrade", 7),
    ("quantity_change", 7),
    ("cancel_at_period_end", 8),
    ("canceled_immediately", 7),
    ("past_due_recovered", 7),
    ("unpaid", 6),
    ("reactivation", 10),
    ("many_items", 3),
    ("free", 5),
)
TRIAL_SHARE = 0.22
TRIAL_CANCELED_SHARE = 0.35  # of trials
PLAN_WEIGHTS = (("starter", 25), ("pro", 18), ("team", 20), ("business", 12), ("pulse", 15))
METERED_SHARE = 0.15  # paid subscriptions with a second, metered item
# Coupon draw: cumulative shares of forever percent, forever amount, once, repeating.
COUPON_SHARES = (
    (0.10, "forever_percent"),
    (0.15, "forever_amount"),
    (0.23, "once"),
    (0.29, "repeating"),
)
# A reactivation draws its churned subscription among those created this many days before.
COMEBACK_WINDOW = (30 * DAY, 120 * DAY)
COMEBACK_TRIES = 24


@dataclass(frozen=True)
class Item:
    slot: int  # the subscription item's id is si of s * 16 + slot
    price: int  # price index
    quantity: int | None  # None: metered (Stripe renders no quantity)


@dataclass(frozen=True)
class Draw:
    """What is decided about subscription s without looking at any other subscription."""

    scenario: str
    trial: bool
    interval: str
    plan: str


@dataclass(frozen=True)
class Lifecycle:
    scenario: str  # as drawn; "trial_canceled" for a trial that ends canceled
    customer: int
    currency: str
    interval: str
    trial: bool
    variant: int
    items: tuple[Item, ...]
    changed_items: tuple[Item, ...] | None  # after CHANGED
    coupon: int | None
    kinds: frozenset[EventKind]  # the non-renewal changes it undergoes
    renewals: int  # how many RENEWED_n it undergoes
    reactivates: int | None  # the churned subscription whose customer comes back


def _draw(ds: Dataset, s: int) -> Draw:
    rng = ds.keys.rng("sub_draw", s)
    scenario = rng.weighted([n for n, _ in SCENARIOS], [w for _, w in SCENARIOS])
    trial = scenario not in ("reactivation", "free") and rng.uniform() < TRIAL_SHARE
    if trial and rng.uniform() < TRIAL_CANCELED_SHARE:
        scenario = "trial_canceled"
    plan = rng.weighted([p for p, _ in PLAN_WEIGHTS], [w for _, w in PLAN_WEIGHTS])
    plan = {
        "upgrade": "starter",
        "downgrade": "pro",
        "quantity_change": "team",
        "many_items": "pro",
        "free": "free",
    }.get(scenario, plan)
    if scenario in ("past_due_recovered", "unpaid") and plan == "business":
        plan = "starter"  # a yearly plan's first renewal is a year away
    interval = price_plan(price_index(PLAN_INDEX[plan], "usd"))[0].interval
    assert interval is not None
    return Draw(scenario, trial, interval, plan)


def _end_time(ds: Dataset, s: int, draw: Draw) -> int | None:
    """When a subscription of a cancel scenario ends (before any other lookup)."""
    kind = {"canceled_immediately": E.CANCELED_NOW, "cancel_at_period_end": E.ENDED}.get(
        draw.scenario
    )
    if kind is None:
        return None
    variant = VARIANTS.index((draw.interval, draw.trial))
    return offset_time(kind.offsets[variant], ds.created("subscriptions", s))


def _own_customer(ds: Dataset, s: int) -> int:
    """A customer created before s and never deleted (Stripe cancels a deleted customer's
    subscriptions, which this model does not do)."""
    customer = ds.customer_of("subscriptions", s)
    deleted = ds.rule(CustomerEvent.DELETED)
    while customer > 0 and deleted(customer) is not None:
        customer -= 1
    return customer


def _month_start(ts: int) -> int:
    at = dt.datetime.fromtimestamp(ts, dt.UTC)
    return int(dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC).timestamp())


def _churned_before(ds: Dataset, s: int) -> int | None:
    """An earlier subscription canceled before s's month began: the first that ends in time
    of `COMEBACK_TRIES` drawn among those created 30 to 120 days before s (a few draws, not a
    scan, so a page costs the same at any volume)."""
    created = ds.created("subscriptions", s)
    month_start = _month_start(created)
    line = ds.timelines["subscriptions"]
    low = line.first_at_or_after(created - COMEBACK_WINDOW[1])
    high = min(s - 1, line.last_at_or_before(created - COMEBACK_WINDOW[0]))
    if high < low:
        return None
    rng = ds.keys.rng("sub_comeback", s)
    for _ in range(COMEBACK_TRIES):
        r = rng.randint(low, high)
        end = _end_time(ds, r, _draw(ds, r))
        if end is not None and end < month_start:
            return r
    return None


def _items(
    ds: Dataset, s: int, draw: Draw, currency: str
) -> tuple[tuple[Item, ...], tuple[Item, ...] | None]:
    rng = ds.keys.rng("sub_items", s)
    base = price_index(PLAN_INDEX[draw.plan], currency)
    quantity = rng.randint(3, 12) if draw.plan == "team" else 1
    items = [Item(0, base, quantity)]
    if draw.scenario == "many_items":
        items += [Item(n + 1, price_index(p, currency), 1) for n, p in enumerate(ADDON_PLANS)]
    elif draw.plan != "free" and draw.interval == "month" and rng.uniform() < METERED_SHARE:
        items.append(Item(1, price_index(PLAN_INDEX["api_calls"], currency), None))
    changed = None
    if draw.scenario in ("upgrade", "downgrade"):
        target = "pro" if draw.scenario == "upgrade" else "starter"
        changed = (Item(0, price_index(PLAN_INDEX[target], currency), 1), *items[1:])
    elif draw.scenario == "quantity_change":
        step = rng.randint(1, quantity - 1)
        new = quantity + step if rng.uniform() < 0.5 else quantity - step
        changed = (Item(0, base, new), *items[1:])
    return tuple(items), changed


def _coupon(ds: Dataset, s: int, draw: Draw, currency: str) -> int | None:
    if draw.plan == "free":
        return None
    roll = ds.keys.u("sub_coupon", s)
    for share, key in COUPON_SHARES:
        if roll < share:
            return COUPON_INDEX[f"forever_amount_{currency}" if key == "forever_amount" else key]
    return None


_SCENARIO_KINDS = {
    "upgrade": (E.CHANGED,),
    "downgrade": (E.CHANGED,),
    "quantity_change": (E.CHANGED,),
    "cancel_at_period_end": (E.CANCEL_REQUESTED, E.ENDED),
    "canceled_immediately": (E.CANCELED_NOW,),
    "past_due_recovered": (E.PAST_DUE, E.RECOVERED, E.INVOICE_PAYMENT_FAILED, E.INVOICE_PAID),
    "unpaid": (E.PAST_DUE, E.UNPAID, E.INVOICE_PAYMENT_FAILED),
}
_CACHE_MAX = 1 << 16


def lifecycle(ds: Dataset, s: int) -> Lifecycle:
    cache = ds.billing_cache
    key = ("lifecycle", s)
    found = cache.get(key)
    if found is None:
        found = keep(cache, key, _lifecycle(ds, s), _CACHE_MAX)
    return found


def _lifecycle(ds: Dataset, s: int) -> Lifecycle:
    draw = _draw(ds, s)
    reactivates = _churned_before(ds, s) if draw.scenario == "reactivation" else None
    customer = (
        lifecycle(ds, reactivates).customer if reactivates is not None else _own_customer(ds, s)
    )
    currency = customer_currency(ds, customer)
    items, changed = _items(ds, s, draw, currency)
    kinds = {E.CREATED}
    if draw.trial:
        kinds.add(E.TRIAL_WILL_END)
        kinds.add(E.TRIAL_CANCELED if draw.scenario == "trial_canceled" else E.TRIAL_ENDED)
    kinds.update(_SCENARIO_KINDS.get(draw.scenario, ()))
    variant = VARIANTS.index((draw.interval, draw.trial))
    created = ds.created("subscriptions", s)
    end = None
    for kind in ENDING:
        if kind in kinds:
            end = offset_time(kind.offsets[0 if kind is E.TRIAL_CANCELED else variant], created)
    renewals = 0
    if draw.scenario != "trial_canceled":
        anchor = created + (TRIAL if draw.trial else 0)
        while renewals < RENEWALS and (
            end is None or period_start(draw.interval, anchor, renewals + 1) < end
        ):
            renewals += 1
    return Lifecycle(
        scenario=draw.scenario,
        customer=customer,
        currency=currency,
        interval=draw.interval,
        trial=draw.trial,
        variant=variant,
        items=items,
        changed_items=changed,
        coupon=_coupon(ds, s, draw, currency),
        kinds=frozenset(kinds),
        renewals=renewals,
        reactivates=reactivates,
    )


def _rule(kind: EventKind):
    single = len(kind.offsets) == 1

    def rule(ds: Dataset, s: int) -> int | None:
        lc = lifecycle(ds, s)
        if kind not in lc.kinds:
            return None
        return 0 if single else lc.variant

    return rule


def _renewal_rule(n: int):
    def rule(ds: Dataset, s: int) -> int | None:
        lc = lifecycle(ds, s)
        return lc.variant if n <= lc.renewals else None

    return rule


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class State:
    """A subscription after exactly some changes: what both rendering and MRR read."""

    status: str
    items: tuple[Item, ...]
    coupon: int | None
    period: tuple[int, int]
    renewals: int
    canceled_at: int | None
    ended_at: int | None
    cancel_at: int | None
    cancel_at_period_end: bool
    as_of: int  # the time of the latest change applied


def state(ds: Dataset, s: int, applied: frozenset[int]) -> State:
    lc = lifecycle(ds, s)
    created = ds.created("subscriptions", s)
    at = {kind: ds.change_time(kind, s) for kind in lc.kinds if kind in applied}
    renewals = sum(1 for kind in RENEWED[: lc.renewals] if kind in applied)
    anchor = created + (TRIAL if lc.trial else 0)
    if lc.trial and E.TRIAL_ENDED not in at:
        period = (created, anchor)
    else:
        period = (
            period_start(lc.interval, anchor, renewals),
            period_start(lc.interval, anchor, renewals + 1),
        )
    ending = next((kind for kind in ENDING if kind in at), None)
    if ending is not None:
        status = "canceled"
    elif E.UNPAID in at:
        status = "unpaid"
    elif E.PAST_DUE in at and E.RECOVERED not in at:
        status = "past_due"
    elif lc.trial and E.TRIAL_ENDED not in at:
        status = "trialing"
    else:
        status = "active"
    canceled_at = None
    if E.CANCEL_REQUESTED in at:
        # Stripe: canceled_at is when the cancellation was requested, also at period end.
        canceled_at = at[E.CANCEL_REQUESTED]
    if ending is not None and ending is not E.ENDED:
        canceled_at = at[ending]
    times = [created, *at.values()]
    if renewals:
        times.append(period[0])
    return State(
        status=status,
        items=lc.changed_items if E.CHANGED in at and lc.changed_items else lc.items,
        coupon=lc.coupon,
        period=period,
        renewals=renewals,
        canceled_at=canceled_at,
        ended_at=at[ending] if ending is not None else None,
        cancel_at=period[1] if E.CANCEL_REQUESTED in at else None,
        cancel_at_period_end=E.CANCEL_REQUESTED in at,
        as_of=max(times),  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------- rendering


def _render_item(ds: Dataset, s: int, item: Item, created: int, as_of: int) -> dict:
    sub_id = ds.object_id("subscriptions", s)
    price = render_price(ds, item.price, ds.applied("prices", item.price, as_of))
    out = {
        "id": ds.ids.encode("subscription_items", s * 16 + item.slot),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "discounts": [],
        "metadata": {},
        "plan": render_plan(ds, item.price),
        "price": price,
        "subscription": sub_id,
        "tax_rates": [],
    }
    if item.quantity is not None:
        out["quantity"] = item.quantity
    return out


def render_discount(ds: Dataset, s: int, coupon_index: int) -> dict:
    coupon = COUPONS[coupon_index]
    created = ds.created("subscriptions", s)
    end = None
    if coupon.duration == "repeating" and coupon.duration_in_months:
        end = add_months(created, coupon.duration_in_months)
    return {
        "id": ds.ids.encode("discounts", s),
        "object": "discount",
        "checkout_session": None,
        "coupon": render_coupon(ds, coupon_index),
        "customer": ds.object_id("customers", lifecycle(ds, s).customer),
        "end": end,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "start": created,
        "subscription": ds.object_id("subscriptions", s),
    }


def discount_object(ds: Dataset, discount_id: str) -> dict:
    """A subscription's discount, as `expand[]=discounts` renders it (Stripe serves no
    discount by id; its coupon never changes here), or a 404 for an unknown id."""
    found = ds.ids.decode(discount_id)
    if found is None or found[0] != "discounts" or lifecycle(ds, found[1]).coupon is None:
        raise MockError(404, f"No such discount: '{discount_id}'", code="resource_missing")
    s = found[1]
    coupon = lifecycle(ds, s).coupon
    assert coupon is not None
    return render_discount(ds, s, coupon)


# The changes that bill, in the order of their invoice slots (`subscription_invoices`).
INVOICE_BIRTHS = (E.CREATED, E.TRIAL_ENDED, E.CHANGED, *RENEWED)
INVOICES_PER_SUBSCRIPTION = 64


def _latest_invoice(ds: Dataset, s: int, applied: frozenset[int]) -> str | None:
    """The invoice of the latest billing change applied (the creation always bills)."""
    billed = [
        (ds.change_time(kind, s), slot)
        for slot, kind in enumerate(INVOICE_BIRTHS)
        if kind in applied
    ]
    if not billed:
        return None
    _, slot = max(billed)  # type: ignore[type-var]
    return ds.ids.encode("subscription_invoices", s * INVOICES_PER_SUBSCRIPTION + slot)


def _invoice_event_object(kind: EventKind):
    def render(ds: Dataset, s: int) -> dict:
        from mock_api.dataset.subscription_invoices import failing_invoice_object

        return failing_invoice_object(ds, s, kind)

    return render


def render_subscription(ds: Dataset, s: int, applied: frozenset[int]) -> dict:
    lc = lifecycle(ds, s)
    st = state(ds, s, applied)
    created = ds.created("subscriptions", s)
    sub_id = ds.object_id("subscriptions", s)
    trial_end = created + TRIAL if lc.trial else None
    discount = render_discount(ds, s, st.coupon) if st.coupon is not None else None
    reason = None
    if st.canceled_at is not None:
        reason = "cancellation_requested"
    return {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": created + (TRIAL if lc.trial else 0),
        "billing_cycle_anchor_config": None,
        "billing_thresholds": None,
        "cancel_at": st.cancel_at,
        "cancel_at_period_end": st.cancel_at_period_end,
        "canceled_at": st.canceled_at,
        "cancellation_details": {"comment": None, "feedback": None, "reason": reason},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": lc.currency,
        "current_period_end": st.period[1],
        "current_period_start": st.period[0],
        "customer": ds.object_id("customers", lc.customer),
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discount": discount,
        "discounts": [] if discount is None else [discount["id"]],
        "ended_at": st.ended_at,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [_render_item(ds, s, item, created, st.as_of) for item in st.items],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": _latest_invoice(ds, s, applied),
        "livemode": False,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": st.status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {
            "end_behavior": {
                "missing_payment_method": "cancel"
                if lc.scenario == "trial_canceled"
                else "create_invoice"
            }
        },
        "trial_start": created if lc.trial else None,
    }


def subscription_status(ds: Dataset, s: int, now: int) -> str:
    return state(ds, s, ds.applied("subscriptions", s, now)).status


LIST_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)


def status_filter(ds: Dataset, now: int, status: str | None):
    """`GET /v1/subscriptions?status=`: Stripe lists every subscription but canceled ones
    when no status is given, all of them for `all`, canceled and incomplete_expired ones
    for `ended` (https://docs.stripe.com/api/subscriptions/list)."""
    if status == "all":
        return None
    if status is not None and status not in LIST_STATUSES:
        raise MockError(
            400,
            f"Invalid status: must be one of {', '.join(LIST_STATUSES)}",
            code="parameter_invalid",
            param="status",
        )
    wanted = {None: None, "ended": {"canceled", "incomplete_expired"}}.get(status, {status})

    def keep(s: int) -> bool:
        current = subscription_status(ds, s, now)
        return current != "canceled" if wanted is None else current in wanted

    return keep


SUBSCRIPTIONS = ResourceSpec(
    name="subscriptions",
    object_name="subscription",
    kinds=SubscriptionEvent,  # type: ignore[arg-type]
    rules={
        **{kind: _rule(kind) for kind in SubscriptionEvent if kind not in RENEWED},  # type: ignore[attr-defined]
        **{kind: _renewal_rule(n) for n, kind in enumerate(RENEWED, start=1)},
    },
    render=render_subscription,
    per_day=lambda volume: max(1, volume // 20),
    start_delay=HOUR,
    expandable={"customer": "customers", "discounts": "discounts"},
    event_objects={
        E.INVOICE_PAYMENT_FAILED: _invoice_event_object(E.INVOICE_PAYMENT_FAILED),
        E.INVOICE_PAID: _invoice_event_object(E.INVOICE_PAID),
    },
)
