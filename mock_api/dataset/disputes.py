"""Disputes as their own resource: dispute i is on charge i (1.5% of succeeded automatic card
payments not refunded, see `charges.dispute_variant`).

Lifecycle (sources in docs/mock_api.md#the-ledger): opened `needs_response` with the funds
withdrawn at once (the disputed amount plus the dispute fee, one balance transaction);
evidence submitted 3 days later (`under_review`); closed 35 days after opening, `won` (40%:
the funds and fee reinstated by a second balance transaction) or `lost`.
"""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.config import DAY
from mock_api.dataset.reference import DISPUTE_EVIDENCE_FIELDS
from mock_api.dataset.schedule import EventKind

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

OPENED = (6 * DAY, 14 * DAY)  # after the charge; = ChargeEvent.DISPUTED's
EVIDENCE_AFTER = 3 * DAY
CLOSED_AFTER = 35 * DAY
EVIDENCE_DUE = 7 * DAY
WON_SHARE = 0.4
DEBIT_SLOT, REVERSAL_SLOT = 0, 1


def _after(delay: int) -> tuple[int, ...]:
    return tuple(offset + delay for offset in OPENED)


class DisputeEvent(EventKind):
    resource = nonmember("disputes")
    # Code 14 was charge.dispute.created on the charges resource: same code, same event ids.
    CREATED = 14, "charge.dispute.created", OPENED
    FUNDS_WITHDRAWN = 19, "charge.dispute.funds_withdrawn", OPENED
    UNDER_REVIEW = 36, "charge.dispute.updated", _after(EVIDENCE_AFTER)
    CLOSED = 37, "charge.dispute.closed", _after(CLOSED_AFTER)
    FUNDS_REINSTATED = 38, "charge.dispute.funds_reinstated", _after(CLOSED_AFTER)


def _opened(ds: Dataset, i: int) -> int | None:
    from mock_api.dataset.charges import dispute_variant  # charges' rules: lazy

    return dispute_variant(ds, i)


def dispute_won(ds: Dataset, i: int) -> bool:
    return ds.keys.u("dispute_won", i) < WON_SHARE


def _won(ds: Dataset, i: int) -> int | None:
    variant = _opened(ds, i)
    return variant if variant is not None and dispute_won(ds, i) else None


def render_dispute(ds: Dataset, i: int, applied: frozenset[int]) -> dict:
    from mock_api.dataset import ledger
    from mock_api.dataset.charges import payment_facts

    facts = payment_facts(ds, i)
    created = ds.change_time(DisputeEvent.CREATED, i)
    assert created is not None, f"charge {i} is not disputed"
    reviewed = DisputeEvent.UNDER_REVIEW in applied
    status = "needs_response"
    if DisputeEvent.CLOSED in applied:
        status = "won" if dispute_won(ds, i) else "lost"
    elif reviewed:
        status = "under_review"
    evidence = dict.fromkeys(DISPUTE_EVIDENCE_FIELDS)  # Stripe lists every field, null
    if reviewed:
        evidence |= {
            "customer_email_address": facts["customer_now"]["email"],
            "customer_name": facts["customer_facts"]["name"],
            "product_description": "Goods shipped and delivered; tracking attached.",
        }
    # The embedded balance transactions as of the dispute's latest change.
    as_of = max(ds.change_time(kind, i) or created for kind in DisputeEvent if kind in applied)
    movements = []
    if DisputeEvent.FUNDS_WITHDRAWN in applied:
        movements.append(ledger.dispute_txn(ds, i, DEBIT_SLOT))
    if DisputeEvent.FUNDS_REINSTATED in applied:
        movements.append(ledger.dispute_txn(ds, i, REVERSAL_SLOT))
    return {
        "id": ds.ids.encode("disputes", i),
        "object": "dispute",
        "amount": facts["amount"],
        "balance_transactions": [ledger.render_txn(ds, txn, as_of) for txn in movements],
        "charge": ds.object_id("charges", i),
        "created": created,
        "currency": facts["currency"],
        "evidence": evidence,
        "evidence_details": {
            "due_by": created + EVIDENCE_DUE,
            "has_evidence": reviewed,
            "past_due": False,
            "submission_count": int(reviewed),
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": ds.object_id("payment_intents", i),
        "payment_method_details": {
            "card": {"brand": facts["brand"], "network_reason_code": None},
            "type": "card",
        },
        "reason": facts["dispute_reason"],
        "status": status,
    }


DISPUTES = ResourceSpec(
    name="disputes",
    object_name="dispute",
    kinds=DisputeEvent,
    rules={
        DisputeEvent.CREATED: _opened,
        DisputeEvent.FUNDS_WITHDRAWN: _opened,
        DisputeEvent.UNDER_REVIEW: _opened,
        DisputeEvent.CLOSED: _opened,
        DisputeEvent.FUNDS_REINSTATED: _won,
    },
    render=render_dispute,
    timeline_of="charges",
    born=DisputeEvent.CREATED,
    expandable={"charge": "charges", "payment_intent": "payment_intents"},
)
