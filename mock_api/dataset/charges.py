"""Charges: lifecycle, the facts a charge shares with its payment
intent (`payment_facts`), and rendering."""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec, stripe_list
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.customers import _currency_row, owning_customer
from mock_api.dataset.payment_flows import (
    AUTHORISATION_EXPIRES,
    BANK_METHOD,
    BANK_SETTLES,
    CAPTURE_OFFSETS,
    PaymentFlow,
    authorised_uncaptured,
    bank_debit_fails,
    bank_failure,
    capture_variant,
    captured_amount,
    declined_at_creation,
    payment_flow,
)
from mock_api.dataset.reference import BRANDS, CURRENCIES, DISPUTE_REASONS, FAILURES
from mock_api.dataset.refunds import (
    SETTLED_OFFSETS,
    failed_refund,
    failure_previous,
    final_refund,
    refund_birth,
)
from mock_api.dataset.schedule import EventKind
from mock_api.ids import Rng
from mock_api.memo import keep

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class ChargeEvent(EventKind):
    resource = nonmember("charges")
    # Card payments succeed or fail at creation (variant 0); a bank debit settles or is
    # returned BANK_SETTLES later (variant 1).
    SUCCEEDED = 10, "charge.succeeded", (0, BANK_SETTLES)
    FAILED = 11, "charge.failed", (0, BANK_SETTLES)
    UPDATED = 12, "charge.updated", (2 * HOUR,)  # metadata
    REFUNDED = 13, "charge.refunded", (1 * DAY, 4 * DAY, 9 * DAY)
    # Code 14 is `DisputeEvent.CREATED` (charge.dispute.created, mock_api.dataset.disputes).
    # The moment of the dispute: the charge's `disputed` turns true.
    DISPUTED = 15, "charge.updated", (6 * DAY, 14 * DAY)
    PENDING = 16, "charge.pending", (0,)  # a bank debit, until it settles
    CAPTURED = 17, "charge.captured", CAPTURE_OFFSETS  # a manual authorisation
    EXPIRED = 18, "charge.expired", (AUTHORISATION_EXPIRES,)  # ... released uncaptured
    # A customer's refund failed: Stripe announces it on the charge (data.object is the
    # refund, RefundEvent.FAILED has the refund.failed). The charge itself does not change:
    # no Stripe page says a failure touches amount_refunded, and a change no event carries
    # would make incremental extraction differ from a full one (docs/mock_api.md).
    REFUND_FAILED = 44, "charge.refund.updated", SETTLED_OFFSETS


def charge_failed(ds: Dataset, i: int) -> bool:
    """The payment ends failed: declined at creation, or a returned bank debit."""
    return declined_at_creation(ds, i) or bank_debit_fails(ds, i)


def if_charge_succeeded(ds: Dataset, i: int) -> int | None:
    """Rule of a payment's success (charge i's and payment intent i's kinds)."""
    if payment_flow(ds, i) is PaymentFlow.BANK:
        return None if bank_debit_fails(ds, i) else 1
    return None if declined_at_creation(ds, i) else 0


def if_charge_failed(ds: Dataset, i: int) -> int | None:
    """Rule of a payment's failure (charge i's and payment intent i's kinds)."""
    if declined_at_creation(ds, i):
        return 0
    return 1 if bank_debit_fails(ds, i) else None


def if_bank_debit(ds: Dataset, i: int) -> int | None:
    return 0 if payment_flow(ds, i) is PaymentFlow.BANK else None


def if_expires_uncaptured(ds: Dataset, i: int) -> int | None:
    return 0 if authorised_uncaptured(ds, i) else None


def _metadata_variant(ds: Dataset, i: int) -> int | None:
    return 0 if ds.keys.u("charge_meta", i) < 0.05 else None


def refund_variant(ds: Dataset, i: int) -> int | None:
    """Customer refunds and disputes touch only automatic card payments that succeeded."""
    if payment_flow(ds, i) is not PaymentFlow.AUTOMATIC or declined_at_creation(ds, i):
        return None
    if ds.keys.u("refund", i) >= 0.08:
        return None
    return ds.keys.h("refund_v", i) % 3


def dispute_variant(ds: Dataset, i: int) -> int | None:
    if payment_flow(ds, i) is not PaymentFlow.AUTOMATIC or declined_at_creation(ds, i):
        return None
    if refund_variant(ds, i) is not None or ds.keys.u("dispute", i) >= 0.015:
        return None
    return ds.keys.h("dispute_v", i) % 2


NO_BILLING_ADDRESS_SHARE = 0.04
EMPTY_ADDRESS = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))


# The reference tables as `payment_facts` draws from them, built once (the first row of a
# currency, as a scan would find it).
_CURRENCY_ROW = {}
for _row in CURRENCIES:
    _CURRENCY_ROW.setdefault(_row[0], _row)
_BRAND_NAMES = [b for b, _ in BRANDS]
_BRAND_WEIGHTS = [w for _, w in BRANDS]
_DISPUTE_NAMES = [r for r, _ in DISPUTE_REASONS]
_DISPUTE_WEIGHTS = [w for _, w in DISPUTE_REASONS]


# Payments whose facts are kept: a refunded charge asks for them three times (the charge,
# its refund, the refund's amount), an intent after its charge once more. A few thousand
# facts of ~2 KiB each: ~9 MiB when full.
FACTS_MEMO_MAX = 1 << 12


class _Facts(dict):
    """A payment's facts whose receipt and secret tokens are drawn when first read: a charge
    shows only the one, an intent only the other (each 24 draws, a third of the facts).
    Read them with `facts[key]` only: `get`, `in` and iteration do not see a token not yet
    drawn."""

    def __init__(self, values: dict, lazy: dict[str, tuple[int, int]]) -> None:
        super().__init__(values)
        self._lazy = lazy  # key -> (the Rng's state before its draws, length)

    def __missing__(self, key: str) -> str:
        state, length = self._lazy[key]  # a KeyError for any other key, as a dict raises
        value = self[key] = Rng(state).token(length)
        return value


def payment_facts(ds: Dataset, i: int) -> dict:
    """Everything charge i and payment intent i share (kept, bounded: see FACTS_MEMO_MAX)."""
    cache = ds.payment_cache
    found = cache.get(i)
    if found is None:
        found = keep(cache, i, _payment_facts(ds, i), FACTS_MEMO_MAX)
    return found


def _payment_facts(ds: Dataset, i: int) -> dict:
    customer, cust_facts, cust_now = owning_customer(ds, "charges", i)
    currency = cust_facts["currency"]
    row = _CURRENCY_ROW[currency]
    rng = ds.keys.rng("charge", i)
    low, high = row[3]
    step = row[4]
    amount = rng.randint(low // step, high // step) * step
    brand = rng.weighted(_BRAND_NAMES, _BRAND_WEIGHTS)
    failed = charge_failed(ds, i)
    flow = payment_flow(ds, i)
    failure = rng.choice(FAILURES)
    full_refund = rng.uniform() < 0.6
    partial_share = rng.randint(10, 90)
    refund_amount = (
        amount if full_refund else max(step, amount * partial_share // 100 // step * step)
    )
    # The draws in their order (each draw's value depends on its position in the stream).
    last4 = f"{rng.randint(0, 9999):04d}"
    exp_month = rng.randint(1, 12)
    exp_year = 2027 + rng.randint(0, 5)
    funding = rng.weighted(("credit", "debit", "prepaid"), (60, 35, 5))
    fingerprint = rng.token(16)
    risk_score = rng.randint(2, 64)
    order = f"ord_{rng.token(10)}"
    lazy = {"receipt": (rng.skip(24), 24), "secret": (rng.skip(24), 24)}
    dispute_reason = rng.weighted(_DISPUTE_NAMES, _DISPUTE_WEIGHTS)
    ticket = f"T-{rng.randint(1000, 99999)}"
    values = {
        "customer": customer,
        "customer_facts": cust_facts,
        "customer_now": cust_now,
        "currency": currency,
        "amount": amount,
        "brand": brand,
        "last4": last4,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "funding": funding,
        "fingerprint": fingerprint,
        "risk_score": risk_score,
        "failed": failed,
        "failure": failure,
        "refund_amount": refund_amount,
        "order": order,
        "dispute_reason": dispute_reason,
        "ticket": ticket,
        "flow": flow,
        "captured_amount": captured_amount(ds, i, amount, step),
        "bank_failure": bank_failure(ds, i),
        # A card checkout that did not collect a billing address: every field null.
        "billing_address_missing": flow is not PaymentFlow.BANK
        and ds.keys.u("billing_missing", i) < NO_BILLING_ADDRESS_SHARE,
    }
    return _Facts(values, lazy)


def money_facts(ds: Dataset, i: int) -> dict:
    """The money facts of payment i (as `payment_facts` has them), drawn without the rest:
    the ledger needs them for every transaction. The draws mirror `payment_facts`' order;
    tests/mock_api/test_ledger.py checks that both agree."""
    k = ds.customer_of("charges", i)
    cust_rng = ds.keys.rng("customer", k)
    currency_row = _currency_row(cust_rng)
    country = cust_rng.choice(currency_row[5])
    row = _CURRENCY_ROW[currency_row[0]]
    rng = ds.keys.rng("charge", i)
    low, high = row[3]
    step = row[4]
    amount = rng.randint(low // step, high // step) * step
    rng.next64()  # brand
    rng.next64()  # failure
    full_refund = rng.uniform() < 0.6
    partial_share = rng.randint(10, 90)
    return {
        "currency": row[0],
        "country": country,
        "amount": amount,
        "captured_amount": captured_amount(ds, i, amount, step),
        "refund_amount": amount
        if full_refund
        else max(step, amount * partial_share // 100 // step * step),
    }


def _outcome(facts: dict, status: str) -> tuple[str | None, str | None, dict]:
    """(failure_code, failure_message, outcome) of the charge in `status`."""
    if status != "failed":
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
    if facts["flow"] is PaymentFlow.BANK:
        code, message = facts["bank_failure"]
        outcome = {
            "network_status": "declined_by_network",
            "reason": None,
            "risk_level": "not_assessed",
            "seller_message": "The bank returned this payment.",
            "type": "issuer_declined",
        }
        return code, message, outcome
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


def _status(facts: dict, applied: frozenset[int]) -> str:
    if ChargeEvent.FAILED in applied:
        return "failed"
    if ChargeEvent.SUCCEEDED in applied:
        return "succeeded"
    return "pending"


def _money(ds: Dataset, i: int, facts: dict, status: str, applied: frozenset[int]) -> dict:
    """captured, amount_captured, refunds and balance transaction of the charge."""
    flow, amount = facts["flow"], facts["amount"]
    # The charge's one refund (see `refunds`), once the change that makes it applied:
    # a customer's, the uncaptured rest of a partial capture, or an expired authorisation.
    refunded_by = {ChargeEvent.REFUNDED, ChargeEvent.CAPTURED, ChargeEvent.EXPIRED}
    has_refund = refund_birth(ds, i) is not None and bool(refunded_by & applied)
    refunds = [final_refund(ds, i)] if has_refund else []
    if flow is PaymentFlow.AUTOMATIC:
        captured = status == "succeeded"
        amount_captured = amount if captured else 0
    elif flow is PaymentFlow.MANUAL:
        captured = ChargeEvent.CAPTURED in applied
        amount_captured = facts["captured_amount"] if captured else 0
    else:  # a bank debit is captured when it is created; it settles or is returned later
        captured = True
        amount_captured = amount
    money_moved = captured and status == "succeeded"
    return {
        "captured": captured,
        "amount_captured": amount_captured,
        "refunds": refunds,
        "balance_transaction": ds.ids.encode("balance_transactions", 2 * i)
        if money_moved
        else None,
    }


def _bank_details(facts: dict) -> tuple[str, dict]:
    """(method type, its details) of a bank debit, as a charge's payment_method_details
    shows them."""
    method = BANK_METHOD[facts["currency"]]
    if method == "us_bank_account":
        return method, {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "fingerprint": facts["fingerprint"],
            "last4": facts["last4"],
            "routing_number": "110000000",
        }
    return method, {
        "bank_code": "37040044",
        "branch_code": None,
        "country": facts["customer_facts"]["country"],
        "fingerprint": facts["fingerprint"],
        "last4": facts["last4"],
        "mandate": None,
    }


def _card_checks(facts: dict, failed: bool) -> dict:
    cvc_failed = failed and facts["failure"][0] == "incorrect_cvc"
    return {
        "address_line1_check": None,
        "address_postal_code_check": "pass",
        "cvc_check": "fail" if cvc_failed else "pass",
    }


def _payment_method_details(facts: dict, status: str) -> dict:
    if facts["flow"] is PaymentFlow.BANK:
        method, details = _bank_details(facts)
        return {method: details, "type": method}
    failed = status == "failed"
    amount = facts["amount"]
    return {
        "card": {
            "amount_authorized": None if failed else amount,
            "brand": facts["brand"],
            "checks": _card_checks(facts, failed),
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
    }


def render_payment_method(ds: Dataset, i: int, facts: dict) -> dict:
    """The payment method of payment i, as a failed intent's `last_payment_error` embeds it
    (Stripe's payment_method schema, 2024-06-20 fields)."""
    customer_now = facts["customer_now"]
    method = {
        "id": ds.ids.encode("payment_methods", i),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": customer_now["address"],
            "email": customer_now["email"],
            "name": facts["customer_facts"]["name"],
            "phone": None,
        },
        "created": ds.created("charges", i),
        "customer": ds.object_id("customers", facts["customer"]),
        "livemode": False,
        "metadata": {},
    }
    if facts["flow"] is PaymentFlow.BANK:
        kind, details = _bank_details(facts)
        if kind == "us_bank_account":
            details = {
                **details,
                "financial_connections_account": None,
                "networks": {"preferred": "ach", "supported": ["ach"]},
                "status_details": {},
            }
        else:
            details = {key: value for key, value in details.items() if key != "mandate"} | {
                "generated_from": None
            }
        return {**method, kind: details, "type": kind}
    return {
        **method,
        "card": {
            "brand": facts["brand"],
            "checks": _card_checks(facts, facts["failed"]),
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
        "type": "card",
    }


def render_charge(ds: Dataset, i: int, applied: frozenset[int]) -> dict:
    facts = payment_facts(ds, i)
    status = _status(facts, applied)
    money = _money(ds, i, facts, status, applied)
    metadata = {"order_id": facts["order"]}
    if ChargeEvent.UPDATED in applied:
        metadata["support_ticket"] = facts["ticket"]
    return charge_object(
        ds,
        facts,
        status,
        money,
        ids={
            "id": ds.object_id("charges", i),
            "created": ds.created("charges", i),
            "payment_intent": ds.object_id("payment_intents", i),
            "payment_method": ds.ids.encode("payment_methods", i),
        },
        metadata=metadata,
        disputed=ChargeEvent.DISPUTED in applied,
    )


def charge_object(
    ds: Dataset,
    facts: dict,
    status: str,
    money: dict,
    *,
    ids: dict,
    metadata: dict,
    disputed: bool,
    description: str | None = None,
    invoice: str | None = None,
) -> dict:
    """A charge in API version 2024-06-20 from a payment's facts (`payment_facts`' keys),
    its status, its money (`_money`'s keys) and its ids (id, created, payment_intent,
    payment_method): charge i's, or the payment of a subscription invoice."""
    charge_id = ids["id"]
    amount = facts["amount"]
    customer_now = facts["customer_now"]
    code, message, outcome = _outcome(facts, status)
    amount_refunded = sum(refund["amount"] for refund in money["refunds"])
    address = customer_now["address"]
    if facts["billing_address_missing"]:
        address = EMPTY_ADDRESS
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": money["amount_captured"],
        "amount_refunded": amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": money["balance_transaction"],
        "billing_details": {
            "address": address,
            "email": customer_now["email"],
            "name": facts["customer_facts"]["name"],
            "phone": None,
        },
        "calculated_statement_descriptor": "MOCKSHOP",
        "captured": money["captured"],
        "created": ids["created"],
        "currency": facts["currency"],
        "customer": ds.object_id("customers", facts["customer"]),
        "description": description,
        "disputed": disputed,
        "failure_balance_transaction": None,
        "failure_code": code,
        "failure_message": message,
        "fraud_details": {},
        "invoice": invoice,
        "livemode": False,
        "metadata": metadata,
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": status == "succeeded",
        "payment_intent": ids["payment_intent"],
        "payment_method": ids["payment_method"],
        "payment_method_details": _payment_method_details(facts, status),
        "receipt_email": customer_now["email"],
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{facts['receipt']}",
        "refunded": amount_refunded == amount and amount_refunded > 0,
        "refunds": stripe_list(money["refunds"], f"/v1/charges/{charge_id}/refunds"),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
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
        ChargeEvent.DISPUTED: dispute_variant,
        ChargeEvent.PENDING: if_bank_debit,
        ChargeEvent.CAPTURED: capture_variant,
        ChargeEvent.EXPIRED: if_expires_uncaptured,
        ChargeEvent.REFUND_FAILED: failed_refund,
    },
    render=render_charge,
    event_objects={ChargeEvent.REFUND_FAILED: final_refund},
    event_previous={ChargeEvent.REFUND_FAILED: failure_previous},
    expandable={
        "customer": "customers",
        "payment_intent": "payment_intents",
        "invoice": "invoices",
    },
)
