"""Figures Gold must equal, computed straight from the mock's own objects (no SQL, no dbt).

What a first `run-all --days D` at `now` lands in Bronze: every object the list endpoints
show at `now` created in the window, plus every object an event of the window carries.
Each one's latest state is its state at `now` (every change has an event).
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from extractor.streams import event_type_filters
from mock_api.dataset import CURRENCY_EXPONENT, DAY, EVENT_TYPES, Dataset
from mock_api.dataset.charges import ChargeEvent, payment_facts
from mock_api.dataset.customers import customer_facts
from mock_api.dataset.payment_flows import PaymentFlow
from tests.dbt.expected_ledger import Ledger, ledger_after_first_run

ROUTED = {"customer": "customers", "charge": "charges", "invoice": "invoices"}
ROUTED["payment_intent"] = "payment_intents"
LEDGER_ROUTED = {"refund": "refunds", "dispute": "disputes", "payout": "payouts"}


@dataclass
class Payment:
    """What a charge is worth at `now`, from the mock's own facts and schedule (not from the
    charge's Stripe fields, which Gold reads)."""

    currency: str
    status: str
    captured: int  # money taken
    refunded: int  # of it, given back to the customer
    billing_country: str  # where the payer is: billing address, else the card's country


@dataclass
class Expected:
    ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    revenue: dict[str, dict[str, int]] = field(default_factory=dict)
    invoices: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    deleted_customers: set[str] = field(default_factory=set)
    event_count: int = 0
    payments: dict[str, Payment] = field(default_factory=dict)
    customers_without_email: set[str] = field(default_factory=set)
    invoice_tax: dict[str, int] = field(default_factory=dict)
    billing_reasons: dict[str, int] = field(default_factory=dict)
    ledger: Ledger | None = None


def feed_types() -> tuple[str, ...]:
    """The mock's event types the change feed reads: it is read with the entity streams' type
    filters, so only those land (the mock also serves the ledger's)."""
    filters = event_type_filters()
    return tuple(t for t in EVENT_TYPES if any(fnmatch.fnmatchcase(t, p) for p in filters))


def expected_after_first_run(dataset: Dataset, now: int, days: int) -> Expected:
    start = now - days * DAY
    out = Expected()
    # A run reads created < its start (the clock): an event at the clock itself (a payout
    # paid at midnight) is the next run's.
    for resource in (*ROUTED.values(), *LEDGER_ROUTED.values()):
        for obj in dataset.objects(resource, now):
            if start <= obj["created"] < now:
                out.ids[resource].add(obj["id"])
    for event in dataset.events(now, feed_types()):
        if not start <= event["created"] < now:
            continue
        out.event_count += 1
        obj = event["data"]["object"]
        resource = ROUTED.get(obj["object"]) or LEDGER_ROUTED.get(obj["object"])
        if resource:
            out.ids[resource].add(obj["id"])
        if event["type"] == "customer.deleted":
            out.deleted_customers.add(obj["id"])

    revenue: dict[str, dict[str, int]] = defaultdict(
        lambda: {"gross": 0, "refunded": 0, "succeeded": 0, "failed": 0, "pending": 0, "refunds": 0}
    )
    for charge_id in out.ids["charges"]:
        payment = payment_at(dataset, charge_id, now)
        out.payments[charge_id] = payment
        totals = revenue[payment.currency]
        totals["gross"] += payment.captured
        totals["refunded"] += payment.refunded
        totals[payment.status] += 1
        totals["refunds"] += int(payment.captured > 0 and payment.refunded == payment.captured)
    out.revenue = dict(revenue)
    for customer_id in out.ids["customers"]:
        if customer_facts(dataset, dataset.ids.decode(customer_id)[1])["email"] is None:
            out.customers_without_email.add(customer_id)

    invoices: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for invoice_id in out.ids["invoices"]:
        invoice = dataset.retrieve(invoice_id, now, "invoices")
        row = invoices[(invoice["currency"], invoice["status"])]
        row[0] += 1
        row[1] += invoice["amount_due"]
        row[2] += invoice["amount_paid"]
        row[3] += invoice["amount_remaining"]
        tax = sum(t["amount"] for t in invoice["total_tax_amounts"])
        out.invoice_tax[invoice["currency"]] = out.invoice_tax.get(invoice["currency"], 0) + tax
        reason = invoice["billing_reason"]
        out.billing_reasons[reason] = out.billing_reasons.get(reason, 0) + 1
    out.invoices = dict(invoices)
    out.ledger = ledger_after_first_run(
        dataset,
        now,
        start,
        out.ids,
        lambda charge_id: (
            out.payments[charge_id].currency,
            out.payments[charge_id].captured,
            out.payments[charge_id].refunded,
        ),
    )
    return out


def payment_at(dataset: Dataset, charge_id: str, now: int) -> Payment:
    """Charge `charge_id` at `now` from its flow and the changes it has undergone."""
    resource, index = dataset.ids.decode(charge_id)
    if resource == "subscription_charges":
        return subscription_payment_at(dataset, index, now)
    facts = payment_facts(dataset, index)
    applied = dataset.applied("charges", index, now)
    if ChargeEvent.FAILED in applied:
        status = "failed"
    elif ChargeEvent.SUCCEEDED in applied:
        status = "succeeded"
    else:
        status = "pending"
    captured = refunded = 0
    if status == "succeeded":
        if facts["flow"] is PaymentFlow.MANUAL:
            captured = facts["captured_amount"] if ChargeEvent.CAPTURED in applied else 0
        else:
            captured = facts["amount"]
        # A customer's refund that failed gave nothing back (Gold reads the refund objects).
        if ChargeEvent.REFUNDED in applied and ChargeEvent.REFUND_FAILED not in applied:
            refunded = facts["refund_amount"]
    country = facts["customer_facts"]["country"]  # the card's and the billing address's
    return Payment(facts["currency"], status, captured, refunded, country)


def subscription_payment_at(dataset: Dataset, inv: int, now: int) -> Payment:
    """The charge that pays subscription invoice `inv`, from the invoice the mock lists: its
    amount due, taken when it is paid, never refunded (docs/mock_api.md#subscription-payments)."""
    invoice = dataset.retrieve(dataset.ids.encode("subscription_invoices", inv), now, "invoices")
    assert invoice["status"] == "paid" and invoice["amount_due"] > 0, invoice["id"]
    _, customer = dataset.ids.decode(invoice["customer"])
    country = customer_facts(dataset, customer)["country"]
    return Payment(invoice["currency"], "succeeded", invoice["amount_due"], 0, country)


def refunded_in_full_at(dataset: Dataset, charge_id: str, now: int) -> bool:
    """Stripe's `refunded` as Gold reads it: the charge says so and its refund did not fail
    (a failed refund gave nothing back, and the mock, like Stripe, leaves the charge as it was)."""
    resource, index = dataset.ids.decode(charge_id)
    if resource == "subscription_charges":
        return False  # never refunded
    applied = dataset.applied("charges", index, now)
    return (
        bool(dataset.retrieve(charge_id, now, "charges")["refunded"])
        and ChargeEvent.REFUND_FAILED not in applied
    )


def major(amount_minor: int, currency: str) -> Decimal:
    """Minor units to major units with the currency's own exponent, exactly."""
    return Decimal(amount_minor).scaleb(-CURRENCY_EXPONENT[currency])
