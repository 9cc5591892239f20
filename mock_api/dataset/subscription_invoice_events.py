"""`invoice.paid` of the subscription invoices paid when they are created.

Stripe sends `invoice.paid` whenever an invoice becomes paid, also when it costs nothing
(a trial's first invoice) and whichever way it was paid. The renewal whose payment fails has
its own `invoice.paid` at the recovery (`subscriptions.E.INVOICE_PAID`); every other paid
subscription invoice is paid at its birth, so its event is a kind per invoice slot sharing
the birth kind's offsets: each a stream monotone in the subscription index, as the payments'
kinds are (`subscription_payments`). It follows the payment's events at the same second, as
Stripe sends it after the charge. Codes after the payments' in the PAY range
(`schedule.seq_of`): no existing event id changes. Not sent: `invoice.created` and
`.finalized`, because the mock's subscription invoices have no draft stage (they are born
finalised and paid). Rules: docs/mock_api.md#subscription-payments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.schedule import PAY_CODE, EventKind
from mock_api.dataset.subscription_payments import RECOVERY, STEPS
from mock_api.dataset.subscriptions import INVOICE_BIRTHS, INVOICES_PER_SUBSCRIPTION

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

FIRST_CODE = PAY_CODE + len(STEPS) * (RECOVERY + 1)  # after every payment kind
_MEMBERS = [
    (f"PAID_{slot}", (FIRST_CODE + slot, "invoice.paid", kind.offsets))
    for slot, kind in enumerate(INVOICE_BIRTHS)
]
InvoicePaidEvent = EventKind("InvoicePaidEvent", _MEMBERS)  # type: ignore[call-overload]
InvoicePaidEvent.resource = "subscription_invoice_events"


def _slot(kind: EventKind) -> int:
    return int(kind) - FIRST_CODE


def paid_at_birth(ds: Dataset, inv: int) -> bool:
    """Invoice `inv` exists and is paid the moment it is created."""
    from mock_api.dataset.subscription_invoices import invoice_time, paid_time

    at = invoice_time(ds, inv)
    return at is not None and paid_time(ds, inv) == at


def _rule(slot: int) -> Callable[[Dataset, int], int | None]:
    birth_kind = INVOICE_BIRTHS[slot]

    def rule(ds: Dataset, s: int) -> int | None:
        variant = ds.rule(birth_kind)(s)
        if variant is None:
            return None
        return variant if paid_at_birth(ds, s * INVOICES_PER_SUBSCRIPTION + slot) else None

    return rule


def _event_object(kind: EventKind) -> Callable[[Dataset, int], dict]:
    slot = _slot(kind)

    def render(ds: Dataset, s: int) -> dict:
        from mock_api.dataset.subscription_invoices import invoice_time, render_any

        inv = s * INVOICES_PER_SUBSCRIPTION + slot
        at = invoice_time(ds, inv)
        assert at is not None
        # An event renders in the account's default version at its creation, as every event.
        return render_any(ds, "subscription_invoices", inv, at)

    return render


def _no_object(ds: Dataset, s: int, applied: frozenset[int]) -> dict:
    raise ValueError("subscription_invoice_events schedules events; its objects are invoices")


SUBSCRIPTION_INVOICE_EVENTS = ResourceSpec(
    name="subscription_invoice_events",
    object_name="invoice",
    kinds=InvoicePaidEvent,  # type: ignore[arg-type]
    rules={kind: _rule(_slot(kind)) for kind in InvoicePaidEvent},  # type: ignore[attr-defined]
    render=_no_object,
    timeline_of="subscriptions",
    event_objects={kind: _event_object(kind) for kind in InvoicePaidEvent},  # type: ignore[attr-defined]
    listed=False,
)
