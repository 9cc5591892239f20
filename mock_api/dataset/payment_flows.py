"""How a payment (charge i and payment intent i) moves: its flow and the facts of that flow.

Three flows, each as Stripe runs it (sources in docs/mock_api.md#payment-flows):

- `automatic` (most): a card charge captured at once; succeeds or fails at creation.
- `manual` (6%): `capture_method=manual`. The card is authorised at creation (charge
  `succeeded`, `paid` true, `captured` false; intent `requires_capture`), then either captured
  later, in full or in part (Stripe refunds the uncaptured rest at once), or never captured and
  released after 7 days (the charge turns `refunded` with a refund of reason
  `expired_uncaptured_charge`; the intent is canceled with reason `automatic`). Declined
  authorisations fail at creation like automatic ones.
- `bank` (5% of usd and eur payments): a delayed-notification bank debit (`us_bank_account`
  for usd, `sepa_debit` for eur). The charge is `pending` (intent `processing`) for 4 days,
  then succeeds, or fails (15%) with a bank failure code.

Decisions draw from their own salts (see `keys`), so adding these flows left every other
fact of a payment (amount, brand, refunds of automatic charges, ...) as it was.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.customers import customer_currency
from mock_api.memo import keep

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class PaymentFlow(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"
    BANK = "bank"


MANUAL_SHARE = 0.06
BANK_SHARE = 0.05  # of payments in a currency with a bank debit method
BANK_METHOD = {"usd": "us_bank_account", "eur": "sepa_debit"}
BANK_FAIL_SHARE = 0.15
UNCAPTURED_SHARE = 0.20  # of successful authorisations: never captured, released after 7 days
PARTIAL_CAPTURE_SHARE = 0.30  # of captured authorisations

CAPTURE_OFFSETS = (2 * HOUR, 1 * DAY, 3 * DAY)
AUTHORISATION_EXPIRES = 7 * DAY
BANK_SETTLES = 4 * DAY
# failure_code, failure_message of a returned bank debit.
BANK_FAILURES = (
    ("insufficient_funds", "The customer's account has insufficient funds to cover this payment."),
    ("debit_not_authorized", "The customer told their bank this debit was unauthorized."),
)

# Entries per memo (flows, declines): an int key and a small value each, so a full memo is
# tens of MiB at most (bench/mock_memory.py measures the mock's peak).
FLOW_MEMO_MAX = 1 << 18


def payment_flow(ds: Dataset, i: int) -> PaymentFlow:
    # Memoised: every rule of charges, refunds, disputes and the ledger's streams asks.
    cache = ds.flow_cache
    flow = cache.get(i)
    if flow is None:
        flow = keep(cache, i, _payment_flow(ds, i), FLOW_MEMO_MAX)
    return flow


def _payment_flow(ds: Dataset, i: int) -> PaymentFlow:
    roll = ds.keys.u("payment_flow", i)
    if roll < MANUAL_SHARE:
        return PaymentFlow.MANUAL
    if roll < MANUAL_SHARE + BANK_SHARE:
        currency = customer_currency(ds, ds.customer_of("charges", i))
        if currency in BANK_METHOD:
            return PaymentFlow.BANK
    return PaymentFlow.AUTOMATIC


def declined_at_creation(ds: Dataset, i: int) -> bool:
    """8% of card payments (automatic or manual) are declined when created. Memoised
    (bounded): a dozen rules and renderers of payment i ask."""
    cache = ds.decline_cache
    declined = cache.get(i)
    if declined is None:
        rolled = ds.keys.u("charge_fail", i) < 0.08
        declined = rolled and payment_flow(ds, i) is not PaymentFlow.BANK
        declined = keep(cache, i, declined, FLOW_MEMO_MAX)
    return declined


def bank_debit_fails(ds: Dataset, i: int) -> bool:
    return payment_flow(ds, i) is PaymentFlow.BANK and ds.keys.u("bank_fail", i) < BANK_FAIL_SHARE


def authorised_uncaptured(ds: Dataset, i: int) -> bool:
    """A manual authorisation that is never captured (released after 7 days)."""
    return (
        payment_flow(ds, i) is PaymentFlow.MANUAL
        and not declined_at_creation(ds, i)
        and ds.keys.u("capture_never", i) < UNCAPTURED_SHARE
    )


def capture_variant(ds: Dataset, i: int) -> int | None:
    """Which of CAPTURE_OFFSETS a manual authorisation is captured at, or None."""
    if payment_flow(ds, i) is not PaymentFlow.MANUAL or declined_at_creation(ds, i):
        return None
    if authorised_uncaptured(ds, i):
        return None
    return ds.keys.h("capture_v", i) % len(CAPTURE_OFFSETS)


def partial_capture(ds: Dataset, i: int) -> bool:
    """A manual capture that takes less than authorised (amounts exceed a step, so a
    50-95% share is always less)."""
    return ds.keys.u("capture_partial", i) < PARTIAL_CAPTURE_SHARE


def captured_amount(ds: Dataset, i: int, amount: int, step: int) -> int:
    """What a manual capture takes: all of it, or 50-95% of it in the currency's step."""
    if not partial_capture(ds, i):
        return amount
    share = 50 + ds.keys.h("capture_share", i) % 46
    return max(step, amount * share // 100 // step * step)


def bank_failure(ds: Dataset, i: int) -> tuple[str, str]:
    return BANK_FAILURES[ds.keys.h("bank_failure", i) % len(BANK_FAILURES)]
