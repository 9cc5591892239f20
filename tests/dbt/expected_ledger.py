"""The ledger's figures Gold must equal, computed from the mock's own objects (no SQL, no dbt).

For a lake holding the account's whole history at `now`: every balance transaction
(`Dataset.all_balance_transactions`), what each payout paid out (the `payout=` list, as
Stripe's payout reconciliation reads it), the account's own daily books
(`Dataset.daily_truth`) and its balance (`Dataset.balance`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from mock_api.dataset import DAY, Dataset

# A source id's prefix -> (the mock's resource, Gold's source_kind).
SOURCES = {
    "ch": ("charges", "charge"),
    "re": ("refunds", "refund"),
    "dp": ("disputes", "dispute"),
    "po": ("payouts", "payout"),
}
# Reporting categories -> the payout reconciliation's columns (docs/finance.md).
RECONCILIATION_COLUMN = {
    "charge": "charges",
    "refund": "refunds",
    "dispute": "disputes",
    "dispute_reversal": "disputes",
}


@dataclass
class Ledger:
    # Per transaction id: the row fct_balance_transactions must hold.
    transactions: dict[str, dict] = field(default_factory=dict)
    # Per payout id: the payout object and the ids of the transactions it paid out.
    payouts: dict[str, dict] = field(default_factory=dict)
    items: dict[str, list[str]] = field(default_factory=dict)
    # Per (currency, ISO day): the account's books (amount, fee, net, payouts, available,
    # pending at the day's end), and the balance at `now`.
    days: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    balance: dict[str, tuple[int, int]] = field(default_factory=dict)
    dispute_status: dict[str, str] = field(default_factory=dict)


def day_of(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts // DAY * DAY, dt.UTC).date().isoformat()


def payout_items(dataset: Dataset, payout_id: str, now: int) -> list[str]:
    """GET /v1/balance_transactions?payout=... paged to the end, as the extractor reads it."""
    ids: list[str] = []
    after = None
    while True:
        page = dataset.balance_transactions(now, payout=payout_id, limit=100, starting_after=after)
        ids += [txn["id"] for txn in page.data]
        if not page.has_more:
            return ids
        after = page.data[-1]["id"]


def ledger_at(dataset: Dataset, now: int) -> Ledger:
    out = Ledger()
    for payout in dataset.objects("payouts", now):
        out.payouts[payout["id"]] = payout
        out.items[payout["id"]] = payout_items(dataset, payout["id"], now)
    paid_by = {txn: payout for payout, txns in out.items.items() for txn in txns}
    currency_of: dict[str, str] = {}
    for txn in dataset.all_balance_transactions(now):
        source = txn["source"]
        resource, kind = SOURCES[source.split("_")[0]]
        if source not in currency_of:
            obj = dataset.retrieve(source, now, resource)
            currency_of[source] = obj["currency"]
            if kind == "dispute":
                out.dispute_status[source] = obj["status"]
        out.transactions[txn["id"]] = {
            **txn,
            "source_kind": kind,
            "presentment_currency": currency_of[source],
            "payout_id": paid_by.get(txn["id"]),
        }
    out.days = dataset.daily_truth(now)
    balance = dataset.balance(now)
    for available, pending in zip(balance["available"], balance["pending"], strict=True):
        out.balance[available["currency"]] = (available["amount"], pending["amount"])
    return out


def reconciliation(ledger: Ledger) -> dict[str, dict[str, int]]:
    """Per payout: its items' amounts by column, minus their fees, and their net."""
    out: dict[str, dict[str, int]] = {}
    for payout_id, txn_ids in ledger.items.items():
        row: dict[str, int] = defaultdict(int)
        for txn_id in txn_ids:
            txn = ledger.transactions[txn_id]
            row[RECONCILIATION_COLUMN.get(txn["reporting_category"], "adjustments")] += txn[
                "amount"
            ]
            row["fees"] -= txn["fee"]
            row["items_net"] += txn["net"]
            row["item_count"] += 1
        out[payout_id] = dict(row)
    return out


def daily_balance(ledger: Ledger, first: str, last: str) -> dict[tuple[str, str], dict[str, int]]:
    """Per (currency, day) from `first` to `last`: opening, fees (negative), net, payouts (as
    they move the balance), closing, and its available/pending split: the books' figures,
    quiet days carrying the balance."""
    out = {}
    for currency in ledger.balance:
        closing = 0
        day = dt.date.fromisoformat(first)
        while day.isoformat() <= last:
            iso = day.isoformat()
            books = ledger.days.get((currency, iso))
            opening = closing
            if books is None:
                # No movement: the balance carries. Its split moves as money becomes available.
                row = {"fees": 0, "net": 0, "payouts": 0}
            else:
                row = {"fees": -books["fee"], "net": books["net"], "payouts": -books["payouts"]}
            closing = opening + row["net"]
            split = (books["available"], books["pending"]) if books else None
            out[(currency, iso)] = {**row, "opening": opening, "closing": closing, "split": split}
            day += dt.timedelta(days=1)
    return out
