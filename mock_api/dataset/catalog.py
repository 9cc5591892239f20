"""The billing catalog: products, their prices in every customer currency, and coupons.

A fixed catalog (docs/mock_api.md#billing): created at the account's start, a second or so
apart, except one product with its prices and one coupon launched `LAUNCH_DAYS` later (a
catalog grows). Product p is `PLANS[p]`; price `p * len(CURRENCIES) + slot` is plan p in
currency `CURRENCIES[slot]`; coupon c is `COUPONS[c]`.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from enum import nonmember
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.config import DAY
from mock_api.dataset.reference import CURRENCIES, CURRENCY_EXPONENT
from mock_api.dataset.schedule import EventKind, always

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

LAUNCH_DAYS = 60  # the product and coupon launched mid-history
UPDATE_AFTER = 70 * DAY  # product.updated and price.updated, after creation


@dataclass(frozen=True)
class Plan:
    """One product and its price (in every currency)."""

    key: str
    name: str
    description: str
    interval: str | None  # None: a one-time price
    usage_type: str | None  # licensed | metered (recurring only)
    usd: int  # unit amount in US cents; converted per currency (see `unit_amount`)
    unit_label: str | None = None
    launch_days: int = 0


ADDONS = (
    ("sso", "Single sign-on", 900),
    ("audit", "Audit log", 700),
    ("storage", "Extra storage", 500),
    ("support", "Priority support", 1_300),
    ("sandbox", "Sandbox", 400),
    ("domain", "Custom domain", 300),
    ("analytics", "Analytics", 800),
    ("export", "Data export", 600),
    ("webhooks", "Webhooks plus", 500),
    ("sla", "Uptime SLA", 1_100),
    ("roles", "Advanced roles", 600),
)
PLANS: tuple[Plan, ...] = (
    Plan("starter", "Starter", "For small teams.", "month", "licensed", 1_500),
    Plan("pro", "Pro", "For growing teams.", "month", "licensed", 4_900),
    Plan("team", "Team", "Priced per seat.", "month", "licensed", 1_200, unit_label="seat"),
    Plan("business", "Business", "Billed yearly.", "year", "licensed", 99_000),
    Plan("pulse", "Pulse", "A weekly report.", "week", "licensed", 700),
    Plan("free", "Free", "The free tier.", "month", "licensed", 0),
    Plan("api_calls", "API calls", "Metered, per call.", "month", "metered", 2),
    Plan("onboarding", "Onboarding", "One-time setup.", None, None, 25_000),
    *(
        Plan(f"addon_{k}", name, f"{name} add-on.", "month", "licensed", usd)
        for k, name, usd in ADDONS
    ),
    Plan("insights", "Insights", "Launched later.", "month", "licensed", 2_900, launch_days=60),
)
PLAN_INDEX = {plan.key: n for n, plan in enumerate(PLANS)}
ADDON_PLANS = tuple(PLAN_INDEX[f"addon_{k}"] for k, _, _ in ADDONS)
CURRENCY_CODES = tuple(row[0] for row in CURRENCIES)
# Major units per US dollar: fixed list prices per currency, not a live rate.
PRICE_RATES = {
    "usd": Fraction(1),
    "eur": Fraction("0.92"),
    "gbp": Fraction("0.79"),
    "jpy": Fraction(150),
    "krw": Fraction(1350),
    "kwd": Fraction("0.31"),
}
# Stripe requires three-decimal amounts to end in 0; krw prices in tens look like real ones.
PRICE_STEP = {"krw": 10, "kwd": 10}


def round_half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)).__floor__())


def convert(usd_cents: int, currency: str) -> int:
    """A US-cent list price in `currency`'s minor unit, half up to its step (0 stays 0)."""
    exact = usd_cents * PRICE_RATES[currency] * Fraction(10) ** (CURRENCY_EXPONENT[currency] - 2)
    step = PRICE_STEP.get(currency, 1)
    amount = round_half_up(exact / step) * step
    return max(amount, step) if usd_cents > 0 else 0


def price_index(plan: int, currency: str) -> int:
    return plan * len(CURRENCY_CODES) + CURRENCY_CODES.index(currency)


def price_plan(price: int) -> tuple[Plan, str]:
    """(plan, currency) of a price index."""
    plan, slot = divmod(price, len(CURRENCY_CODES))
    return PLANS[plan], CURRENCY_CODES[slot]


@functools.cache  # a fixed catalog; invoice amounts ask for it per line
def unit_amount(price: int) -> int:
    plan, currency = price_plan(price)
    return convert(plan.usd, currency)


@dataclass(frozen=True)
class Coupon:
    key: str
    name: str
    duration: str  # forever | once | repeating
    percent_off: float | None = None
    amount_off_usd: int | None = None  # converted to `currency`
    currency: str | None = None
    duration_in_months: int | None = None
    launch_days: int = 0


COUPONS: tuple[Coupon, ...] = (
    Coupon("forever_percent", "20% off forever", "forever", percent_off=20.0),
    *(
        Coupon(f"forever_amount_{c}", f"{c.upper()} off forever", "forever", None, 500, c)
        for c in CURRENCY_CODES
    ),
    Coupon("once", "50% off the first invoice", "once", percent_off=50.0),
    Coupon("repeating", "25% off for 3 months", "repeating", 25.0, duration_in_months=3),
    Coupon("spring", "Spring: 10% off for 2 months", "repeating", 10.0, None, None, 2, 60),
)
COUPON_INDEX = {coupon.key: n for n, coupon in enumerate(COUPONS)}


def coupon_amount_off(coupon: Coupon) -> int | None:
    if coupon.amount_off_usd is None or coupon.currency is None:
        return None
    return convert(coupon.amount_off_usd, coupon.currency)


# ---------------------------------------------------------------------------- creation times


class CatalogTimeline:
    """Creation times of a fixed list: object i at start + offsets[i] (non-decreasing);
    there is no object past the list."""

    def __init__(self, start: int, offsets: tuple[int, ...]) -> None:
        self.times = tuple(start + offset for offset in offsets)

    def created(self, index: int) -> int:
        return self.times[index] if 0 <= index < len(self.times) else 2**62

    def last_at_or_before(self, t: int) -> int:
        return bisect.bisect_right(self.times, t) - 1

    def first_at_or_after(self, t: int) -> int:
        return bisect.bisect_left(self.times, t)


def _offsets(launches: list[int], base: int) -> tuple[int, ...]:
    return tuple(base + days * DAY + n for n, days in enumerate(launches))


PRODUCT_OFFSETS = _offsets([p.launch_days for p in PLANS], 0)
PRICE_OFFSETS = _offsets([p.launch_days for p in PLANS for _ in CURRENCY_CODES], 100)
COUPON_OFFSETS = _offsets([c.launch_days for c in COUPONS], 300)


# ---------------------------------------------------------------------------- products


class ProductEvent(EventKind):
    resource = nonmember("products")
    CREATED = 3, "product.created", (0,)
    UPDATED = 4, "product.updated", (UPDATE_AFTER,)  # the Pro plan's description


def _product_updated(ds: Dataset, p: int) -> int | None:
    return 0 if p == PLAN_INDEX["pro"] else None


def render_product(ds: Dataset, p: int, applied: frozenset[int]) -> dict:
    plan = PLANS[p]
    created = ds.created("products", p)
    updated = ProductEvent.UPDATED in applied
    return {
        "id": ds.object_id("products", p),
        "object": "product",
        "active": True,
        "created": created,
        "default_price": ds.object_id("prices", price_index(p, "usd")),
        "description": "For growing teams, now with SSO." if updated else plan.description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {"plan": plan.key},
        "name": plan.name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": plan.unit_label,
        "updated": ds.change_time(ProductEvent.UPDATED, p) if updated else created,
        "url": None,
    }


PRODUCTS = ResourceSpec(
    name="products",
    object_name="product",
    kinds=ProductEvent,
    rules={ProductEvent.CREATED: always, ProductEvent.UPDATED: _product_updated},
    render=render_product,
    timeline=partial(CatalogTimeline, offsets=PRODUCT_OFFSETS),
)


# ---------------------------------------------------------------------------- prices


class PriceEvent(EventKind):
    resource = nonmember("prices")
    CREATED = 5, "price.created", (0,)
    UPDATED = 6, "price.updated", (UPDATE_AFTER,)  # the Starter prices get a nickname


def _price_updated(ds: Dataset, i: int) -> int | None:
    return 0 if price_plan(i)[0].key == "starter" else None


def recurring(plan: Plan) -> dict | None:
    if plan.interval is None:
        return None
    return {
        # Metered prices of 2024-06-20 sum their usage records over the period.
        "aggregate_usage": "sum" if plan.usage_type == "metered" else None,
        "interval": plan.interval,
        "interval_count": 1,
        "meter": None,
        "trial_period_days": None,
        "usage_type": plan.usage_type,
    }


def render_price(ds: Dataset, i: int, applied: frozenset[int]) -> dict:
    plan, currency = price_plan(i)
    amount = unit_amount(i)
    return {
        "id": ds.object_id("prices", i),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": ds.created("prices", i),
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": f"{plan.key}_{currency}",
        "metadata": {},
        "nickname": f"{plan.name} (2026)" if PriceEvent.UPDATED in applied else None,
        "product": ds.object_id("products", i // len(CURRENCY_CODES)),
        "recurring": recurring(plan),
        "tax_behavior": "exclusive",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if plan.interval is None else "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def render_plan(ds: Dataset, i: int) -> dict:
    """The legacy `plan` object Stripe still renders next to a recurring price."""
    plan, currency = price_plan(i)
    amount = unit_amount(i)
    return {
        "id": ds.object_id("prices", i),
        "object": "plan",
        "active": True,
        "aggregate_usage": "sum" if plan.usage_type == "metered" else None,
        "amount": amount,
        "amount_decimal": str(amount),
        "billing_scheme": "per_unit",
        "created": ds.created("prices", i),
        "currency": currency,
        "interval": plan.interval,
        "interval_count": 1,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": None,
        "product": ds.object_id("products", i // len(CURRENCY_CODES)),
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": plan.usage_type,
    }


PRICES = ResourceSpec(
    name="prices",
    object_name="price",
    kinds=PriceEvent,
    rules={PriceEvent.CREATED: always, PriceEvent.UPDATED: _price_updated},
    render=render_price,
    timeline=partial(CatalogTimeline, offsets=PRICE_OFFSETS),
    expandable={"product": "products"},
)


# ---------------------------------------------------------------------------- coupons


class CouponEvent(EventKind):
    resource = nonmember("coupons")
    CREATED = 7, "coupon.created", (0,)


def render_coupon(ds: Dataset, c: int, applied: frozenset[int] = frozenset()) -> dict:
    coupon = COUPONS[c]
    return {
        "id": ds.object_id("coupons", c),
        "object": "coupon",
        "amount_off": coupon_amount_off(coupon),
        "created": ds.created("coupons", c),
        "currency": coupon.currency,
        "duration": coupon.duration,
        "duration_in_months": coupon.duration_in_months,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": coupon.name,
        "percent_off": coupon.percent_off,
        "redeem_by": None,
        # Not tracked: counting redemptions would read every subscription.
        "times_redeemed": 0,
        "valid": True,
    }


COUPON_SPEC = ResourceSpec(
    name="coupons",
    object_name="coupon",
    kinds=CouponEvent,
    rules={CouponEvent.CREATED: always},
    render=render_coupon,
    timeline=partial(CatalogTimeline, offsets=COUPON_OFFSETS),
)
