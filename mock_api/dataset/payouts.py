"""Automatic payouts: one per settlement currency per business day, of what became available.

Payout p is (day, currency): p = 2 * (days since the account's first day) + currency slot
(0 usd, 1 eur), created at 02:00 UTC (eur a minute later). It pays out the currency's
available balance, so it exists only when that is positive (`ledger.payout_amount`); a
non-positive balance carries to the next business day. `pending` at creation, `in_transit`
an hour later, `paid` at its arrival date (next business day, midnight UTC), or `failed`
then (5%): the failure's balance transaction returns the amount an hour later, in time for
that day's payout. Sources in docs/mock_api.md#the-ledger.
"""

from __future__ import annotations

from enum import nonmember
from typing import TYPE_CHECKING

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.config import DAY, HOUR
from mock_api.dataset.money import SETTLEMENT_CURRENCIES, add_business_days, is_business_day
from mock_api.dataset.schedule import EventKind

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

PAYOUT_AT = 2 * HOUR
SLOT_SECONDS = 60  # eur's payout a minute after usd's: creation stays monotone in p
IN_TRANSIT_AFTER = 1 * HOUR
FAILED_AFTER_ARRIVAL = 1 * HOUR
FAIL_SHARE = 0.05
FAILURE = ("account_closed", "The bank account has been closed.")
# Arrival: the next business day at midnight, so 1 day later (Mon-Thu) or 3 (Friday);
# minus the creation time of day, per currency slot: variant = 2 * slot + (Friday).
_ARRIVES = tuple(days * DAY - PAYOUT_AT - slot * SLOT_SECONDS for slot in (0, 1) for days in (1, 3))


class PayoutTimeline:
    """Creation times of payouts: a fixed time each day, two per day."""

    def __init__(self, start: int) -> None:
        self.first_day = start // DAY
        self._base = self.first_day * DAY + PAYOUT_AT

    def created(self, p: int) -> int:
        return self._base + (p // 2) * DAY + (p % 2) * SLOT_SECONDS

    def last_at_or_before(self, t: int) -> int:
        if t < self._base:
            return -1
        k = (t - self._base) // DAY
        return 2 * k + 1 if t >= self.created(2 * k + 1) else 2 * k

    def first_at_or_after(self, t: int) -> int:
        return self.last_at_or_before(t - 1) + 1

    def payout_of(self, day: int, currency: str) -> int:
        return 2 * (day - self.first_day) + SETTLEMENT_CURRENCIES.index(currency)

    def day_of(self, p: int) -> tuple[int, str]:
        return self.first_day + p // 2, SETTLEMENT_CURRENCIES[p % 2]


class PayoutEvent(EventKind):
    resource = nonmember("payouts")
    CREATED = 26, "payout.created", (0,)
    IN_TRANSIT = 27, "payout.updated", (IN_TRANSIT_AFTER,)
    PAID = 28, "payout.paid", _ARRIVES
    FAILED = 29, "payout.failed", tuple(o + FAILED_AFTER_ARRIVAL for o in _ARRIVES)
    # Funds become available at midnight of each business day: one event per day (on the
    # usd payout's index), carrying the whole balance.
    BALANCE_AVAILABLE = 42, "balance.available", (-PAYOUT_AT,)


def timeline(ds: Dataset) -> PayoutTimeline:
    line = ds.timelines["payouts"]
    assert isinstance(line, PayoutTimeline)
    return line


def payout_exists(ds: Dataset, p: int) -> int | None:
    from mock_api.dataset.ledger import payout_amount  # the ledger renders payouts: lazy

    return 0 if p >= 0 and payout_amount(ds, p) > 0 else None


def payout_failed(ds: Dataset, p: int) -> bool:
    return ds.keys.u("payout_fail", p) < FAIL_SHARE


def arrival_variant(ds: Dataset, p: int) -> int:
    day, _ = timeline(ds).day_of(p)
    friday = add_business_days(day, 1) - day == 3
    return 2 * (p % 2) + int(friday)


def _in_transit(ds: Dataset, p: int) -> int | None:
    return payout_exists(ds, p)


def _paid(ds: Dataset, p: int) -> int | None:
    if payout_exists(ds, p) is None or payout_failed(ds, p):
        return None
    return arrival_variant(ds, p)


def _failed(ds: Dataset, p: int) -> int | None:
    if payout_exists(ds, p) is None or not payout_failed(ds, p):
        return None
    return arrival_variant(ds, p)


def _balance_day(ds: Dataset, p: int) -> int | None:
    day, _ = timeline(ds).day_of(p)
    return 0 if p % 2 == 0 and is_business_day(day) else None


def render_payout(ds: Dataset, p: int, applied: frozenset[int]) -> dict:
    from mock_api.dataset.ledger import PAYOUT_BASE, payout_amount

    day, currency = timeline(ds).day_of(p)
    status = "pending"
    if PayoutEvent.FAILED in applied:
        status = "failed"
    elif PayoutEvent.PAID in applied:
        status = "paid"
    elif PayoutEvent.IN_TRANSIT in applied:
        status = "in_transit"
    failed = status == "failed"
    return {
        "id": ds.ids.encode("payouts", p),
        "object": "payout",
        "amount": payout_amount(ds, p),
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": add_business_days(day, 1) * DAY,
        "automatic": True,
        "balance_transaction": ds.ids.encode("balance_transactions", PAYOUT_BASE + 2 * p),
        "created": ds.created("payouts", p),
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": ds.ids.encode("bank_accounts", p % 2),
        "failure_balance_transaction": ds.ids.encode(
            "balance_transactions", PAYOUT_BASE + 2 * p + 1
        )
        if failed
        else None,
        "failure_code": FAILURE[0] if failed else None,
        "failure_message": FAILURE[1] if failed else None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "completed",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "type": "bank_account",
    }


def balance_event_object(ds: Dataset, p: int) -> dict:
    from mock_api.dataset.ledger import balance

    return balance(ds, ds.created("payouts", p) - PAYOUT_AT)


PAYOUTS = ResourceSpec(
    name="payouts",
    object_name="payout",
    kinds=PayoutEvent,
    rules={
        PayoutEvent.CREATED: payout_exists,
        PayoutEvent.IN_TRANSIT: _in_transit,
        PayoutEvent.PAID: _paid,
        PayoutEvent.FAILED: _failed,
        PayoutEvent.BALANCE_AVAILABLE: _balance_day,
    },
    render=render_payout,
    born=PayoutEvent.CREATED,
    timeline=PayoutTimeline,
    event_objects={PayoutEvent.BALANCE_AVAILABLE: balance_event_object},
)
