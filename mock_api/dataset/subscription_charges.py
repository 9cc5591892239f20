"""The charge and payment intent that pay subscription invoice `inv` (both of index `inv`).

An automatic card payment of the invoice's `amount_due` in its currency, from the customer's
saved card (the same card every time), created, captured and succeeded when the invoice is
paid (`subscription_payments` schedules it). Rendered with the charge's and intent's own
object builders; `description` is what Stripe writes on a subscription's payments and
`invoice` names the invoice (basil removes that field: `versions`). No refunds or disputes.
Its balance transaction is the ledger's (`ledger.SUB_CHARGE_BASE`). Rules and sources:
docs/mock_api.md#subscription-payments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mock_api.dataset import versions
from mock_api.dataset.charges import charge_object
from mock_api.dataset.companions import Companion
from mock_api.dataset.customers import customer_snapshot
from mock_api.dataset.payment_flows import PaymentFlow
from mock_api.dataset.payment_intents import PaymentIntentEvent, payment_intent_object
from mock_api.dataset.reference import BRANDS
from mock_api.dataset.schedule import seq_of
from mock_api.dataset.subscription_invoices import (
    PER_SUBSCRIPTION,
    amount_due,
    birth,
    paid_time,
)
from mock_api.dataset.subscription_payments import (
    charged,
    kind_of,
    kinds_of,
    paid_slot,
    step_of,
)
from mock_api.dataset.subscriptions import lifecycle

if TYPE_CHECKING:
    from mock_api.dataset.events import EventRef
    from mock_api.dataset.facade import Dataset

INTENT_CREATED, CHARGE, INTENT_SUCCEEDED = 0, 1, 2  # the steps (subscription_payments.STEPS)
SAVED_CARD_BASE = 1 << 50
SUB_CHARGE_BASE = 1 << 53  # the charge's balance transaction: txn SUB_CHARGE_BASE + inv
# What Stripe writes on a subscription's payments: its first invoice's, then every other's
# (cycle and update invoices alike; docs/mock_api.md#subscription-payments).
DESCRIPTION = {0: "Subscription creation"}
OTHER_DESCRIPTION = "Subscription update"


def payment_time(ds: Dataset, inv: int) -> int | None:
    """When invoice `inv`'s charge and intent are created, or None if it has none."""
    if not charged(ds, inv):
        return None
    return paid_time(ds, inv)


def payment_facts(ds: Dataset, inv: int) -> dict:
    """The facts `charges.charge_object` and `payment_intents.payment_intent_object` read, as
    `charges.payment_facts` has them for charge i."""
    s, _ = birth(inv)
    lc = lifecycle(ds, s)
    at = payment_time(ds, inv)
    assert at is not None
    facts, current = customer_snapshot(ds, lc.customer, ds.applied("customers", lc.customer, at))
    card = ds.keys.rng("sub_card", lc.customer)  # the customer's saved card
    own = ds.keys.rng("sub_payment", inv)
    amount = amount_due(ds, inv)
    return {
        "customer": lc.customer,
        "customer_facts": facts,
        "customer_now": current,
        "currency": lc.currency,
        "amount": amount,
        "captured_amount": amount,
        "brand": card.weighted([b for b, _ in BRANDS], [w for _, w in BRANDS]),
        "last4": f"{card.randint(0, 9999):04d}",
        "exp_month": card.randint(1, 12),
        "exp_year": 2027 + card.randint(0, 5),
        "funding": card.weighted(("credit", "debit", "prepaid"), (60, 35, 5)),
        "fingerprint": card.token(16),
        "risk_score": own.randint(2, 64),
        "receipt": own.token(24),
        "secret": own.token(24),
        "failed": False,
        "flow": PaymentFlow.AUTOMATIC,
        "billing_address_missing": False,
    }


def _ids(ds: Dataset, inv: int) -> dict:
    customer = lifecycle(ds, inv // PER_SUBSCRIPTION).customer
    return {
        "created": payment_time(ds, inv),
        "charge": ds.ids.encode("subscription_charges", inv),
        "payment_intent": ds.ids.encode("subscription_payment_intents", inv),
        # The customer's saved card: one payment method per customer, above charges' own.
        "payment_method": ds.ids.encode("payment_methods", SAVED_CARD_BASE + customer),
    }


def description(slot: int) -> str:
    return DESCRIPTION.get(slot, OTHER_DESCRIPTION)


def _links(ds: Dataset, inv: int) -> dict:
    return {
        "description": description(birth(inv)[1]),
        "invoice": ds.ids.encode("subscription_invoices", inv),
    }


def render_charge(ds: Dataset, inv: int) -> dict:
    """The charge of invoice `inv` (2024-06-20, drifted as every charge when the config
    says so): it never changes once created."""
    ids = _ids(ds, inv)
    facts = payment_facts(ds, inv)
    money = {
        "captured": True,
        "amount_captured": facts["amount"],
        "refunds": [],
        "balance_transaction": ds.ids.encode("balance_transactions", SUB_CHARGE_BASE + inv),
    }
    obj = charge_object(
        ds,
        facts,
        "succeeded",
        money,
        ids={**ids, "id": ids["charge"]},
        metadata={},
        disputed=False,
        **_links(ds, inv),
    )
    return ds.drift("subscription_charges", inv, obj)  # a charge like every other


def render_intent(ds: Dataset, inv: int, succeeded: bool = True) -> dict:
    """The payment intent of invoice `inv` (2024-06-20): created, then succeeded at once."""
    ids = _ids(ds, inv)
    applied = {PaymentIntentEvent.CREATED}
    if succeeded:
        applied.add(PaymentIntentEvent.SUCCEEDED)
    obj = payment_intent_object(
        ds,
        inv,
        payment_facts(ds, inv),
        frozenset(applied),
        ids={**ids, "id": ids["payment_intent"]},
        metadata={},
        **_links(ds, inv),
    )
    return ds.drift("subscription_payment_intents", inv, obj)


def event_object(ds: Dataset, inv: int, step: int) -> dict:
    """data.object of the payment's event at `step`, in the account's version then."""
    at = payment_time(ds, inv)
    assert at is not None
    version = ds.config.version_at(at)
    if step == CHARGE:
        return versions.render_in("charges", render_charge(ds, inv), version)
    obj = render_intent(ds, inv, succeeded=step == INTENT_SUCCEEDED)
    return versions.render_in("payment_intents", obj, version)


# ---------------------------------------------------------------------------- the lists


def _birth(step: int):
    def key(ds: Dataset, inv: int) -> tuple[int, int] | None:
        at = payment_time(ds, inv)
        if at is None:
            return None
        return at, seq_of(int(kind_of(ds, inv, step)), inv // PER_SUBSCRIPTION)

    return key


def _companion(resource: str, own: str, step: int, render) -> Companion:
    kinds = kinds_of(step)

    def index_of(ds: Dataset, ref: EventRef) -> int:
        pseudo, _ = step_of(ref.kind)
        return ref.index * PER_SUBSCRIPTION + paid_slot(ds, ref.index, pseudo)

    def rendered(ds: Dataset, inv: int, now: int, version: str | None) -> dict:
        return versions.render_in(resource, render(ds, inv), version or ds.config.version_at(now))

    return Companion(
        resource=resource,
        own=own,
        kinds=kinds,
        index_of=index_of,
        birth=_birth(step),
        customer=lambda ds, s: lifecycle(ds, s).customer,
        render=rendered,
    )


CHARGES = _companion("charges", "subscription_charges", CHARGE, render_charge)
PAYMENT_INTENTS = _companion(
    "payment_intents", "subscription_payment_intents", INTENT_CREATED, render_intent
)
