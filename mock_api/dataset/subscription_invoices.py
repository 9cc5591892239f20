"""Subscription invoices: one per subscription change that bills, listed with the others.

Invoice `s * PER_SUBSCRIPTION + slot` of subscription s is born of one of its changes:
slot 0 its creation (`subscription_create`), 1 a trial's end (`subscription_cycle`), 2 an
item change (`subscription_update`, the prorations, as `proration_behavior=always_invoice`
bills them), 2 + n its n-th renewal (`subscription_cycle`). It exists from that change's
time. `/v1/invoices` pages the account's other invoices and these as one list, newest first
(`INVOICES`, see `companions`). One paid with an amount due is paid by a charge
(`subscription_charges`). Lines, discounts, tax and status: docs/mock_api.md#subscription-invoices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from mock_api.dataset import companions, versions
from mock_api.dataset.catalog import (
    COUPONS,
    PRICE_STEP,
    coupon_amount_off,
    price_plan,
    render_plan,
    render_price,
    round_half_up,
    unit_amount,
)
from mock_api.dataset.companions import Companion
from mock_api.dataset.customers import customer_facts, customer_snapshot
from mock_api.dataset.errors import MockError
from mock_api.dataset.invoices import (
    TAX_RATE_BP,
    invoice_customer_fields,
    invoice_object,
    tax_rate_object,
    total_tax_amounts,
)
from mock_api.dataset.paging import Page, cursor_page
from mock_api.dataset.schedule import seq_of
from mock_api.dataset.subscriptions import (
    FAIL_RENEWAL,
    INVOICE_BIRTHS,
    INVOICES_PER_SUBSCRIPTION,
    TRIAL,
    E,
    Item,
    add_months,
    lifecycle,
    render_discount,
    state,
)
from mock_api.memo import keep

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

PER_SUBSCRIPTION = INVOICES_PER_SUBSCRIPTION
LINES_PER_INVOICE = 32  # line ids: invoice * LINES_PER_INVOICE + n
EMBEDDED_LINES = 10  # an invoice embeds at most its first 10 lines (Stripe's list default)
TAXED_SHARE = 0.30  # of subscriptions whose customer's country levies a tax
BIRTHS = INVOICE_BIRTHS
SLOT = {kind: n for n, kind in enumerate(BIRTHS)}
REASON = {0: "subscription_create", 1: "subscription_cycle", 2: "subscription_update"}


def birth(inv: int) -> tuple[int, int]:
    """(subscription index, slot) of invoice `inv`."""
    return divmod(inv, PER_SUBSCRIPTION)


def invoice_time(ds: Dataset, inv: int) -> int | None:
    """When invoice `inv` is created, or None if its subscription never bills that way."""
    s, slot = birth(inv)
    if s < 0 or slot >= len(BIRTHS):
        return None
    return ds.change_time(BIRTHS[slot], s)


def invoice_exists(ds: Dataset, inv: int, now: int) -> bool:
    at = invoice_time(ds, inv)
    return at is not None and at <= now


def failing_renewal(ds: Dataset, s: int) -> int | None:
    """The slot of the invoice whose payment fails (past_due and unpaid scenarios)."""
    lc = lifecycle(ds, s)
    if E.PAST_DUE not in lc.kinds:
        return None
    return 2 + FAIL_RENEWAL[lc.interval]


# ---------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class Line:
    item: Item
    amount: int
    quantity: int
    period: tuple[int, int]
    proration: bool
    description: str


def _step_round(value: Fraction, currency: str) -> int:
    step = PRICE_STEP.get(currency, 1)
    return round_half_up(value / step) * step


def _date(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d %b %Y")


def _full_lines(items: tuple[Item, ...], period: tuple[int, int], trial: bool) -> list[Line]:
    out = []
    for item in items:
        plan, _ = price_plan(item.price)
        quantity = item.quantity or 0
        if trial:
            out.append(Line(item, 0, quantity, period, False, f"Trial period for {plan.name}"))
        else:
            amount = unit_amount(item.price) * quantity
            text = f"{quantity} × {plan.name} (at {unit_amount(item.price)} / {plan.interval})"
            out.append(Line(item, amount, quantity, period, False, text))
    return out


def _proration_lines(ds: Dataset, s: int, at: int) -> list[Line]:
    """Stripe's prorations of a mid-period change: the unused time of each old item credited,
    the remaining time of each new one charged, by the share of the period's seconds left."""
    lc = lifecycle(ds, s)
    before = state(ds, s, ds.applied("subscriptions", s, at - 1))
    start, end = before.period
    share = Fraction(end - at, end - start)
    out = []
    for old, new in zip(lc.items, lc.changed_items or (), strict=True):
        if old == new:
            continue
        for item, sign, words in ((old, -1, "Unused time on"), (new, 1, "Remaining time on")):
            plan, currency = price_plan(item.price)
            quantity = item.quantity or 0
            amount = sign * _step_round(unit_amount(item.price) * quantity * share, currency)
            text = f"{words} {quantity} × {plan.name} after {_date(at)}"
            out.append(Line(item, amount, quantity, (at, end), True, text))
    return out


def invoice_lines(ds: Dataset, inv: int) -> list[Line]:
    s, slot = birth(inv)
    at = invoice_time(ds, inv)
    assert at is not None
    lc = lifecycle(ds, s)
    created = ds.created("subscriptions", s)
    if slot == 2:
        return _proration_lines(ds, s, at)
    st = state(ds, s, ds.applied("subscriptions", s, at))
    if slot == 0 and lc.trial:
        return _full_lines(st.items, (created, created + TRIAL), trial=True)
    return _full_lines(st.items, st.period, trial=False)


def _discount_applies(ds: Dataset, s: int, slot: int, at: int) -> bool:
    """Forever: every invoice; once: the first; repeating: those created before its end.
    Prorations are not discounted here (a simplification)."""
    coupon_index = lifecycle(ds, s).coupon
    if coupon_index is None or slot == 2:
        return False
    coupon = COUPONS[coupon_index]
    if coupon.duration == "once":
        return slot == 0
    if coupon.duration == "repeating":
        months = coupon.duration_in_months or 0
        return at < add_months(ds.created("subscriptions", s), months)
    return True


def _discounts(ds: Dataset, s: int, lines: list[Line]) -> list[int]:
    """Per line, the coupon's discount (percent per line, half up; an amount off spread over
    the charged lines in proportion, the rounding rest on the first)."""
    coupon = COUPONS[lifecycle(ds, s).coupon]  # type: ignore[index]
    if coupon.percent_off is not None:
        rate = Fraction(str(coupon.percent_off)) / 100
        return [round_half_up(line.amount * rate) if line.amount > 0 else 0 for line in lines]
    charged = sum(line.amount for line in lines if line.amount > 0)
    off = min(coupon_amount_off(coupon) or 0, charged)
    if charged == 0:
        return [0] * len(lines)
    shares = [off * line.amount // charged if line.amount > 0 else 0 for line in lines]
    first = next(n for n, line in enumerate(lines) if line.amount > 0)
    shares[first] += off - sum(shares)
    return shares


def _tax_country(ds: Dataset, s: int) -> str | None:
    country = customer_facts(ds, lifecycle(ds, s).customer)["country"]
    if country not in TAX_RATE_BP or ds.keys.u("sub_taxed", s) >= TAXED_SHARE:
        return None
    return country


# ---------------------------------------------------------------------------- rendering


def paid_time(ds: Dataset, inv: int) -> int | None:
    """When invoice `inv` is paid, or None if never: when created, except the renewal whose
    payment fails (paid at the recovery, if any) and, of an unpaid subscription, every later
    one (Stripe keeps creating them and attempts no payment)."""
    s, slot = birth(inv)
    at = invoice_time(ds, inv)
    if at is None:
        return None
    failing = failing_renewal(ds, s)
    if failing is None or slot < failing or slot <= 2:
        return at
    if slot == failing:
        return ds.change_time(E.RECOVERED, s)
    if E.UNPAID in lifecycle(ds, s).kinds:
        return None
    return at


def invoice_status(ds: Dataset, inv: int, now: int) -> tuple[str, int | None]:
    """(status, paid_at) as of `now`: paid from `paid_time`, open until then."""
    paid_at = paid_time(ds, inv)
    if paid_at is not None and paid_at <= now:
        return "paid", paid_at
    return "open", None


def render_line(ds: Dataset, s: int, inv: int, n: int, line: Line, extras: dict) -> dict:
    plan, currency = price_plan(line.item.price)
    out = {
        "id": ds.ids.encode("subscription_lines", inv * LINES_PER_INVOICE + n),
        "object": "line_item",
        "amount": line.amount,
        "amount_excluding_tax": line.amount,
        "currency": currency,
        "description": line.description,
        "discount_amounts": extras["discount_amounts"],
        "discountable": not line.proration,
        "discounts": [],
        "invoice": ds.object_id("subscription_invoices", inv),
        "livemode": False,
        "metadata": {},
        "period": {"end": line.period[1], "start": line.period[0]},
        "plan": render_plan(ds, line.item.price),
        "price": render_price(
            ds, line.item.price, ds.applied("prices", line.item.price, line.period[0])
        ),
        "proration": line.proration,
        "proration_details": {"credited_items": None},
        "quantity": line.quantity,
        "subscription": ds.object_id("subscriptions", s),
        "subscription_item": ds.ids.encode("subscription_items", s * 16 + line.item.slot),
        "tax_amounts": extras["tax_amounts"],
        "tax_rates": extras["tax_rates"],
        "type": "subscription",
        "unit_amount_excluding_tax": str(unit_amount(line.item.price)),
    }
    return out


def _priced_lines(ds: Dataset, inv: int) -> tuple[list[Line], list[int], list[int], dict]:
    """(lines, discount per line, tax per line, totals) of invoice `inv`, without rendering."""
    s, slot = birth(inv)
    at = invoice_time(ds, inv)
    assert at is not None
    lines = invoice_lines(ds, inv)
    discounted = _discount_applies(ds, s, slot, at)
    discounts = _discounts(ds, s, lines) if discounted else [0] * len(lines)
    country = _tax_country(ds, s)
    taxes = [
        round_half_up(Fraction((line.amount - off) * TAX_RATE_BP[country], 10_000))
        if country
        else 0
        for line, off in zip(lines, discounts, strict=True)
    ]
    subtotal = sum(line.amount for line in lines)
    totals = {
        "subtotal": subtotal,
        "discount": sum(discounts),
        "discounted": discounted,
        "tax": sum(taxes),
        "country": country,
        "taxable": subtotal - sum(discounts),
    }
    return lines, discounts, taxes, totals


AMOUNT_DUE_MEMO_MAX = 1 << 18


def amount_due(ds: Dataset, inv: int) -> int:
    """What invoice `inv` asks the customer to pay: its total, a credit counting as 0 (it goes
    to the customer's balance). Cached with the ledger's sums (one per config, shared by
    datasets): the payment streams ask for every candidate invoice."""
    cache = ds.ledger_cache.setdefault("amount_due", {})
    key = inv
    found = cache.get(key)
    if found is None:
        totals = _priced_lines(ds, inv)[3]
        due = max(totals["subtotal"] - totals["discount"] + totals["tax"], 0)
        found = keep(cache, key, due, AMOUNT_DUE_MEMO_MAX)
    return found


def _rendered_lines(ds: Dataset, inv: int) -> tuple[list[dict], dict]:
    """(line objects, invoice totals) of invoice `inv`."""
    s, _ = birth(inv)
    lines, discounts, taxes, totals = _priced_lines(ds, inv)
    discounted = totals["discounted"]
    discount_id = ds.ids.encode("discounts", s)
    country = totals["country"]
    rate = tax_rate_object(ds, country) if country is not None else None
    rendered = []
    for n, (line, off, tax) in enumerate(zip(lines, discounts, taxes, strict=True)):
        taxable = line.amount - off
        extras = {
            "discount_amounts": [{"amount": off, "discount": discount_id}] if discounted else [],
            "tax_amounts": []
            if rate is None
            else [
                {
                    "amount": tax,
                    "inclusive": False,
                    "tax_rate": rate["id"],
                    "taxability_reason": None,
                    "taxable_amount": taxable,
                }
            ],
            "tax_rates": [] if rate is None else [rate],
        }
        rendered.append(render_line(ds, s, inv, n, line, extras))
    return rendered, totals | {"rate": rate}


def render_subscription_invoice(ds: Dataset, inv: int, now: int) -> dict:
    """Invoice `inv` as of `now` (it exists then), in API version 2024-06-20."""
    s, slot = birth(inv)
    at = invoice_time(ds, inv)
    assert at is not None
    lc = lifecycle(ds, s)
    invoice_id = ds.object_id("subscription_invoices", inv)
    facts, current = customer_snapshot(ds, lc.customer, ds.applied("customers", lc.customer, at))
    lines, totals = _rendered_lines(ds, inv)
    total = totals["subtotal"] - totals["discount"] + totals["tax"]
    due = max(total, 0)  # a credit goes to the customer's balance (not carried over here)
    status, paid_at = invoice_status(ds, inv, now)
    paid = status == "paid"
    # Paid with an amount due: by the charge and payment intent of the invoice's index.
    charged = paid and due > 0
    token = ds.keys.rng("sub_invoice", inv).token(20)
    discount = render_discount(ds, s, lc.coupon) if totals["discounted"] else None
    rate = totals["rate"]
    if slot == 0 or slot == 2:
        period = (at, at)
    else:
        before = state(ds, s, ds.applied("subscriptions", s, at - 1))
        period = before.period if slot > 2 else (ds.created("subscriptions", s), at)
    return invoice_object(
        invoice_id,
        {
            "amount_due": due,
            "amount_paid": due if paid else 0,
            "amount_remaining": 0 if paid else due,
            "attempt_count": 1 if paid or slot == failing_renewal(ds, s) else 0,
            "attempted": paid or slot == failing_renewal(ds, s),
            "auto_advance": not paid,
            "billing_reason": REASON.get(slot, "subscription_cycle"),
            "charge": ds.ids.encode("subscription_charges", inv) if charged else None,
            "collection_method": "charge_automatically",
            "created": at,
            "currency": lc.currency,
            "customer": ds.object_id("customers", lc.customer),
            **invoice_customer_fields(facts, current),
            "default_tax_rates": [] if rate is None else [rate],
            "description": None,
            "discount": discount,
            "discounts": [] if discount is None else [discount["id"]],
            "due_date": None,
            "effective_at": at,
            "ending_balance": min(total, 0),
            "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_mock/test_{token}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/acct_mock/test_{token}/pdf",
            "lines": {
                "object": "list",
                "data": lines[:EMBEDDED_LINES],
                "has_more": len(lines) > EMBEDDED_LINES,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "number": f"{facts['prefix']}-{s % 100_000:05d}{slot:02d}",
            "paid": paid,
            "paid_out_of_band": False,
            "payment_intent": ds.ids.encode("subscription_payment_intents", inv)
            if charged
            else None,
            "period_end": period[1],
            "period_start": period[0],
            "status": status,
            "status_transitions": {
                "finalized_at": at,
                "marked_uncollectible_at": None,
                "paid_at": paid_at,
                "voided_at": None,
            },
            "subscription": ds.object_id("subscriptions", s),
            "subscription_details": {"metadata": {}},
            "subtotal": totals["subtotal"],
            "subtotal_excluding_tax": totals["subtotal"],
            "tax": totals["tax"] if rate else None,
            "total": total,
            "total_discount_amounts": []
            if discount is None
            else [{"amount": totals["discount"], "discount": discount["id"]}],
            "total_excluding_tax": totals["subtotal"] - totals["discount"],
            "total_tax_amounts": total_tax_amounts(totals["tax"], rate, totals["taxable"]),
            "webhooks_delivered_at": at,
        },
    )


def failing_invoice_object(ds: Dataset, s: int, kind) -> dict:
    """The failing renewal's invoice as of the change `kind` (its payment failure or its
    recovery): the object of that invoice.* event."""
    slot = failing_renewal(ds, s)
    assert slot is not None
    at = ds.change_time(kind, s)
    assert at is not None
    # An event renders in the account's default version at its creation, as every event.
    return render_any(ds, "subscription_invoices", s * PER_SUBSCRIPTION + slot, at)


# ---------------------------------------------------------------------------- the invoice list


def _key_of(ds: Dataset, inv: int) -> tuple[int, int] | None:
    """(created, seq of the birth event) of invoice `inv`: its key among the invoices."""
    at = invoice_time(ds, inv)
    if at is None:
        return None
    s, slot = birth(inv)
    return at, seq_of(int(BIRTHS[slot]), s)


def _render_subscription(ds: Dataset, inv: int, now: int, version: str | None) -> dict:
    obj = render_subscription_invoice(ds, inv, now)
    return versions.render_in("invoices", obj, version or ds.config.version_at(now))


INVOICES = Companion(
    resource="invoices",
    own="subscription_invoices",
    kinds=BIRTHS,
    index_of=lambda ds, ref: ref.index * PER_SUBSCRIPTION + SLOT[ref.kind],
    birth=_key_of,
    customer=lambda ds, s: lifecycle(ds, s).customer,
    render=_render_subscription,
)


def resolve_invoice(ds: Dataset, invoice_id: str, now: int) -> tuple[str, int] | None:
    """(resource, index) of an invoice id of either kind that exists at `now`."""
    return companions.resolve(ds, INVOICES, invoice_id, now)


def render_any(
    ds: Dataset, resource: str, index: int, now: int, version: str | None = None
) -> dict:
    return companions.render(ds, INVOICES, resource, index, now, version)


def lines_page(
    ds: Dataset,
    invoice_id: str,
    now: int,
    *,
    limit: int = 10,
    starting_after: str | None = None,
    ending_before: str | None = None,
    version: str | None = None,
) -> Page:
    """`GET /v1/invoices/{id}/lines`: the invoice's lines in their order, cursor-paged, in
    API `version` (default: the account's at `now`)."""
    found = resolve_invoice(ds, invoice_id, now)
    if found is None:
        raise MockError(
            404, f"No such invoice: '{invoice_id}'", code="resource_missing", param="id"
        )
    resource, index = found
    if resource == "invoices":
        lines = ds.state("invoices", index, now, versions.PINNED)["lines"]["data"]
    else:
        lines = _rendered_lines(ds, index)[0]
    shape = version or ds.config.version_at(now)
    lines = [versions.render_in("invoice_line_items", line, shape) for line in lines]
    position = {line["id"]: n for n, line in enumerate(lines)}

    def locate(cursor: str, param: str) -> int:
        if cursor not in position:
            raise MockError(
                400, f"No such line item: '{cursor}'", code="resource_missing", param=param
            )
        return position[cursor]

    def walk(bound: int | None, backwards: bool) -> Iterator[int]:
        # A list in the invoice's order: "after" a cursor is further down the invoice.
        if backwards:
            return iter(range((len(lines) if bound is None else bound) - 1, -1, -1))
        return iter(range(0 if bound is None else bound + 1, len(lines)))

    return cursor_page(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        locate=locate,
        walk=walk,
        render=lambda n: lines[n],
    )
