"""Charges and the disputes on them: lifecycle, the facts a charge shares with its payment
intent (`payment_facts`), and rendering."""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec, stripe_list
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.customers import owning_customer
from mock_api.dataset.reference import (
    BRANDS,
    CURRENCIES,
    DISPUTE_EVIDENCE_FIELDS,
    DISPUTE_REASONS,
    FAILURES,
)
from mock_api.dataset.schedule import EventKind

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class ChargeEvent(EventKind):
    resource = nonmember("charges")
    SUCCEEDED = 10, "charge.succeeded", (0,)
    FAILED = 11, "charge.failed", (0,)
    UPDATED = 12, "charge.updated", (2 * HOUR,)  # metadata
    REFUNDED = 13, "charge.refunded", (1 * DAY, 4 * DAY, 9 * DAY)
    DISPUTE_CREATED = 14, "charge.dispute.created", (6 * DAY, 14 * DAY)
    # The same moment as the dispute: the charge's `disputed` turns true.
    DISPUTED = 15, "charge.updated", (6 * DAY, 14 * DAY)


def charge_failed(ds: Dataset, i: int) -> bool:
    """8% of charges fail (and so do their payment intents)."""
    return ds.keys.u("charge_fail", i) < 0.08


def if_charge_succeeded(ds: Dataset, i: int) -> int | None:
    """Rule of the kinds of a successful payment (charge i's and payment intent i's)."""
    return None if charge_failed(ds, i) else 0


def if_charge_failed(ds: Dataset, i: int) -> int | None:
    """Rule of the kinds of a failed payment (charge i's and payment intent i's)."""
    return 0 if charge_failed(ds, i) else None


def _metadata_variant(ds: Dataset, i: int) -> int | None:
    return 0 if ds.keys.u("charge_meta", i) < 0.05 else None


def refund_variant(ds: Dataset, i: int) -> int | None:
    if charge_failed(ds, i) or ds.keys.u("refund", i) >= 0.08:
        return None
    return ds.keys.h("refund_v", i) % 3


def dispute_variant(ds: Dataset, i: int) -> int | None:
    if charge_failed(ds, i) or refund_variant(ds, i) is not None:
        return None
    if ds.keys.u("dispute", i) >= 0.015:
        return None
    return ds.keys.h("dispute_v", i) % 2


def payment_facts(ds: Dataset, i: int) -> dict:
    """Everything charge i and payment intent i share."""
    customer, cust_facts, cust_now = owning_customer(ds, "charges", i)
    currency = cust_facts["currency"]
    row = next(r for r in CURRENCIES if r[0] == currency)
    rng = ds.keys.rng("charge", i)
    low, high = row[3]
    step = row[4]
    amount = rng.randint(low // step, high // step) * step
    brand = rng.weighted([b for b, _ in BRANDS], [w for _, w in BRANDS])
    failed = charge_failed(ds, i)
    failure = rng.choice(FAILURES)
    full_refund = rng.uniform() < 0.6
    partial_share = rng.randint(10, 90)
    refund_amount = (
        amount if full_refund else max(step, amount * partial_share // 100 // step * step)
    )
    return {
        "customer": customer,
        "customer_facts": cust_facts,
        "customer_now": cust_now,
        "currency": currency,
        "amount": amount,
        "brand": brand,
        "last4": f"{rng.randint(0, 9999):04d}",
        "exp_month": rng.randint(1, 12),
        "exp_year": 2027 + rng.randint(0, 5),
        "funding": rng.weighted(("credit", "debit", "prepaid"), (60, 35, 5)),
        "fingerprint": rng.token(16),
        "risk_score": rng.randint(2, 64),
        "failed": failed,
        "failure": failure,
        "refund_amount": refund_amount,
        "order": f"ord_{rng.token(10)}",
        "receipt": rng.token(24),
        "secret": rng.token(24),
        "dispute_reason": rng.weighted(
            [r for r, _ in DISPUTE_REASONS], [w for _, w in DISPUTE_REASONS]
        ),
        "ticket": f"T-{rng.randint(1000, 99999)}",
    }


def _outcome(facts: dict) -> tuple[str | None, str | None, dict]:
    """(failure_code, failure_message, outcome) of the charge."""
    if not facts["failed"]:
        return (
            None,
            None,
            {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": facts["risk_score"],
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
        )
    code, message, out_type, network, reason, risk, seller = facts["failure"]
    return (
        code,
        message,
        {
            "network_status": network,
            "reason": reason,
            "risk_level": risk,
            "risk_score": 91 if risk == "highest" else facts["risk_score"],
            "seller_message": seller,
            "type": out_type,
        },
    )


def _refund(ds: Dataset, i: int, facts: dict) -> dict:
    return {
        "id": ds.ids.encode("refunds", i),
        "object": "refund",
        "amount": facts["refund_amount"],
        "balance_transaction": ds.ids.encode("balance_transactions", 2 * i + 1),
        "charge": ds.object_id("charges", i),
        "created": ds.change_time(ChargeEvent.REFUNDED, i),
        "currency": facts["currency"],
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": {},
        "payment_intent": ds.object_id("payment_intents", i),
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def _card_checks(facts: dict) -> dict:
    cvc_failed = facts["failed"] and facts["failure"][0] == "incorrect_cvc"
    return {
        "address_line1_check": None,
        "address_postal_code_check": "pass",
        "cvc_check": "fail" if cvc_failed else "pass",
    }


def render_payment_method(ds: Dataset, i: int, facts: dict) -> dict:
    """The card payment method of payment i, as a failed intent's `last_payment_error`
    embeds it (Stripe's payment_method schema, 2024-06-20 fields)."""
    customer_now = facts["customer_now"]
    return {
        "id": ds.ids.encode("payment_methods", i),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": customer_now["address"],
            "email": customer_now["email"],
            "name": facts["customer_facts"]["name"],
            "phone": None,
        },
        "card": {
            "brand": facts["brand"],
            "checks": _card_checks(facts),
            "country": facts["customer_facts"]["country"],
            "display_brand": facts["brand"],
            "exp_month": facts["exp_month"],
            "exp_year": facts["exp_year"],
            "fingerprint": facts["fingerprint"],
            "funding": facts["funding"],
            "generated_from": None,
            "last4": facts["last4"],
            "networks": {"available": [facts["brand"]], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": ds.created("charges", i),
        "customer": ds.object_id("customers", facts["customer"]),
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def render_charge(ds: Dataset, i: int, applied: frozenset[int]) -> dict:
    facts = payment_facts(ds, i)
    charge_id = ds.object_id("charges", i)
    failed = facts["failed"]
    amount = facts["amount"]
    customer_now = facts["customer_now"]
    code, message, outcome = _outcome(facts)
    refunds = [_refund(ds, i, facts)] if ChargeEvent.REFUNDED in applied else []
    amount_refunded = facts["refund_amount"] if refunds else 0
    metadata = {"order_id": facts["order"]}
    if ChargeEvent.UPDATED in applied:
        metadata["support_ticket"] = facts["ticket"]
    card_checks = _card_checks(facts)
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0 if failed else amount,
        "amount_refunded": amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None if failed else ds.ids.encode("balance_transactions", 2 * i),
        "billing_details": {
            "address": customer_now["address"],
            "email": customer_now["email"],
            "name": facts["customer_facts"]["name"],
            "phone": None,
        },
        "calculated_statement_descriptor": "MOCKSHOP",
        "captured": not failed,
        "created": ds.created("charges", i),
        "currency": facts["currency"],
        "customer": ds.object_id("customers", facts["customer"]),
        "description": None,
        "disputed": ChargeEvent.DISPUTED in applied,
        "failure_balance_transaction": None,
        "failure_code": code,
        "failure_message": message,
        "fraud_details": {},
        "invoice": None,
        "livemode": False,
        "metadata": metadata,
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": not failed,
        "payment_intent": ds.object_id("payment_intents", i),
        "payment_method": ds.ids.encode("payment_methods", i),
        "payment_method_details": {
            "card": {
                "amount_authorized": None if failed else amount,
                "brand": facts["brand"],
                "checks": card_checks,
                "country": facts["customer_facts"]["country"],
                "exp_month": facts["exp_month"],
                "exp_year": facts["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": facts["fingerprint"],
                "funding": facts["funding"],
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": facts["last4"],
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": facts["brand"],
                "network_token": {"used": False},
                "overcapture": {
                    "maximum_amount_capturable": 0 if failed else amount,
                    "status": "unavailable",
                },
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": customer_now["email"],
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{facts['receipt']}",
        "refunded": amount_refunded == amount and amount_refunded > 0,
        "refunds": stripe_list(refunds, f"/v1/charges/{charge_id}/refunds"),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "failed" if failed else "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def render_dispute(ds: Dataset, i: int) -> dict:
    """The dispute a `charge.dispute.created` event carries (disputes have no list of their own)."""
    facts = payment_facts(ds, i)
    created = ds.change_time(ChargeEvent.DISPUTE_CREATED, i)
    assert created is not None
    return {
        "id": ds.ids.encode("disputes", i),
        "object": "dispute",
        "amount": facts["amount"],
        "balance_transactions": [],
        "charge": ds.object_id("charges", i),
        "created": created,
        "currency": facts["currency"],
        # Nothing submitted yet: Stripe lists every evidence field, each null.
        "evidence": dict.fromkeys(DISPUTE_EVIDENCE_FIELDS),
        "evidence_details": {
            "due_by": created + 7 * DAY,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
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
        "status": "needs_response",
    }


CHARGES = ResourceSpec(
    name="charges",
    object_name="charge",
    kinds=ChargeEvent,
    rules={
        ChargeEvent.SUCCEEDED: if_charge_succeeded,
        ChargeEvent.FAILED: if_charge_failed,
        ChargeEvent.UPDATED: _metadata_variant,
        ChargeEvent.REFUNDED: refund_variant,
        ChargeEvent.DISPUTE_CREATED: dispute_variant,
        ChargeEvent.DISPUTED: dispute_variant,
    },
    render=render_charge,
    expandable={
        "customer": "customers",
        "payment_intent": "payment_intents",
        "invoice": "invoices",
    },
    event_objects={ChargeEvent.DISPUTE_CREATED: render_dispute},
)
