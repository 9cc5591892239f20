"""The Stripe API versions this pipeline reads, and the fields each one always carries.

One contract, two spellings that a test keeps equal: this constant (the extractor stops a run
on a version it does not name) and the dbt var `stripe_api_versions` in dbt_project.yml (the
staging models read every shape named here; a test fails when a batch lacks a field its
version always carries). docs/architecture.md#api-versions says how to add a version.

A key is a dated version (`2024-06-20`) or a release name (`basil`), which covers every
monthly version of that release (`2025-03-31.basil`, `2025-05-28.basil`, ...): Stripe's
monthly versions make no breaking changes (https://docs.stripe.com/api-versions).
"""

from __future__ import annotations

_LEDGER_TXN = (
    "id",
    "created",
    "amount",
    "fee",
    "net",
    "fee_details",
    "currency",
    "exchange_rate",
    "type",
    "reporting_category",
    "source",
    "available_on",
    "status",
)

# Fields the staging models read that an object of the version always has (possibly null).
# Only top-level members: presence is checked per batch.
_COMMON = {
    "customers": ("id", "created", "currency", "email", "livemode", "metadata"),
    "charges": (
        "id",
        "created",
        "amount",
        "amount_captured",
        "amount_refunded",
        "currency",
        "status",
        "paid",
        "captured",
        "refunded",
        "disputed",
        "customer",
        "payment_intent",
        "livemode",
    ),
    "payment_intents": (
        "id",
        "created",
        "amount",
        "amount_received",
        "currency",
        "status",
        "customer",
        "latest_charge",
        "livemode",
    ),
    "invoices": (
        "id",
        "created",
        "customer",
        "currency",
        "status",
        "subtotal",
        "total",
        "amount_due",
        "amount_paid",
        "amount_remaining",
        "status_transitions",
        "livemode",
        "lines",
    ),
    # The ledger renders the same in every supported version.
    "balance_transactions": _LEDGER_TXN,
    "refunds": ("id", "created", "amount", "currency", "status", "charge", "balance_transaction"),
    "disputes": ("id", "created", "amount", "currency", "status", "reason", "charge"),
    "payouts": (
        "id",
        "created",
        "amount",
        "currency",
        "status",
        "arrival_date",
        "balance_transaction",
        "failure_balance_transaction",
    ),
    "payout_balance_transactions": _LEDGER_TXN,
    "balance": ("object", "available", "pending", "livemode"),
    "products": ("id", "created", "name", "description", "active", "updated", "livemode"),
    "prices": (
        "id",
        "created",
        "product",
        "currency",
        "unit_amount",
        "billing_scheme",
        "type",
        "recurring",
        "tax_behavior",
        "active",
        "nickname",
        "livemode",
    ),
    "coupons": (
        "id",
        "created",
        "name",
        "duration",
        "duration_in_months",
        "percent_off",
        "amount_off",
        "currency",
        "valid",
        "livemode",
    ),
    "subscriptions": (
        "id",
        "created",
        "customer",
        "status",
        "currency",
        "collection_method",
        "cancel_at_period_end",
        "cancel_at",
        "canceled_at",
        "ended_at",
        "trial_start",
        "trial_end",
        "start_date",
        "latest_invoice",
        "items",
        "livemode",
    ),
    "invoice_line_items": ("id", "amount", "currency", "period", "quantity", "discount_amounts"),
}

# 2025-03-31.basil removed invoice.charge/payment_intent/paid (payments moved to
# InvoicePayment), invoice.subscription (now parent.subscription_details.subscription),
# invoice.tax/total_tax_amounts (now total_taxes), and charge.invoice/payment_intent.invoice.
# It also moved a subscription's current period onto its items, and a line item's price,
# subscription, subscription item, proration and type into `pricing` and `parent`, its
# tax_amounts into `taxes` (https://docs.stripe.com/changelog/basil).
_PRE_BASIL = {
    "customers": (),
    "charges": ("invoice",),
    "payment_intents": ("invoice",),
    "invoices": ("paid", "charge", "payment_intent", "subscription", "tax"),
    "subscriptions": ("current_period_start", "current_period_end", "discount"),
    "invoice_line_items": (
        "type",
        "price",
        "proration",
        "subscription",
        "subscription_item",
        "tax_amounts",
    ),
}
_BASIL = {
    "customers": (),
    "charges": (),
    "payment_intents": (),
    "invoices": ("parent", "total_taxes"),
    "invoice_line_items": ("parent", "pricing", "taxes"),
}


def _required(extra: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {entity: fields + extra.get(entity, ()) for entity, fields in _COMMON.items()}


# The contract: version or release -> entity -> required top-level fields.
SUPPORTED: dict[str, dict[str, tuple[str, ...]]] = {
    "2024-06-20": _required(_PRE_BASIL),
    "basil": _required(_BASIL),
    "clover": _required(_BASIL),
    "dahlia": _required(_BASIL),
}


def contract_key(version: str) -> str:
    """`2025-03-31.basil` -> `basil`; a dated version without a release is its own key."""
    _, dot, release = version.partition(".")
    return release if dot else version


def is_supported(version: str) -> bool:
    return isinstance(version, str) and contract_key(version) in SUPPORTED


def supported_list() -> str:
    """For messages: `2024-06-20, basil, clover, dahlia (any YYYY-MM-DD.<release>)`."""
    return ", ".join(SUPPORTED) + " (a release name covers any YYYY-MM-DD.<release>)"
