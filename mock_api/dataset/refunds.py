"""Refunds as their own resource: refund i belongs to charge i (a charge has at most one).

Three births (sources in docs/mock_api.md#the-ledger): a customer's refund of an automatic
card payment (`pending`, then `succeeded` a day later, with a balance transaction; or, for
FAILED_SHARE of them, `failed` a day later, its money returned by a balance transaction of
category `refund_failure`); the uncaptured rest Stripe refunds at a partial capture
(`succeeded` at once; Stripe books it as a `partial_capture_reversal` balance transaction);
an authorisation released after 7 days (`succeeded`, no balance transaction: no money had
moved).
"""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.config import DAY
from mock_api.dataset.payment_flows import (
    AUTHORISATION_EXPIRES,
    CAPTURE_OFFSETS,
    authorised_uncaptured,
    capture_variant,
    partial_capture,
)
from mock_api.dataset.schedule import EventKind

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

CUSTOMER_OFFSETS = (1 * DAY, 4 * DAY, 9 * DAY)  # = ChargeEvent.REFUNDED's
SETTLES_AFTER = 1 * DAY  # a customer refund stays pending this long
# Variants of refund.created: 0-2 customer (as charge.refunded), 3-5 a partial capture's
# rest (as charge.captured), 6 an expired authorisation.
PARTIAL_CAPTURE = len(CUSTOMER_OFFSETS)
EXPIRED = PARTIAL_CAPTURE + len(CAPTURE_OFFSETS)
SETTLED_OFFSETS = tuple(offset + SETTLES_AFTER for offset in CUSTOMER_OFFSETS)
REASON = {0: "requested_by_customer", 1: None, 2: "expired_uncaptured_charge"}
FAILED_SHARE = 0.05  # of customer refunds: the card can no longer take the money back
FAILURE_REASON = "expired_or_canceled_card"


class RefundEvent(EventKind):
    resource = nonmember("refunds")
    CREATED = 39, "refund.created", (*CUSTOMER_OFFSETS, *CAPTURE_OFFSETS, AUTHORISATION_EXPIRES)
    UPDATED = 40, "refund.updated", SETTLED_OFFSETS
    # Stripe also announces a refund's update on its charge (data.object is the refund).
    CHARGE_REFUND_UPDATED = 41, "charge.refund.updated", SETTLED_OFFSETS
    # Instead of UPDATED: the refund failed (its charge.refund.updated is the charge's
    # ChargeEvent.REFUND_FAILED).
    FAILED = 43, "refund.failed", SETTLED_OFFSETS


SETTLING = frozenset({RefundEvent.UPDATED, RefundEvent.CHARGE_REFUND_UPDATED})


def refund_birth(ds: Dataset, i: int) -> int | None:
    """The variant of refund.created of charge i's refund, or None if it has none."""
    from mock_api.dataset.charges import refund_variant  # charges embeds refunds: lazy

    variant = refund_variant(ds, i)
    if variant is not None:
        return variant
    capture = capture_variant(ds, i)
    if capture is not None:
        return PARTIAL_CAPTURE + capture if partial_capture(ds, i) else None
    return EXPIRED if authorised_uncaptured(ds, i) else None


def _customer_refund(ds: Dataset, i: int) -> int | None:
    variant = refund_birth(ds, i)
    return variant if variant is not None and variant < PARTIAL_CAPTURE else None


def refund_fails(ds: Dataset, i: int) -> bool:
    """Whether charge i's refund is a customer's that fails."""
    return _customer_refund(ds, i) is not None and ds.keys.u("refund_fail", i) < FAILED_SHARE


def failed_refund(ds: Dataset, i: int) -> int | None:
    """The variant of the failure of charge i's refund, or None if it does not fail."""
    return _customer_refund(ds, i) if refund_fails(ds, i) else None


def _settled_refund(ds: Dataset, i: int) -> int | None:
    return None if refund_fails(ds, i) else _customer_refund(ds, i)


def refund_origin(variant: int) -> int:
    """0 customer, 1 partial capture's rest, 2 expired authorisation."""
    return 0 if variant < PARTIAL_CAPTURE else 1 if variant < EXPIRED else 2


def refund_amount(ds: Dataset, i: int, variant: int) -> int:
    from mock_api.dataset.charges import payment_facts

    facts = payment_facts(ds, i)
    origin = refund_origin(variant)
    if origin == 0:
        return facts["refund_amount"]
    if origin == 1:
        return facts["amount"] - facts["captured_amount"]
    return facts["amount"]


def render_refund(ds: Dataset, i: int, applied: frozenset[int]) -> dict:
    from mock_api.dataset.charges import payment_facts

    variant = refund_birth(ds, i)
    assert variant is not None, f"charge {i} has no refund"
    facts = payment_facts(ds, i)
    origin = refund_origin(variant)
    settled = origin != 0 or bool(
        applied & {RefundEvent.UPDATED, RefundEvent.CHARGE_REFUND_UPDATED}
    )
    failed = RefundEvent.FAILED in applied and refund_fails(ds, i)
    refund = {
        "id": ds.ids.encode("refunds", i),
        "object": "refund",
        "amount": refund_amount(ds, i, variant),
        # No money moved for an authorisation that expired uncaptured.
        "balance_transaction": None
        if origin == 2
        else ds.ids.encode("balance_transactions", 2 * i + 1),
        "charge": ds.object_id("charges", i),
        "created": ds.created("charges", i) + RefundEvent.CREATED.offsets[variant],
        "currency": facts["currency"],
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": {},
        "payment_intent": ds.object_id("payment_intents", i),
        "reason": REASON[origin],
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "failed" if failed else "succeeded" if settled else "pending",
        "transfer_reversal": None,
    }
    if failed:  # Stripe sets these only on a failed refund
        refund["failure_balance_transaction"] = ds.ids.encode(
            "balance_transactions", refund_failure_txn(i)
        )
        refund["failure_reason"] = FAILURE_REASON
    return refund


def failure_previous(ds: Dataset, i: int) -> dict:
    """previous_attributes of charge i's refund's failure: as it was while pending (the
    failure fields it gains had no value, and the schema allows them no null)."""
    from mock_api.dataset.events import _diff

    pending = render_refund(ds, i, frozenset({RefundEvent.CREATED}))
    changed = _diff(pending, final_refund(ds, i))
    return {key: value for key, value in changed.items() if key in pending}


def refund_failure_txn(i: int) -> int:
    """The txn number of refund i's failure (see ledger.REFUND_FAILURE)."""
    from mock_api.dataset.ledger import REFUND_FAILURE

    return REFUND_FAILURE.txn(i)


def final_refund(ds: Dataset, i: int) -> dict:
    """The refund with every change applied (what a charge's embedded list shows)."""
    return render_refund(ds, i, frozenset(RefundEvent))


REFUNDS = ResourceSpec(
    name="refunds",
    object_name="refund",
    kinds=RefundEvent,
    rules={
        RefundEvent.CREATED: refund_birth,
        RefundEvent.UPDATED: _settled_refund,
        RefundEvent.CHARGE_REFUND_UPDATED: _settled_refund,
        RefundEvent.FAILED: failed_refund,
    },
    render=render_refund,
    timeline_of="charges",
    born=RefundEvent.CREATED,
    mirrors={RefundEvent.CHARGE_REFUND_UPDATED: RefundEvent.UPDATED},
    expandable={"charge": "charges", "payment_intent": "payment_intents"},
)
