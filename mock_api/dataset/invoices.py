"""Invoices: draft, then open, then one final outcome (paid, void, uncollectible) or none."""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec, stripe_list
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.customers import owning_customer
from mock_api.dataset.reference import CURRENCY_EXPONENT, PRODUCTS, USD_SCALE
from mock_api.dataset.schedule import SUNDAY, EventKind, Rule, always, minor_volume
from mock_api.ids import Rng

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class InvoiceEvent(EventKind):
    resource = nonmember("invoices")
    CREATED = 30, "invoice.created", (0,)  # draft
    UPDATED = 31, "invoice.updated", (30 * 60,)  # description
    FINALIZED = 32, "invoice.finalized", (HOUR,)  # open
    PAID = 33, "invoice.paid", (HOUR + 600, 2 * DAY, 7 * DAY)
    VOIDED = 34, "invoice.voided", (5 * DAY,)
    MARKED_UNCOLLECTIBLE = 35, "invoice.marked_uncollectible", (30 * DAY,)


def _update_variant(ds: Dataset, k: int) -> int | None:
    return 0 if ds.keys.u("inv_update", k) < 0.40 else None


def _final_outcome(ds: Dataset, k: int) -> tuple[InvoiceEvent | None, int]:
    """(the final kind, or None for 'stays open'; its variant)."""
    roll = ds.keys.u("inv_outcome", k)
    if roll < 0.75:
        return InvoiceEvent.PAID, ds.keys.h("inv_paid_v", k) % 3
    if roll < 0.85:
        return InvoiceEvent.VOIDED, 0
    if roll < 0.93:
        return InvoiceEvent.MARKED_UNCOLLECTIBLE, 0
    return None, 0


def _if_outcome(kind: InvoiceEvent) -> Rule:
    """The rule of one final kind: the invoice ends that way, or never undergoes it."""

    def rule(ds: Dataset, k: int) -> int | None:
        outcome, variant = _final_outcome(ds, k)
        return variant if outcome == kind else None

    return rule


def _lines(ds: Dataset, k: int, rng: Rng, currency: str, created: int) -> tuple[list[dict], int]:
    """(line items, their total) in the currency's minor unit."""
    exponent = CURRENCY_EXPONENT[currency]
    invoice_id = ds.object_id("invoices", k)
    lines = []
    total = 0
    for n in range(rng.randint(1, 3)):
        description, unit = rng.choice(PRODUCTS)
        quantity = rng.randint(1, 5)
        unit_amount = int(unit * USD_SCALE[currency] * 10 ** (exponent - 2) * 100) // 100
        if exponent == 3:
            unit_amount = unit_amount // 10 * 10
        amount = unit_amount * quantity
        total += amount
        lines.append(
            {
                "id": ds.ids.encode("line_items", k * 4 + n),
                "object": "line_item",
                "amount": amount,
                "amount_excluding_tax": amount,
                "currency": currency,
                "description": f"{quantity} × {description}",
                "discount_amounts": [],
                "discountable": True,
                "discounts": [],
                "invoice": invoice_id,
                "livemode": False,
                "metadata": {},
                "period": {"end": created, "start": created},
                "plan": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "quantity": quantity,
                "subscription": None,
                "tax_amounts": [],
                "tax_rates": [],
                "type": "invoiceitem",
                "unit_amount_excluding_tax": str(unit_amount),
            }
        )
    return lines, total


# Sales tax or VAT by the customer's country, in basis points (Kuwait levies none).
TAX_RATE_BP = {"US": 825, "DE": 1900, "FR": 2000, "NL": 2100, "IE": 2300, "ES": 2100, "GB": 2000}
TAX_RATE_BP.update({"JP": 1000, "KR": 1000})
TAXED_SHARE = 0.30
# Invoices Stripe creates for pending invoice items without a subscription, next to manual ones.
OTHER_BILLING_REASON = ("automatic_pending_invoice_item_invoice", 0.25)


def _tax(
    ds: Dataset, k: int, subtotal: int, currency: str, country: str
) -> tuple[int, dict | None]:
    """(tax amount, its tax_rate object) on the invoice's subtotal, exclusive of it.

    Rounded half up to the minor unit, then down to a multiple of 10 for three-decimal
    currencies (Stripe only charges those in tens)."""
    rate_bp = TAX_RATE_BP.get(country)
    if rate_bp is None or ds.keys.u("inv_taxed", k) >= TAXED_SHARE:
        return 0, None
    tax = (subtotal * rate_bp + 5_000) // 10_000
    if CURRENCY_EXPONENT[currency] == 3:
        tax = tax // 10 * 10
    return tax, tax_rate_object(ds, country)


def tax_rate_object(ds: Dataset, country: str) -> dict:
    """The account's tax rate of a country (TAX_RATE_BP), as invoices embed it."""
    rate_bp = TAX_RATE_BP[country]
    return {
        "id": ds.ids.encode("tax_rates", list(TAX_RATE_BP).index(country)),
        "object": "tax_rate",
        "active": True,
        "country": country,
        "created": ds.config.start_ts,
        "description": None,
        "display_name": "Sales tax" if country == "US" else "VAT",
        "effective_percentage": rate_bp / 100,
        "inclusive": False,
        "jurisdiction": country,
        "livemode": False,
        "metadata": {},
        "percentage": rate_bp / 100,
        "state": None,
        "tax_type": "sales_tax" if country == "US" else "vat",
    }


def invoice_object(invoice_id: str, varying: dict) -> dict:
    """An invoice in API version 2024-06-20: the fields that hold one value on every invoice
    the mock renders (manual or a subscription's), then `varying`, in the renderers' order
    (`id`, `object`, then alphabetical)."""
    fields = {
        "account_country": "US",
        "account_name": "Mock Shop Inc.",
        "account_tax_ids": None,
        "amount_shipping": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "charge": None,
        "custom_fields": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "footer": None,
        "from_invoice": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "on_behalf_of": None,
        "payment_intent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "quote": None,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "test_clock": None,
        "transfer_data": None,
    } | varying
    return {"id": invoice_id, "object": "invoice"} | {k: fields[k] for k in sorted(fields)}


def invoice_customer_fields(facts: dict, current: dict) -> dict:
    """The customer's details an invoice copies when it is created."""
    return {
        "customer_address": current["address"],
        "customer_email": current["email"],
        "customer_name": facts["name"],
        "customer_phone": facts["phone"],
    }


def total_tax_amounts(amount: int, rate: dict | None, taxable: int) -> list[dict]:
    """`total_tax_amounts`: one exclusive tax at `rate`, or none."""
    if rate is None:
        return []
    return [
        {
            "amount": amount,
            "inclusive": False,
            "tax_rate": rate["id"],
            "taxability_reason": None,
            "taxable_amount": taxable,
        }
    ]


def render_invoice(ds: Dataset, k: int, applied: frozenset[int]) -> dict:
    created = ds.created("invoices", k)
    invoice_id = ds.object_id("invoices", k)
    customer, cust_facts, cust_now = owning_customer(ds, "invoices", k)
    currency = cust_facts["currency"]
    rng = ds.keys.rng("invoice", k)
    lines, subtotal = _lines(ds, k, rng, currency, created)
    tax, tax_rate = _tax(ds, k, subtotal, currency, cust_facts["country"])
    total = subtotal + tax
    reason, share = OTHER_BILLING_REASON
    billing_reason = reason if ds.keys.u("inv_reason", k) < share else "manual"
    send_invoice = rng.uniform() < 0.3
    transitions: dict[str, int | None] = {
        "finalized_at": None,
        "marked_uncollectible_at": None,
        "paid_at": None,
        "voided_at": None,
    }
    status = "draft"
    number = hosted = pdf = None
    if InvoiceEvent.FINALIZED in applied:
        status = "open"
        transitions["finalized_at"] = ds.change_time(InvoiceEvent.FINALIZED, k)
        number = f"{cust_facts['prefix']}-{k % 10_000 + 1:04d}"
        token = rng.token(20)
        hosted = f"https://invoice.stripe.com/i/acct_mock/test_{token}"
        pdf = f"https://pay.stripe.com/invoice/acct_mock/test_{token}/pdf"
    amount_paid = 0
    # At most one of the final kinds applies (see _final_outcome).
    if InvoiceEvent.PAID in applied:
        status = "paid"
        transitions["paid_at"] = ds.change_time(InvoiceEvent.PAID, k)
        amount_paid = total
    if InvoiceEvent.VOIDED in applied:
        status = "void"
        transitions["voided_at"] = ds.change_time(InvoiceEvent.VOIDED, k)
    if InvoiceEvent.MARKED_UNCOLLECTIBLE in applied:
        status = "uncollectible"
        transitions["marked_uncollectible_at"] = ds.change_time(
            InvoiceEvent.MARKED_UNCOLLECTIBLE, k
        )
    attempted = status in ("paid", "uncollectible") or (status == "open" and not send_invoice)
    return invoice_object(
        invoice_id,
        {
            "amount_due": total,
            "amount_paid": amount_paid,
            "amount_remaining": 0 if status in ("paid", "void") else total - amount_paid,
            "attempt_count": 1 if attempted else 0,
            "attempted": attempted,
            "auto_advance": status in ("draft", "open"),
            "billing_reason": billing_reason,
            "collection_method": "send_invoice" if send_invoice else "charge_automatically",
            "created": created,
            "currency": currency,
            "customer": ds.object_id("customers", customer),
            **invoice_customer_fields(cust_facts, cust_now),
            "default_tax_rates": [] if tax_rate is None else [tax_rate],
            "description": (
                "Thanks for your business!" if InvoiceEvent.UPDATED in applied else None
            ),
            "discount": None,
            "discounts": [],
            "due_date": created + 30 * DAY if send_invoice else None,
            "effective_at": transitions["finalized_at"],
            "ending_balance": 0 if InvoiceEvent.FINALIZED in applied else None,
            "hosted_invoice_url": hosted,
            "invoice_pdf": pdf,
            "lines": stripe_list(lines, f"/v1/invoices/{invoice_id}/lines"),
            "number": number,
            "paid": status == "paid",
            "paid_out_of_band": status == "paid",
            "period_end": created,
            "period_start": created,
            "status": status,
            "status_transitions": transitions,
            "subscription": None,
            "subscription_details": {"metadata": None},
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "tax": tax if tax_rate else None,
            "total": total,
            "total_discount_amounts": [],
            "total_excluding_tax": subtotal,
            "total_tax_amounts": total_tax_amounts(tax, tax_rate, subtotal),
            "webhooks_delivered_at": created,
        },
    )


INVOICES = ResourceSpec(
    name="invoices",
    object_name="invoice",
    kinds=InvoiceEvent,
    rules={
        InvoiceEvent.CREATED: always,
        InvoiceEvent.UPDATED: _update_variant,
        InvoiceEvent.FINALIZED: always,
        InvoiceEvent.PAID: _if_outcome(InvoiceEvent.PAID),
        InvoiceEvent.VOIDED: _if_outcome(InvoiceEvent.VOIDED),
        InvoiceEvent.MARKED_UNCOLLECTIBLE: _if_outcome(InvoiceEvent.MARKED_UNCOLLECTIBLE),
    },
    render=render_invoice,
    per_day=minor_volume,
    closed_weekday=SUNDAY,
    expandable={
        "customer": "customers",
        "charge": "charges",
        "payment_intent": "payment_intents",
        "subscription": "subscriptions",
    },
)
