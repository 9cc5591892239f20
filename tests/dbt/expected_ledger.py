"""The money side of the figures Gold must equal: settlement amounts, fees, refunds, disputes
and the books per day, straight from the mock's own objects and balance transactions (no SQL).

What a first `run-all --days D` at `now` lands in Bronze: the balance transactions created in
the window (the list is by `created`), the refunds, disputes and payouts listed or carried by
an event of the window (`ids`), and every payout's itemized transactions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from mock_api.dataset import CURRENCY_EXPONENT, Dataset
from mock_api.dataset.disputes import DisputeEvent
from mock_api.dataset.refunds import refund_birth, refund_origin

KINDS = ("customer", "uncaptured_rest", "expired_authorisation")  # by refund_origin
PAYOUT_TYPES = ("payout", "payout_failure")


def day(unix: int) -> str:
    return dt.datetime.fromtimestamp(unix, dt.UTC).date().isoformat()


@dataclass
class Settled:
    """A charge's money in its settlement currency (None: no transaction in the window)."""

    currency: str | None = None
    exchange_rate: Decimal | None = None
    captured: int | None = None
    fee: int | None = None
    refunded: int | None = None
    captured_date: str | None = None

    @property
    def net(self) -> int | None:
        if self.captured is None or self.fee is None or self.refunded is None:
            return None
        return self.captured - self.fee - self.refunded


@dataclass
class Refund:
    charge_id: str
    kind: str
    status: str
    reason: str | None
    currency: str
    amount: int
    refunded_date: str
    settlement_currency: str | None
    settlement_amount: int | None
    is_after_payout: bool
    failure_reason: str | None = None
    returned: int | None = None  # what its failure gave back (settlement), if it failed


@dataclass
class Dispute:
    charge_id: str
    status: str
    outcome: str
    reason: str
    currency: str
    amount: int
    settlement_currency: str | None
    withdrawn: int | None
    fee: int | None
    reinstated: int | None
    fee_reinstated: int | None
    net: int | None
    opened_date: str
    closed_date: str | None
    withdrawn_date: str | None
    reinstated_date: str | None


@dataclass
class Ledger:
    settled: dict[str, Settled] = field(default_factory=dict)  # by charge id
    refunds: dict[str, Refund] = field(default_factory=dict)
    disputes: dict[str, Dispute] = field(default_factory=dict)
    # (date, presentment currency) -> figures of agg_daily_revenue
    daily: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    # (date, settlement currency) -> (fee, net) of the ledger, payouts left out
    books: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


def convert(amount: int, currency: str, settles_in: str, rate: Decimal) -> int:
    """Presentment minor units in settlement minor units, rounded half up (Stripe's rule)."""
    major = Decimal(amount).scaleb(-CURRENCY_EXPONENT[currency]) * rate
    return int(major.scaleb(CURRENCY_EXPONENT[settles_in]).quantize(1, rounding=ROUND_HALF_UP))


def _customer_refunds(refunds: list[Refund]) -> int | None:
    """What customers got back in the settlement currency (less what failed refunds
    returned); None if one is not extracted."""
    mine = [r for r in refunds if r.kind == "customer" and r.status != "canceled"]
    if any(r.settlement_amount is None for r in mine):
        return None
    return sum((r.settlement_amount or 0) - (r.returned or 0) for r in mine)


def _paid_out(dataset: Dataset, now: int, payout_ids: Iterable[str]) -> dict[str, int]:
    """Charge id -> created of the extracted payout that paid out its money."""
    out = {}
    for payout_id in payout_ids:
        created = dataset.retrieve(payout_id, now, "payouts")["created"]
        cursor = None
        while True:
            page = dataset.balance_transactions(
                now, payout=payout_id, limit=100, starting_after=cursor
            )
            for txn in page.data:
                if txn["reporting_category"] == "charge":
                    out[txn["source"]] = created
            if not page.has_more:
                break
            cursor = page.data[-1]["id"]
    return out


def ledger_after_first_run(
    dataset: Dataset,
    now: int,
    start: int,
    ids: dict[str, set[str]],
    captured_of: Callable[[str], tuple[str, int, int]],
) -> Ledger:
    """`captured_of(charge_id)`: (currency, captured, refunded) of a charge, presentment."""
    txns = [t for t in dataset.all_balance_transactions(now) if t["created"] >= start]
    by_source: dict[str, dict[str, dict]] = defaultdict(dict)
    for txn in txns:
        by_source[txn["source"]][txn["reporting_category"]] = txn
    out = Ledger()
    daily: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    refunds_of: dict[str, list[str]] = defaultdict(list)
    paid_out = _paid_out(dataset, now, ids["payouts"])
    for refund_id in ids["refunds"]:
        refund = dataset.retrieve(refund_id, now, "refunds")
        _, index = dataset.ids.decode(refund_id)
        birth = refund_birth(dataset, index)
        assert birth is not None
        kind = KINDS[refund_origin(birth)]
        own = by_source[refund_id]
        txn = own.get("refund") or own.get("partial_capture_reversal")
        failure = own.get("refund_failure")
        charge_id = refund["charge"]
        refunds_of[charge_id].append(refund_id)
        paid_at = paid_out.get(charge_id)
        out.refunds[refund_id] = Refund(
            charge_id=charge_id,
            kind=kind,
            status=refund["status"],
            reason=refund["reason"],
            currency=refund["currency"],
            amount=refund["amount"],
            refunded_date=day(refund["created"]),
            settlement_currency=txn["currency"] if txn else None,
            settlement_amount=-txn["amount"] if txn else None,
            is_after_payout=paid_at is not None and paid_at <= refund["created"],
            failure_reason=refund.get("failure_reason"),
            returned=failure["amount"] if failure else None,
        )
        if kind == "customer":
            # A failed or canceled refund gave nothing back, yet its day has a row (its
            # settlement money left and, on the failure's day, came back).
            row = daily[(day(refund["created"]), refund["currency"])]
            if refund["status"] not in ("failed", "canceled"):
                row["refunded_minor"] += refund["amount"]
                row["refund_count"] += 1
            if failure:
                daily[(day(failure["created"]), refund["currency"])]  # noqa: B018

    for charge_id in ids["charges"]:
        currency, captured, refunded = captured_of(charge_id)
        created = dataset.retrieve(charge_id, now, "charges")["created"]
        daily[(day(created), currency)]["cohort_refunded_minor"] += refunded
        txn = by_source[charge_id].get("charge")
        settled = Settled()
        if txn is not None:
            rests = [out.refunds[r] for r in refunds_of[charge_id]]
            settled = Settled(
                currency=txn["currency"],
                exchange_rate=None
                if txn["exchange_rate"] is None
                else Decimal(str(txn["exchange_rate"])),
                captured=txn["amount"]
                - sum(r.settlement_amount or 0 for r in rests if r.kind == "uncaptured_rest"),
                fee=txn["fee"],
                refunded=_customer_refunds(rests),
                captured_date=day(txn["created"]),
            )
        out.settled[charge_id] = settled
        if captured:
            row = daily[(settled.captured_date or day(created), currency)]
            row["gross_minor"] += captured
            row["captured_count"] += 1

    for dispute_id in ids["disputes"]:
        dispute = dataset.retrieve(dispute_id, now, "disputes")
        debit = by_source[dispute_id].get("dispute")
        back = by_source[dispute_id].get("dispute_reversal")
        moved = [t for t in (debit, back) if t]
        _, index = dataset.ids.decode(dispute_id)
        closed = None
        if dispute["status"] in ("won", "lost"):
            closed = day(dataset.change_time(DisputeEvent.CLOSED, index))
        won = dispute["status"] == "won"
        withdrawn = -debit["amount"] if debit else None
        fee = debit["fee"] if debit else None
        reinstated = back["amount"] if back else (None if won else 0)
        fee_back = -back["fee"] if back else (None if won else 0)
        figures = (withdrawn, fee, reinstated, fee_back)
        out.disputes[dispute_id] = Dispute(
            charge_id=dispute["charge"],
            status=dispute["status"],
            outcome=dispute["status"] if dispute["status"] in ("won", "lost") else "open",
            reason=dispute["reason"],
            currency=dispute["currency"],
            amount=dispute["amount"],
            settlement_currency=moved[0]["currency"] if moved else None,
            withdrawn=withdrawn,
            fee=fee,
            reinstated=reinstated,
            fee_reinstated=fee_back,
            net=None if None in figures else reinstated + fee_back - withdrawn - fee,  # type: ignore[operator]
            opened_date=day(dispute["created"]),
            closed_date=closed,
            withdrawn_date=day(debit["created"]) if debit else None,
            reinstated_date=day(back["created"]) if back else None,
        )
        if debit:
            row = daily[(day(debit["created"]), dispute["currency"])]
            row["disputed_minor"] += dispute["amount"]
            row["dispute_count"] += 1
        if back:
            daily[(day(back["created"]), dispute["currency"])]["dispute_reinstated_minor"] += (
                dispute["amount"]
            )
    out.daily = {key: dict(row) for key, row in daily.items()}

    books: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for txn in txns:
        if txn["type"] not in PAYOUT_TYPES:
            totals = books[(day(txn["created"]), txn["currency"])]
            totals[0] += txn["fee"]
            totals[1] += txn["net"]
    out.books = {key: (fee, net) for key, (fee, net) in books.items()}
    return out
