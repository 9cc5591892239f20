"""Figures Gold must equal, computed straight from the mock's own objects (no SQL, no dbt).

What a first `run-all --days D` at `now` lands in Bronze: every object the list endpoints
show at `now` created in the window, plus every object an event of the window carries.
Each one's latest state is its state at `now` (every change has an event).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from mock_api.dataset import CURRENCY_EXPONENT, DAY, Dataset

ROUTED = {"customer": "customers", "charge": "charges", "invoice": "invoices"}
ROUTED["payment_intent"] = "payment_intents"


@dataclass
class Expected:
    ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    revenue: dict[str, dict[str, int]] = field(default_factory=dict)
    invoices: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    deleted_customers: set[str] = field(default_factory=set)
    event_count: int = 0


def expected_after_first_run(dataset: Dataset, now: int, days: int) -> Expected:
    start = now - days * DAY
    out = Expected()
    for resource in ROUTED.values():
        for obj in dataset.objects(resource, now):
            if obj["created"] >= start:
                out.ids[resource].add(obj["id"])
    for event in dataset.events(now):
        if event["created"] < start:
            continue
        out.event_count += 1
        obj = event["data"]["object"]
        resource = ROUTED.get(obj["object"])
        if resource:
            out.ids[resource].add(obj["id"])
        if event["type"] == "customer.deleted":
            out.deleted_customers.add(obj["id"])

    revenue: dict[str, dict[str, int]] = defaultdict(
        lambda: {"gross": 0, "refunded": 0, "succeeded": 0, "failed": 0, "refunds": 0}
    )
    for charge_id in out.ids["charges"]:
        charge = dataset.retrieve(charge_id, now, "charges")
        totals = revenue[charge["currency"]]
        if charge["paid"]:
            totals["gross"] += charge["amount"]
            totals["refunded"] += charge["amount_refunded"]
        totals["succeeded" if charge["status"] == "succeeded" else "failed"] += 1
        totals["refunds"] += int(charge["refunded"])
    out.revenue = dict(revenue)

    invoices: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for invoice_id in out.ids["invoices"]:
        invoice = dataset.retrieve(invoice_id, now, "invoices")
        row = invoices[(invoice["currency"], invoice["status"])]
        row[0] += 1
        row[1] += invoice["amount_due"]
        row[2] += invoice["amount_paid"]
        row[3] += invoice["amount_remaining"]
    out.invoices = dict(invoices)
    return out


def major(amount_minor: int, currency: str) -> Decimal:
    """Minor units to major units with the currency's own exponent, exactly."""
    return Decimal(amount_minor).scaleb(-CURRENCY_EXPONENT[currency])
