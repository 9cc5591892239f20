"""The schedule of subscription invoices' payments: their events, as kinds of subscription s.

A subscription invoice with `collection_method=charge_automatically` that is paid with an
amount due is paid by one automatic card payment, a payment intent and its charge, both of
the invoice's index (`subscription_charges` renders them). They are born when the invoice is
paid: with the invoice (at the change that bills) or, for the renewal whose payment failed,
at the recovery. Each announces itself as Stripe does: `payment_intent.created`,
`charge.succeeded`, `payment_intent.succeeded`, in that order at the same second.

An event needs a kind per (invoice slot, event type), each a stream monotone in s like the
invoice's own birth kind, whose offsets it shares. This spec is not `listed`: its objects
list with charges and payment intents (`companions`). Rules: docs/mock_api.md#subscription-payments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.schedule import PAY_CODE, EventKind
from mock_api.dataset.subscriptions import INVOICE_BIRTHS, INVOICES_PER_SUBSCRIPTION, E

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

# Per invoice slot, three kinds: (name stem, event type), codes PAY_CODE + 3 * slot + n.
STEPS = (
    ("INTENT_CREATED", "payment_intent.created"),
    ("CHARGE_SUCCEEDED", "charge.succeeded"),
    ("INTENT_SUCCEEDED", "payment_intent.succeeded"),
)
RECOVERY = len(INVOICE_BIRTHS)  # the pseudo-slot of the failing renewal's payment
_MEMBERS = [
    (f"{stem}_{slot}", (PAY_CODE + 3 * slot + n, event_type, kind.offsets))
    for slot, kind in enumerate((*INVOICE_BIRTHS, E.RECOVERED))
    for n, (stem, event_type) in enumerate(STEPS)
]
PaymentEvent = EventKind("PaymentEvent", _MEMBERS)  # type: ignore[call-overload]
PaymentEvent.resource = "subscription_payments"
P = PaymentEvent


def kinds_of(step: int) -> tuple[EventKind, ...]:
    """One step's kinds (0 intent created, 1 charge, 2 intent succeeded), slot order."""
    return tuple(P(PAY_CODE + 3 * slot + step) for slot in range(RECOVERY + 1))


def step_of(kind: EventKind) -> tuple[int, int]:
    """(pseudo-slot, step) of a payment kind."""
    return divmod(int(kind) - PAY_CODE, 3)


def paid_slot(ds: Dataset, s: int, pseudo: int) -> int:
    """The invoice slot a kind's pseudo-slot pays (the recovery pays the failing renewal)."""
    if pseudo < RECOVERY:
        return pseudo
    from mock_api.dataset.subscription_invoices import failing_renewal

    slot = failing_renewal(ds, s)
    assert slot is not None
    return slot


def kind_of(ds: Dataset, inv: int, step: int) -> EventKind:
    """The kind of invoice `inv`'s payment at `step`: its slot's, or the recovery's."""
    from mock_api.dataset.subscription_invoices import failing_renewal

    s, slot = divmod(inv, INVOICES_PER_SUBSCRIPTION)
    pseudo = RECOVERY if slot == failing_renewal(ds, s) else slot
    return P(PAY_CODE + 3 * pseudo + step)


def charged(ds: Dataset, inv: int) -> bool:
    """Whether invoice `inv` is ever paid by a charge: paid, with an amount due."""
    from mock_api.dataset.subscription_invoices import amount_due, paid_time

    return paid_time(ds, inv) is not None and amount_due(ds, inv) > 0


def _rule(pseudo: int) -> Callable[[Dataset, int], int | None]:
    """Subscription s pays its slot's invoice at the invoice's birth (the birth kind's
    variant), unless that is the failing renewal, which the recovery pays."""
    from_kind = E.RECOVERED if pseudo == RECOVERY else INVOICE_BIRTHS[pseudo]

    def rule(ds: Dataset, s: int) -> int | None:
        from mock_api.dataset.subscription_invoices import failing_renewal

        variant = ds.rule(from_kind)(s)
        if variant is None:
            return None
        failing = failing_renewal(ds, s)
        if pseudo < RECOVERY and pseudo == failing:
            return None
        slot = pseudo if pseudo < RECOVERY else failing
        assert slot is not None
        return variant if charged(ds, s * INVOICES_PER_SUBSCRIPTION + slot) else None

    return rule


def _event_object(kind: EventKind) -> Callable[[Dataset, int], dict]:
    pseudo, step = step_of(kind)

    def render(ds: Dataset, s: int) -> dict:
        from mock_api.dataset.subscription_charges import event_object

        inv = s * INVOICES_PER_SUBSCRIPTION + paid_slot(ds, s, pseudo)
        return event_object(ds, inv, step)

    return render


def _no_object(ds: Dataset, s: int, applied: frozenset[int]) -> dict:
    raise ValueError("subscription_payments schedules events; its objects are charges and intents")


SUBSCRIPTION_PAYMENTS = ResourceSpec(
    name="subscription_payments",
    object_name="charge",
    kinds=PaymentEvent,  # type: ignore[arg-type]
    rules={kind: _rule(step_of(kind)[0]) for kind in PaymentEvent},  # type: ignore[attr-defined]
    render=_no_object,
    timeline_of="subscriptions",
    event_objects={kind: _event_object(kind) for kind in PaymentEvent},  # type: ignore[attr-defined]
    listed=False,
)
