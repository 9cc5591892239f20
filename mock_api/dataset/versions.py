"""API versions: which the mock can render, and each resource's newer shape as one transform.

Resources render in 2024-06-20 (their modules); `render_in` turns that object into the shape
of a newer version. Only what the sources say changed for the four resources is changed
(docs/mock_api.md#api-versions):

- 2025-03-31.basil, https://docs.stripe.com/changelog/basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices:
  Invoice loses `charge`, `payment_intent`, `paid`, `paid_out_of_band`,
  `application_fee_amount`, `transfer_data`; Charge and PaymentIntent lose `invoice`.
- https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects:
  Invoice loses `quote`, `subscription`, `subscription_details`, `subscription_proration_date`
  and gains `parent` (null unless a subscription or quote generated it).
- https://docs.stripe.com/changelog/basil/2025-03-31/invoice-tax-configurations: Invoice
  loses `total_tax_amounts` and gains `total_taxes`. Stripe's published invoice fixture of
  the newer shape (stripe/openapi fixtures3.json, 2026-08) also has no `tax` and `discount`
  and has `amount_overpaid` and `total_pretax_credit_amounts`.
- Invoice line items (the invoice's embedded `lines` and `/v1/invoices/{id}/lines`), by the
  same parent and tax pages and
  https://docs.stripe.com/changelog/basil/2025-03-31/invoice-pricing-configurations: a line
  loses `type`, `subscription`, `subscription_item`, `invoice_item`, `proration`,
  `proration_details` (now under `parent`), `price` and `plan` (now `pricing.price_details`),
  `tax_amounts` and `tax_rates` (now `taxes`). Stripe's published line item fixture of the
  newer shape also has no `amount_excluding_tax` and `unit_amount_excluding_tax`.
- https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end:
  Subscription loses `current_period_start` and `current_period_end`; each item carries them.
  Stripe's published subscription of the newer shape also has no `discount`: only
  `discounts`, a list of discount ids (expandable), remains.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PINNED = "2024-06-20"
BASIL = "2025-03-31.basil"
# The shapes modelled, oldest first; any later version renders as the newest at or before it.
RENDERABLE = (PINNED, BASIL)

_INVOICE_REMOVED = frozenset(
    {
        "application_fee_amount",
        "charge",
        "discount",
        "paid",
        "paid_out_of_band",
        "payment_intent",
        "quote",
        "subscription",
        "subscription_details",
        "subscription_proration_date",
        "tax",
        "total_tax_amounts",
        "transfer_data",
    }
)


def _ordered(obj: dict) -> dict:
    """`id` and `object` first, then the rest alphabetically, as the renderers write them."""
    head = {k: obj[k] for k in ("id", "object") if k in obj}
    return head | {k: obj[k] for k in sorted(obj) if k not in head}


def _tax(amount: dict) -> dict:
    """A 2024 `total_tax_amounts` (or a line's `tax_amounts`) item as a `total_taxes` (or
    `taxes`) item."""
    return {
        "amount": amount.get("amount"),
        "tax_behavior": "inclusive" if amount.get("inclusive") else "exclusive",
        "tax_rate_details": {"tax_rate": amount.get("tax_rate")},
        "taxability_reason": amount.get("taxability_reason"),
        "taxable_amount": amount.get("taxable_amount"),
        "type": "tax_rate_details",
    }


_LINE_REMOVED = frozenset(
    {
        "amount_excluding_tax",
        "invoice_item",
        "plan",
        "price",
        "proration",
        "proration_details",
        "subscription",
        "subscription_item",
        "tax_amounts",
        "tax_rates",
        "type",
        "unit_amount_excluding_tax",
    }
)


def _line_parent(line: dict) -> dict | None:
    """What generated the line: a subscription item or an invoice item (basil's `parent`)."""
    common = {
        "invoice_item": line.get("invoice_item"),
        "proration": bool(line.get("proration")),
        "proration_details": line.get("proration_details"),
        "subscription": line.get("subscription"),
    }
    if line.get("type") == "subscription":
        details = common | {"subscription_item": line.get("subscription_item")}
        return {
            "invoice_item_details": None,
            "subscription_item_details": details,
            "type": "subscription_item_details",
        }
    if line.get("type") == "invoiceitem":
        return {
            "invoice_item_details": common,
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return None


def _line_basil(line: dict) -> dict:
    out = {k: v for k, v in line.items() if k not in _LINE_REMOVED}
    price = line.get("price")
    out["parent"] = _line_parent(line)
    out["pricing"] = (
        {
            "price_details": {"price": price["id"], "product": price.get("product")},
            "type": "price_details",
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        }
        if isinstance(price, dict)
        else None
    )
    out["taxes"] = [_tax(t) for t in line.get("tax_amounts") or []]
    return _ordered(out)


def _invoice_basil(obj: dict) -> dict:
    out = {k: v for k, v in obj.items() if k not in _INVOICE_REMOVED}
    if isinstance(obj.get("lines"), dict):
        out["lines"] = obj["lines"] | {"data": [_line_basil(x) for x in obj["lines"]["data"]]}
    subscription = obj.get("subscription")
    out["parent"] = (
        {
            "quote_details": None,
            "subscription_details": {
                "metadata": (obj.get("subscription_details") or {}).get("metadata"),
                "subscription": subscription,
            },
            "type": "subscription_details",
        }
        if subscription
        else None
    )
    out["total_taxes"] = [_tax(t) for t in obj.get("total_tax_amounts") or []]
    out["amount_overpaid"] = 0
    out["total_pretax_credit_amounts"] = []
    return _ordered(out)


def _subscription_basil(obj: dict) -> dict:
    period = {k: obj.get(k) for k in ("current_period_end", "current_period_start")}
    out = {k: v for k, v in obj.items() if k not in period and k != "discount"}
    if isinstance(obj.get("items"), dict):
        items = [_ordered(item | period) for item in obj["items"]["data"]]
        out["items"] = obj["items"] | {"data": items}
    return _ordered(out)


def _without_invoice(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k != "invoice"}


# resource -> its 2024-06-20 object in the basil shape (a resource not named is unchanged).
_BASIL: dict[str, Callable[[dict], dict]] = {
    "invoices": _invoice_basil,
    "invoice_line_items": _line_basil,
    "subscriptions": _subscription_basil,
    "charges": _without_invoice,
    "payment_intents": _without_invoice,
}


def shape_of(version: str) -> str | None:
    """The modelled version whose shape `version` has: the newest at or before its date
    (later monthly and major versions changed none of the fields modelled here, as Stripe's
    published fixtures of 2026-08 show); None before 2024-06-20."""
    date = version[:10]
    shapes = [v for v in RENDERABLE if v[:10] <= date]
    return shapes[-1] if shapes else None


def render_in(resource: str, obj: dict, version: str) -> dict:
    """`obj` (rendered in 2024-06-20) as `version` renders it; tombstone stubs stay as they are."""
    if shape_of(version) == PINNED or obj.get("deleted") and len(obj) <= 3:
        return obj
    transform = _BASIL.get(resource)
    return transform(obj) if transform is not None else obj


def check(version: str, where: str) -> str:
    """`version` if the mock can render it (a dated version from 2024-06-20 on)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version) or shape_of(version) is None:
        raise ValueError(
            f"{where}: {version!r} is not an API version the mock renders "
            f"(YYYY-MM-DD[.release], {PINNED} or later)"
        )
    return version
