"""Payment intents: intent i pays charge i (same timeline, same `payment_facts`)."""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.charges import (
    if_charge_failed,
    if_charge_succeeded,
    payment_facts,
    render_payment_method,
)
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.payment_flows import (
    AUTHORISATION_EXPIRES,
    BANK_METHOD,
    BANK_SETTLES,
    CAPTURE_OFFSETS,
    PaymentFlow,
    authorised_uncaptured,
    capture_variant,
    declined_at_creation,
    payment_flow,
)
from mock_api.dataset.schedule import EventKind, always

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class PaymentIntentEvent(EventKind):
    resource = nonmember("payment_intents")
    CREATED = 20, "payment_intent.created", (0,)
    # At creation (automatic card), at a manual capture, or when a bank debit settles.
    SUCCEEDED = 21, "payment_intent.succeeded", (0, *CAPTURE_OFFSETS, BANK_SETTLES)
    PAYMENT_FAILED = 22, "payment_intent.payment_failed", (0, BANK_SETTLES)
    # A declined card is abandoned; an authorisation never captured is canceled by Stripe.
    CANCELED = 23, "payment_intent.canceled", (1 * HOUR, 1 * DAY, AUTHORISATION_EXPIRES)
    REQUIRES_CAPTURE = 24, "payment_intent.amount_capturable_updated", (0,)
    PROCESSING = 25, "payment_intent.processing", (0,)


def _succeeded_variant(ds: Dataset, i: int) -> int | None:
    """SUCCEEDED's offset: 0 for a card captured at once, 1-3 at a manual capture, 4 when a
    bank debit settles (the charge's own rule says whether the payment succeeds at all)."""
    if if_charge_succeeded(ds, i) is None:
        return None
    flow = payment_flow(ds, i)
    if flow is PaymentFlow.BANK:
        return 1 + len(CAPTURE_OFFSETS)
    if flow is PaymentFlow.MANUAL:
        variant = capture_variant(ds, i)
        return None if variant is None else 1 + variant
    return 0


def _cancel_variant(ds: Dataset, i: int) -> int | None:
    if authorised_uncaptured(ds, i):
        return 2
    return ds.keys.h("pi_cancel_v", i) % 2 if declined_at_creation(ds, i) else None


def _if_authorised_for_capture(ds: Dataset, i: int) -> int | None:
    manual = payment_flow(ds, i) is PaymentFlow.MANUAL
    return 0 if manual and not declined_at_creation(ds, i) else None


def _if_processing(ds: Dataset, i: int) -> int | None:
    return 0 if payment_flow(ds, i) is PaymentFlow.BANK else None


def _last_error(ds: Dataset, i: int, facts: dict, latest_charge: str) -> dict:
    if facts["flow"] is PaymentFlow.BANK:
        code, message = facts["bank_failure"]
        error_type, decline_code = "invalid_request_error", None
    else:
        code, message, _, _, reason, _, _ = facts["failure"]
        error_type = "card_error"
        decline_code = reason if code == "card_declined" else None
    error = {
        "charge": latest_charge,
        "code": code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "payment_method": render_payment_method(ds, i, facts),
        "type": error_type,
    }
    # Only an issuer decline has a decline code; Stripe omits the key otherwise.
    if decline_code is not None:
        error["decline_code"] = decline_code
    return dict(sorted(error.items()))


def _payment_method_options(method_type: str) -> dict:
    if method_type == "card":
        return {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        }
    if method_type == "us_bank_account":
        return {"us_bank_account": {"verification_method": "automatic"}}
    return {"sepa_debit": {}}


def render_payment_intent(ds: Dataset, i: int, applied: frozenset[int]) -> dict:
    facts = payment_facts(ds, i)
    return payment_intent_object(
        ds,
        i,
        facts,
        applied,
        ids={
            "id": ds.object_id("payment_intents", i),
            "created": ds.created("payment_intents", i),
            "charge": ds.object_id("charges", i),
            "payment_method": ds.ids.encode("payment_methods", i),
        },
        metadata={"order_id": facts["order"]},
    )


def payment_intent_object(
    ds: Dataset,
    i: int,
    facts: dict,
    applied: frozenset[int],
    *,
    ids: dict,
    metadata: dict,
    description: str | None = None,
    invoice: str | None = None,
) -> dict:
    """A payment intent in API version 2024-06-20 after the `PaymentIntentEvent` kinds in
    `applied`, from a payment's facts and its ids (id, created, charge, payment_method):
    intent i's (`i` also names a failure's payment method and the cancellation), or the
    payment of a subscription invoice."""
    pi_id = ids["id"]
    status = "requires_payment_method"
    latest_charge = None
    amount_received = 0
    last_error = None
    canceled_at = None
    cancellation_reason = None
    payment_method = None
    amount_capturable = 0
    flow = facts["flow"]
    if applied & {PaymentIntentEvent.REQUIRES_CAPTURE, PaymentIntentEvent.PROCESSING}:
        latest_charge = ids["charge"]
        payment_method = ids["payment_method"]
    if PaymentIntentEvent.REQUIRES_CAPTURE in applied:
        status = "requires_capture"
        amount_capturable = facts["amount"]
    if PaymentIntentEvent.PROCESSING in applied:
        status = "processing"
    if PaymentIntentEvent.SUCCEEDED in applied:
        status = "succeeded"
        latest_charge = ids["charge"]
        amount_capturable = 0
        manual = flow is PaymentFlow.MANUAL
        amount_received = facts["captured_amount"] if manual else facts["amount"]
        payment_method = ids["payment_method"]
    if PaymentIntentEvent.PAYMENT_FAILED in applied:
        status = "requires_payment_method"
        latest_charge = ids["charge"]
        payment_method = None
        last_error = _last_error(ds, i, facts, latest_charge)
    if PaymentIntentEvent.CANCELED in applied:
        status = "canceled"
        amount_capturable = 0
        canceled_at = ds.change_time(PaymentIntentEvent.CANCELED, i)
        cancellation_reason = "automatic" if flow is PaymentFlow.MANUAL else "abandoned"
    method_type = BANK_METHOD[facts["currency"]] if flow is PaymentFlow.BANK else "card"
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": facts["amount"],
        "amount_capturable": amount_capturable,
        "amount_details": {"tip": {}},
        "amount_received": amount_received,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": canceled_at,
        "cancellation_reason": cancellation_reason,
        "capture_method": "manual" if flow is PaymentFlow.MANUAL else "automatic",
        "client_secret": f"{pi_id}_secret_{facts['secret']}",
        "confirmation_method": "automatic",
        "created": ids["created"],
        "currency": facts["currency"],
        "customer": ds.object_id("customers", facts["customer"]),
        "description": description,
        "invoice": invoice,
        "last_payment_error": last_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": _payment_method_options(method_type),
        "payment_method_types": [method_type],
        "processing": None,
        "receipt_email": facts["customer_now"]["email"],
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


PAYMENT_INTENTS = ResourceSpec(
    name="payment_intents",
    object_name="payment_intent",
    kinds=PaymentIntentEvent,
    rules={
        PaymentIntentEvent.CREATED: always,
        PaymentIntentEvent.SUCCEEDED: _succeeded_variant,
        PaymentIntentEvent.PAYMENT_FAILED: if_charge_failed,
        PaymentIntentEvent.CANCELED: _cancel_variant,
        PaymentIntentEvent.REQUIRES_CAPTURE: _if_authorised_for_capture,
        PaymentIntentEvent.PROCESSING: _if_processing,
    },
    render=render_payment_intent,
    timeline_of="charges",
    expandable={
        "customer": "customers",
        "latest_charge": "charges",
        "invoice": "invoices",
    },
)
