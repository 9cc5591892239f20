"""Payment intents: intent i pays charge i (same timeline, same `payment_facts`)."""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.charges import (
    charge_failed,
    if_charge_failed,
    if_charge_succeeded,
    payment_facts,
    render_payment_method,
)
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.schedule import EventKind, always

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class PaymentIntentEvent(EventKind):
    resource = nonmember("payment_intents")
    CREATED = 20, "payment_intent.created", (0,)
    SUCCEEDED = 21, "payment_intent.succeeded", (0,)
    PAYMENT_FAILED = 22, "payment_intent.payment_failed", (0,)
    CANCELED = 23, "payment_intent.canceled", (1 * HOUR, 1 * DAY)


def _cancel_variant(ds: Dataset, i: int) -> int | None:
    return ds.keys.h("pi_cancel_v", i) % 2 if charge_failed(ds, i) else None


def _last_error(ds: Dataset, i: int, facts: dict, latest_charge: str) -> dict:
    code, message, _, _, reason, _, _ = facts["failure"]
    error = {
        "charge": latest_charge,
        "code": code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "payment_method": render_payment_method(ds, i, facts),
        "type": "card_error",
    }
    # Only an issuer decline has a decline code; Stripe omits the key otherwise.
    if code == "card_declined":
        error["decline_code"] = reason
    return dict(sorted(error.items()))


def render_payment_intent(ds: Dataset, i: int, applied: frozenset[int]) -> dict:
    facts = payment_facts(ds, i)
    pi_id = ds.object_id("payment_intents", i)
    status = "requires_payment_method"
    latest_charge = None
    amount_received = 0
    last_error = None
    canceled_at = None
    cancellation_reason = None
    payment_method = None
    if PaymentIntentEvent.SUCCEEDED in applied:
        status = "succeeded"
        latest_charge = ds.object_id("charges", i)
        amount_received = facts["amount"]
        payment_method = ds.ids.encode("payment_methods", i)
    if PaymentIntentEvent.PAYMENT_FAILED in applied:
        latest_charge = ds.object_id("charges", i)
        last_error = _last_error(ds, i, facts, latest_charge)
    if PaymentIntentEvent.CANCELED in applied:
        status = "canceled"
        canceled_at = ds.change_time(PaymentIntentEvent.CANCELED, i)
        cancellation_reason = "abandoned"
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": facts["amount"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount_received,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": canceled_at,
        "cancellation_reason": cancellation_reason,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{facts['secret']}",
        "confirmation_method": "automatic",
        "created": ds.created("payment_intents", i),
        "currency": facts["currency"],
        "customer": ds.object_id("customers", facts["customer"]),
        "description": None,
        "invoice": None,
        "last_payment_error": last_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": {"order_id": facts["order"]},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
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
        PaymentIntentEvent.SUCCEEDED: if_charge_succeeded,
        PaymentIntentEvent.PAYMENT_FAILED: if_charge_failed,
        PaymentIntentEvent.CANCELED: _cancel_variant,
    },
    render=render_payment_intent,
    timeline_of="charges",
    expandable={
        "customer": "customers",
        "latest_charge": "charges",
        "invoice": "invoices",
    },
)
