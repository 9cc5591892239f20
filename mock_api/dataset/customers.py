"""Customers: their lifecycle, their facts and their rendering.

Charges, payment intents and invoices each belong to a customer created at or before them
(`Dataset.customer_of`) and copy its email and address as they were then: `owning_customer`.
"""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.reference import CITIES, CURRENCIES, FIRST, LAST, STREETS
from mock_api.dataset.schedule import EventKind, always, minor_volume
from mock_api.ids import Rng
from mock_api.memo import keep

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class CustomerEvent(EventKind):
    resource = nonmember("customers")
    CREATED = 0, "customer.created", (0,)
    UPDATED = 1, "customer.updated", (6 * HOUR, 3 * DAY, 10 * DAY)  # email and address
    DELETED = 2, "customer.deleted", (40 * DAY, 75 * DAY)


def _update_variant(ds: Dataset, k: int) -> int | None:
    return ds.keys.h("cust_update_v", k) % 3 if ds.keys.u("cust_update", k) < 0.30 else None


def _delete_variant(ds: Dataset, k: int) -> int | None:
    return ds.keys.h("cust_delete_v", k) % 2 if ds.keys.u("cust_delete", k) < 0.04 else None


NO_EMAIL_SHARE = 0.05  # customers created without an email (Stripe's `email` is optional)


def _currency_row(rng: Rng) -> tuple:
    return rng.weighted(CURRENCIES, [row[2] for row in CURRENCIES])


def customer_currency(ds: Dataset, k: int) -> str:
    """Customer k's currency alone: the first draw of `customer_facts`, without the rest."""
    return _currency_row(ds.keys.rng("customer", k))[0]


def customer_facts(ds: Dataset, k: int) -> dict:
    """What never changes about customer k (and what its update changes to). Kept per
    dataset (bounded): each customer owns many payments. Callers only read it."""
    found = ds.customer_cache.get(k)
    if found is None:
        found = keep(ds.customer_cache, k, _customer_facts(ds, k), CUSTOMER_MEMO_MAX)
    return found


CUSTOMER_MEMO_MAX = 1 << 16


def _customer_facts(ds: Dataset, k: int) -> dict:
    rng = ds.keys.rng("customer", k)
    currency_row = _currency_row(rng)
    country = rng.choice(currency_row[5])
    city, state, postal = rng.choice(CITIES[country])
    first, last = rng.choice(FIRST), rng.choice(LAST)
    number = rng.randint(1, 999)
    return {
        "currency": currency_row[0],
        "country": country,
        "city": city,
        "state": state,
        "postal": postal,
        "name": f"{first} {last}",
        "email": None
        if ds.keys.u("cust_no_email", k) < NO_EMAIL_SHARE
        else f"{first}.{last}{number}@example.com".lower().replace("-", ""),
        "street_no": rng.randint(1, 250),
        "street": rng.choice(STREETS),
        "new_street_no": rng.randint(251, 900),
        "phone": f"+1555{rng.randint(1_000_000, 9_999_999)}",
        "prefix": rng.token(8).upper(),
        "segment": rng.weighted(("smb", "mid_market", "enterprise"), (70, 25, 5)),
    }


def customer_snapshot(ds: Dataset, k: int, applied: frozenset[int]) -> tuple[dict, dict]:
    """(facts, the email and address after `applied`)."""
    facts = customer_facts(ds, k)
    email = facts["email"]
    street_no = facts["street_no"]
    if CustomerEvent.UPDATED in applied and email is not None:
        email = email.replace("@example.com", "@mail.example.org")
        street_no = facts["new_street_no"]
    address = {
        "city": facts["city"],
        "country": facts["country"],
        "line1": f"{street_no} {facts['street']}",
        "line2": None,
        "postal_code": facts["postal"],
        "state": facts["state"],
    }
    return facts, {"email": email, "address": address}


def owning_customer(ds: Dataset, resource: str, index: int) -> tuple[int, dict, dict]:
    """(customer index, its facts, its email and address) as of the object's creation."""
    customer = ds.customer_of(resource, index)
    as_of = ds.created(resource, index)
    facts, current = customer_snapshot(ds, customer, ds.applied("customers", customer, as_of))
    return customer, facts, current


def render_customer(ds: Dataset, k: int, applied: frozenset[int]) -> dict:
    facts, current = customer_snapshot(ds, k, applied)
    obj = {
        "id": ds.object_id("customers", k),
        "object": "customer",
        "address": current["address"],
        "balance": 0,
        "created": ds.created("customers", k),
        "currency": facts["currency"],
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": current["email"],
        "invoice_prefix": facts["prefix"],
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {"segment": facts["segment"]},
        "name": facts["name"],
        "next_invoice_sequence": 1,
        "phone": facts["phone"],
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    if CustomerEvent.UPDATED in applied:
        obj["metadata"] = {"segment": facts["segment"], "address_verified": "true"}
    # A `customer.deleted` event carries the whole customer as it was, without `deleted`
    # (the customer schema has no such field); only a retrieve after it returns the stub.
    return obj


CUSTOMERS = ResourceSpec(
    name="customers",
    object_name="customer",
    kinds=CustomerEvent,
    rules={
        CustomerEvent.CREATED: always,
        CustomerEvent.UPDATED: _update_variant,
        CustomerEvent.DELETED: _delete_variant,
    },
    render=render_customer,
    per_day=minor_volume,
    gone=CustomerEvent.DELETED,
)
