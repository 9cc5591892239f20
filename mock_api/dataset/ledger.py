"""Balance transactions, the payouts' books and the balance: the account's ledger.

A balance transaction is born of a change of another object (a charge's capture, a refund,
a dispute's withdrawal, a payout...): `Birth` names that change and the transaction's type.
Its id encodes `txn` = base + 2 * index + slot (charge i: 2i, its refund 2i + 1, as the charge
and refund objects already say; disputes and payouts above DISPUTE_BASE and PAYOUT_BASE), so
lists and cursors work as for events: each (birth, variant) is a stream monotone in the
index, and a page merges them newest first, by (created, txn).

Payouts need sums over many transactions: `_books` computes, once per business day and
cached on the dataset, what each currency's payout of that day pays (the transactions that
became available that day, plus a carried non-positive balance); a day costs the
transactions of a few creation days, never the history. Rules and sources:
docs/mock_api.md#the-ledger.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from mock_api.dataset.charges import ChargeEvent, money_facts
from mock_api.dataset.config import DAY
from mock_api.dataset.customers import customer_currency, customer_facts
from mock_api.dataset.disputes import DisputeEvent
from mock_api.dataset.errors import MockError
from mock_api.dataset.events import kind_stream as event_stream
from mock_api.dataset.money import (
    DISPUTE_FEE,
    SETTLEMENT_CURRENCIES,
    add_business_days,
    bank_fee,
    card_fee,
    convert,
    exchange_rate,
    is_business_day,
    previous_business_day,
    settlement_currency,
)
from mock_api.dataset.paging import ALL_TIME, CreatedFilter, Page, beyond, clip_times, cursor_page
from mock_api.dataset.payment_flows import PaymentFlow, partial_capture, payment_flow
from mock_api.dataset.payouts import PayoutEvent, timeline
from mock_api.dataset.refunds import RefundEvent
from mock_api.dataset.schedule import EventKind, offset_time
from mock_api.dataset.subscription_charges import CHARGE as CHARGE_STEP
from mock_api.dataset.subscription_charges import SUB_CHARGE_BASE
from mock_api.dataset.subscription_charges import description as sub_charge_description
from mock_api.dataset.subscription_invoices import PER_SUBSCRIPTION, amount_due, failing_renewal
from mock_api.dataset.subscription_payments import RECOVERY, kinds_of
from mock_api.dataset.subscriptions import FAIL_RENEWAL, VARIANTS, lifecycle
from mock_api.memo import keep

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

DISPUTE_BASE = 1 << 50
PAYOUT_BASE = 1 << 51
REFUND_FAILURE_BASE = 1 << 52  # above every payout's txn
TWO_DAYS, NEXT_DAY, AT_ONCE = "two_days", "next_day", "at_once"


@dataclass(frozen=True)
class Birth:
    """One kind of balance transaction: the change it is born of, and what it is."""

    name: str
    kind: EventKind  # its time is the transaction's `created`
    variants: tuple[int, ...] | None  # the kind's variants that make one (None: all)
    accept: Callable[[Dataset, int], bool] | None  # a further condition on the index
    base: int
    slot: int
    type: str
    category: str
    settles: str  # when it becomes available: TWO_DAYS, NEXT_DAY or AT_ONCE
    stride: int = 2  # txn numbers per index (a subscription's invoices: PER_SUBSCRIPTION)

    def txn(self, index: int) -> int:
        return self.base + self.stride * index + self.slot


def _flow_is(flow: PaymentFlow) -> Callable[[Dataset, int], bool]:
    return lambda ds, i: payment_flow(ds, i) is flow


CHARGE = Birth(
    "charge", ChargeEvent.SUCCEEDED, (0,), _flow_is(PaymentFlow.AUTOMATIC), 0, 0,
    "charge", "charge", TWO_DAYS,
)  # fmt: skip
CAPTURE = Birth("capture", ChargeEvent.CAPTURED, None, None, 0, 0, "charge", "charge", TWO_DAYS)
BANK = Birth("bank", ChargeEvent.SUCCEEDED, (1,), None, 0, 0, "payment", "charge", TWO_DAYS)
REFUND = Birth("refund", ChargeEvent.REFUNDED, None, None, 0, 1, "refund", "refund", NEXT_DAY)
PARTIAL = Birth(
    "partial_capture", ChargeEvent.CAPTURED, None, partial_capture, 0, 1,
    "refund", "partial_capture_reversal", NEXT_DAY,
)  # fmt: skip
DISPUTE = Birth(
    "dispute", DisputeEvent.FUNDS_WITHDRAWN, None, None, DISPUTE_BASE, 0,
    "adjustment", "dispute", NEXT_DAY,
)  # fmt: skip
DISPUTE_WON = Birth(
    "dispute_reversal", DisputeEvent.FUNDS_REINSTATED, None, None, DISPUTE_BASE, 1,
    "adjustment", "dispute_reversal", NEXT_DAY,
)  # fmt: skip
PAYOUT = Birth(
    "payout", PayoutEvent.CREATED, None, None, PAYOUT_BASE, 0, "payout", "payout", AT_ONCE
)
PAYOUT_FAILURE = Birth(
    "payout_failure", PayoutEvent.FAILED, None, None, PAYOUT_BASE, 1,
    "payout_failure", "payout_reversal", AT_ONCE,
)  # fmt: skip
# A customer's refund failed: the refunded money returns, at the refund's own rate. Stripe
# books it as an adjustment of category refund_failure (docs/mock_api.md#the-ledger).
REFUND_FAILURE = Birth(
    "refund_failure", RefundEvent.FAILED, None, None, REFUND_FAILURE_BASE, 0,
    "adjustment", "refund_failure", NEXT_DAY,
)  # fmt: skip
# A subscription invoice's payment (`subscription_charges`): a card charge like CHARGE, txn
# SUB_CHARGE_BASE + the invoice's index, born of the payment kind of the invoice's slot. The
# recovery's kind pays the failing renewal, whose slot depends on the interval (its variant).
_CHARGE_KINDS = kinds_of(CHARGE_STEP)
SUB_CHARGES = tuple(
    Birth(
        f"subscription_charge_{slot}", kind, None, None, SUB_CHARGE_BASE, slot,
        "charge", "charge", TWO_DAYS, PER_SUBSCRIPTION,
    )
    for slot, kind in enumerate(_CHARGE_KINDS[:RECOVERY])
) + tuple(
    Birth(
        f"subscription_charge_recovered_{slot}", _CHARGE_KINDS[RECOVERY],
        tuple(v for v, (interval, _) in enumerate(VARIANTS) if 2 + FAIL_RENEWAL[interval] == slot),
        None, SUB_CHARGE_BASE, slot, "charge", "charge", TWO_DAYS, PER_SUBSCRIPTION,
    )
    for slot in sorted({2 + n for n in FAIL_RENEWAL.values()})
)  # fmt: skip
_SUB_CHARGE_OF = {birth.slot: birth for birth in SUB_CHARGES[:RECOVERY]}
_SUB_RECOVERED_OF = {birth.slot: birth for birth in SUB_CHARGES[RECOVERY:]}
BIRTHS = (
    CHARGE, CAPTURE, BANK, REFUND, PARTIAL, DISPUTE, DISPUTE_WON, PAYOUT, PAYOUT_FAILURE,
    REFUND_FAILURE, *SUB_CHARGES,
)  # fmt: skip
# What goes into payouts (payouts themselves and their failures are booked apart).
PAID_OUT = tuple(b for b in BIRTHS if b.settles != AT_ONCE)
TYPES = tuple(sorted({b.type for b in BIRTHS}))

Txn = tuple[Birth, int]  # (birth, index of the object it is born of)


def decode(ds: Dataset, txn: int) -> Txn | None:
    """The transaction with this txn number, whether or not it happened."""
    if txn >= SUB_CHARGE_BASE:
        s, slot = divmod(txn - SUB_CHARGE_BASE, PER_SUBSCRIPTION)
        if slot >= RECOVERY:
            return None
        if slot == failing_renewal(ds, s):
            return _SUB_RECOVERED_OF[slot], s
        return _SUB_CHARGE_OF[slot], s
    if txn >= REFUND_FAILURE_BASE:
        i, slot = divmod(txn - REFUND_FAILURE_BASE, 2)
        return (REFUND_FAILURE, i) if slot == 0 else None
    if txn >= PAYOUT_BASE:
        p, slot = divmod(txn - PAYOUT_BASE, 2)
        return (PAYOUT, PAYOUT_FAILURE)[slot], p
    if txn >= DISPUTE_BASE:
        i, slot = divmod(txn - DISPUTE_BASE, 2)
        return (DISPUTE, DISPUTE_WON)[slot], i
    i, slot = divmod(txn, 2)
    flow = payment_flow(ds, i)
    if slot == 0:
        return {PaymentFlow.AUTOMATIC: CHARGE, PaymentFlow.MANUAL: CAPTURE}.get(flow, BANK), i
    return (REFUND if flow is PaymentFlow.AUTOMATIC else PARTIAL), i


def born_at(ds: Dataset, birth: Birth, index: int) -> int | None:
    """When the transaction is created, or None if it never is."""
    if index < 0:
        return None
    variant = ds.rule(birth.kind)(index)
    if variant is None or (birth.variants is not None and variant not in birth.variants):
        return None
    if birth.accept is not None and not birth.accept(ds, index):
        return None
    return offset_time(birth.kind.offsets[variant], ds.created(birth.kind.resource, index))


def available_on(birth: Birth, created: int) -> int:
    if birth.settles == AT_ONCE:
        return created
    days = 2 if birth.settles == TWO_DAYS else 1
    return add_business_days(created // DAY, days) * DAY


def txn_currency(ds: Dataset, birth: Birth, index: int) -> str:
    """The settlement currency, without computing the amounts."""
    if birth.base == PAYOUT_BASE:
        return SETTLEMENT_CURRENCIES[index % 2]
    if birth.base == SUB_CHARGE_BASE:
        return settlement_currency(lifecycle(ds, index).currency)
    return settlement_currency(customer_currency(ds, ds.customer_of("charges", index)))


def dispute_txn(ds: Dataset, i: int, slot: int) -> Txn:
    return (DISPUTE, DISPUTE_WON)[slot], i


# ---------------------------------------------------------------------------- amounts


def _money(ds: Dataset, birth: Birth, index: int, created: int, ids: bool = True) -> dict:
    """amount, fee, fee_details, currency, exchange_rate, source of one transaction
    (`ids=False`: without the source id, for sums)."""
    if birth.base == PAYOUT_BASE:
        amount = payout_amount(ds, index)
        return {
            "amount": -amount if birth is PAYOUT else amount,
            "fee": 0,
            "fee_details": [],
            "currency": SETTLEMENT_CURRENCIES[index % 2],
            "exchange_rate": None,
            "source": ds.ids.encode("payouts", index) if ids else None,
        }
    if birth.base == SUB_CHARGE_BASE:
        facts = _sub_charge_facts(ds, birth.txn(index) - SUB_CHARGE_BASE)
    else:
        facts = money_facts(ds, index)
    currency = facts["currency"]
    settles_in = settlement_currency(currency)
    at = created
    if birth in (DISPUTE_WON, REFUND_FAILURE):  # returns exactly what was withdrawn
        withdrawn = born_at(ds, DISPUTE if birth is DISPUTE_WON else REFUND, index)
        assert withdrawn is not None
        at = withdrawn
    rate = exchange_rate(ds, currency, at)
    fee, fee_label = 0, ""
    source_of = "charges"
    if birth.base == SUB_CHARGE_BASE:
        amount = convert(facts["amount"], currency, rate)
        fee = card_fee(amount, facts["country"], rate is not None)
        fee_label = "Stripe processing fees"
        source_of = "subscription_charges"
        index = birth.txn(index) - SUB_CHARGE_BASE  # the charge's own index
    elif birth in (CHARGE, CAPTURE, BANK):
        amount = convert(facts["amount"], currency, rate)
        captured = convert(facts["captured_amount"], currency, rate)
        if birth is BANK:
            fee = bank_fee(amount)
        else:
            charged = captured if birth is CAPTURE else amount
            fee = card_fee(charged, facts["country"], rate is not None)
        fee_label = "Stripe processing fees"
    elif birth is REFUND:
        amount = -convert(facts["refund_amount"], currency, rate)
        source_of = "refunds"
    elif birth is REFUND_FAILURE:
        amount = convert(facts["refund_amount"], currency, rate)
        source_of = "refunds"
    elif birth is PARTIAL:  # the uncaptured rest: full minus captured, exactly
        full = convert(facts["amount"], currency, rate)
        amount = -(full - convert(facts["captured_amount"], currency, rate))
        source_of = "refunds"
    else:
        amount = convert(facts["amount"], currency, rate)
        amount, fee = (-amount, DISPUTE_FEE) if birth is DISPUTE else (amount, -DISPUTE_FEE)
        fee_label = "Dispute fee" if birth is DISPUTE else "Dispute fee refund"
        source_of = "disputes"
    details = []
    if fee:
        details = [
            {
                "amount": fee,
                "application": None,
                "currency": settles_in,
                "description": fee_label,
                "type": "stripe_fee",
            }
        ]
    return {
        "amount": amount,
        "fee": fee,
        "fee_details": details,
        "currency": settles_in,
        "exchange_rate": rate,
        "source": ds.ids.encode(source_of, index) if ids else None,
    }


def _sub_charge_facts(ds: Dataset, inv: int) -> dict:
    """The money facts of subscription invoice `inv`'s charge (as `money_facts` has them)."""
    customer = lifecycle(ds, inv // PER_SUBSCRIPTION).customer
    return {
        "currency": lifecycle(ds, inv // PER_SUBSCRIPTION).currency,
        "country": customer_facts(ds, customer)["country"],
        "amount": amount_due(ds, inv),
    }


def net_of(ds: Dataset, birth: Birth, index: int, created: int) -> int:
    money = _money(ds, birth, index, created, ids=False)
    return money["amount"] - money["fee"]


def render_txn(ds: Dataset, txn: Txn, now: int) -> dict:
    """The balance transaction as of `now` (status: pending until available_on)."""
    birth, index = txn
    created = born_at(ds, birth, index)
    assert created is not None, f"{birth.name} {index} never happens"
    money = _money(ds, birth, index, created)
    available = available_on(birth, created)
    rate: Decimal | None = money["exchange_rate"]
    return {
        "id": ds.ids.encode("balance_transactions", birth.txn(index)),
        "object": "balance_transaction",
        "amount": money["amount"],
        "available_on": available,
        "created": created,
        "currency": money["currency"],
        "description": _description(birth, index),
        "exchange_rate": None if rate is None else float(rate),
        "fee": money["fee"],
        "fee_details": money["fee_details"],
        "net": money["amount"] - money["fee"],
        "reporting_category": birth.category,
        "source": money["source"],
        "status": "available" if available <= now else "pending",
        "type": birth.type,
    }


def _description(birth: Birth, index: int) -> str | None:
    if birth.base == SUB_CHARGE_BASE:  # a charge's transaction carries its description
        return sub_charge_description(birth.slot)
    return _DESCRIPTION.get(birth.name)


_DESCRIPTION = {
    "refund": "REFUND FOR CHARGE",
    "partial_capture": "Partial capture reversal",
    "dispute": "Chargeback withdrawal",
    "dispute_reversal": "Chargeback reversal",
    "payout": "STRIPE PAYOUT",
    "payout_failure": "Payout failure",
    "refund_failure": "REFUND FAILURE",
}


# ---------------------------------------------------------------------------- streams

Ref = tuple[int, int, Birth, int]  # (created, txn, birth, index): the list's sort key first


def _stream(
    ds: Dataset, birth: Birth, variant: int, low_t: int, high_t: int, ascending: bool
) -> Iterator[Ref]:
    """Transactions of one (birth, variant) created in [low_t, high_t], in key order: the
    birth kind's event stream (txn, like the event's seq, is monotone in the index)."""
    for ref in event_stream(ds, birth.kind, variant, low_t, high_t, ascending, None):
        if birth.accept is not None and not birth.accept(ds, ref.index):
            continue
        yield ref.created, birth.txn(ref.index), birth, ref.index


def _merged(
    ds: Dataset, births: tuple[Birth, ...], low_t: int, high_t: int, ascending: bool
) -> Iterator[Ref]:
    streams = [
        _stream(ds, birth, variant, low_t, high_t, ascending)
        for birth in births
        for variant in (birth.variants or range(len(birth.kind.offsets)))
    ]
    return heapq.merge(*streams, reverse=not ascending)


# ---------------------------------------------------------------------------- payouts' books


def _day_items(ds: Dataset, day: int, failures: bool) -> dict[str, list[Ref]]:
    """Per currency, the transactions that become available on business day `day` before
    its payouts: those available at midnight, and the failure of the day before's payout."""
    out: dict[str, list[Ref]] = {currency: [] for currency in SETTLEMENT_CURRENCIES}
    for settles in (TWO_DAYS, NEXT_DAY):
        # The creation days that settle on `day`: a contiguous run before it.
        lag = 2 if settles == TWO_DAYS else 1
        days = [d for d in range(day - 7, day) if add_business_days(d, lag) == day]
        if not days:
            continue
        births = tuple(b for b in PAID_OUT if b.settles == settles)
        for ref in _merged(ds, births, days[0] * DAY, days[-1] * DAY + DAY - 1, True):
            out[txn_currency(ds, ref[2], ref[3])].append(ref)
    if failures:
        line = timeline(ds)
        previous = previous_business_day(day)
        for currency in SETTLEMENT_CURRENCIES:
            p = line.payout_of(previous, currency)
            created = born_at(ds, PAYOUT_FAILURE, p) if p >= 0 else None
            if created is not None:
                out[currency].append((created, PAYOUT_FAILURE.txn(p), PAYOUT_FAILURE, p))
    return out


# (day, failures) keys per memo (items, nets): decades of days, so in practice every day asked.
DAY_MEMO_MAX = 20_000


def day_items(ds: Dataset, day: int, failures: bool = True) -> dict[str, list[Ref]]:
    """`_day_items`, cached: balances and payouts ask for the same days again and again."""
    cache: dict = ds.ledger_cache.setdefault("items", {})
    key = (day, failures)
    found = cache.get(key)
    if found is None:
        found = keep(cache, key, _day_items(ds, day, failures), DAY_MEMO_MAX)
    return found


def day_nets(ds: Dataset, day: int, failures: bool = True) -> dict[str, list[tuple[Ref, int]]]:
    """`day_items` with each transaction's net, cached likewise."""
    cache: dict = ds.ledger_cache.setdefault("nets", {})
    key = (day, failures)
    found = cache.get(key)
    if found is None:
        nets = {
            currency: [(ref, net_of(ds, ref[2], ref[3], ref[0])) for ref in refs]
            for currency, refs in day_items(ds, day, failures).items()
        }
        found = keep(cache, key, nets, DAY_MEMO_MAX)
    return found


def _books(ds: Dataset, day: int) -> dict[str, tuple[int, int]]:
    """Per currency (carried in, amount) of business day `day`'s payout: the amount is paid
    out if positive, else carried to the next business day. Cached; computed in day order
    from the account's first day, each day once."""
    cache: dict[int, dict[str, tuple[int, int]]] = ds.ledger_cache.setdefault("books", {})
    if day in cache:
        return cache[day]
    first = timeline(ds).first_day
    todo = []
    cursor = day
    while cursor >= first and cursor not in cache:
        todo.append(cursor)
        cursor = previous_business_day(cursor)
    for current in reversed(todo):
        previous = previous_business_day(current)
        before = cache.get(previous, {})
        items = day_nets(ds, current)
        books = {}
        for currency in SETTLEMENT_CURRENCIES:
            carried = before.get(currency, (0, 0))[1]
            carried = carried if carried <= 0 else 0
            total = sum(net for _, net in items[currency])
            books[currency] = (carried, carried + total)
        cache[current] = books
    return cache[day]


def payout_amount(ds: Dataset, p: int) -> int:
    """What payout p pays (0: no payout that day, in that currency)."""
    day, currency = timeline(ds).day_of(p)
    if p < 0 or not is_business_day(day):
        return 0
    return max(0, _books(ds, day)[currency][1])


def payout_items(ds: Dataset, p: int) -> list[Ref]:
    """The transactions payout p pays out: its day's, and those of earlier days carried to
    it (days without a payout). They sum to the payout's amount."""
    day, currency = timeline(ds).day_of(p)
    refs = list(day_items(ds, day)[currency])
    carried = _books(ds, day)[currency][0]
    first = timeline(ds).first_day
    cursor = day
    while True:
        cursor = previous_business_day(cursor)
        if cursor < first or _books(ds, cursor)[currency][1] > 0:
            break
        refs.extend(day_items(ds, cursor)[currency])
    assert carried <= 0
    return refs


# ---------------------------------------------------------------------------- balance


def _payout_time(ds: Dataset, day: int, currency: str) -> int:
    return ds.created("payouts", timeline(ds).payout_of(day, currency))


def balance_amounts(ds: Dataset, at: int) -> dict[str, tuple[int, int]]:
    """Per settlement currency (available, pending) at `at`: the nets of transactions
    available by then (payouts deducted), and of those created but not yet available."""
    first = timeline(ds).first_day
    out = {}
    for currency in SETTLEMENT_CURRENCIES:
        day = at // DAY
        while not (is_business_day(day) and _payout_time(ds, day, currency) <= at):
            day -= 1
        available = 0
        if day >= first:
            available = min(0, _books(ds, day)[currency][1])  # paid out, or carried
        next_day = add_business_days(max(day, first - 1), 1)
        for (created, _, birth, _), net in day_nets(ds, next_day)[currency]:
            if available_on(birth, created) <= at and created <= at:
                available += net
        pending = 0
        horizon = at // DAY
        for future in range(horizon, horizon + 10):
            if not is_business_day(future) or future * DAY <= at:
                continue
            for (created, _, _, _), net in day_nets(ds, future, failures=False)[currency]:
                if created <= at:
                    pending += net
        out[currency] = (available, pending)
    return out


def balance(ds: Dataset, at: int) -> dict:
    """GET /v1/balance at `at`."""
    amounts = balance_amounts(ds, at)

    def entries(slot: int) -> list[dict]:
        return [
            {"amount": pair[slot], "currency": currency, "source_types": {"card": pair[slot]}}
            for currency, pair in amounts.items()
        ]

    return {"object": "balance", "available": entries(0), "livemode": False, "pending": entries(1)}


# ---------------------------------------------------------------------------- the API


def resolve(ds: Dataset, txn_id: str, now: int, param: str = "id") -> tuple[Txn, int]:
    """((birth, index), created) of a transaction id that exists at `now`."""
    decoded = ds.ids.decode(txn_id)
    if decoded is not None and decoded[0] == "balance_transactions":
        txn = decode(ds, decoded[1])
        if txn is not None:
            created = born_at(ds, *txn)
            if created is not None and created <= now:
                return txn, created
    status = 404 if param == "id" else 400
    raise MockError(
        status, f"No such balance_transaction: '{txn_id}'", code="resource_missing", param=param
    )


def retrieve(ds: Dataset, txn_id: str, now: int) -> dict:
    txn, _ = resolve(ds, txn_id, now)
    return render_txn(ds, txn, now)


def list_page(
    ds: Dataset,
    now: int,
    *,
    limit: int = 10,
    starting_after: str | None = None,
    ending_before: str | None = None,
    created: CreatedFilter = ALL_TIME,
    txn_type: str | None = None,
    payout: str | None = None,
    currency: str | None = None,
) -> Page:
    """GET /v1/balance_transactions, newest first by (created, txn), as Stripe pages."""
    low_t = 0 if created.gte is None else created.gte
    high_t = now if created.lte is None else min(now, created.lte)
    births = tuple(b for b in BIRTHS if txn_type is None or b.type == txn_type)

    def locate(cursor: str, param: str) -> tuple[int, int]:
        (birth, index), at = resolve(ds, cursor, now, param)
        return at, birth.txn(index)

    def walk(bound: tuple[int, int] | None, ascending: bool) -> Iterator[Ref]:
        low, high = clip_times(low_t, high_t, bound, ascending)
        refs: Iterable[Ref]
        if payout is not None:  # a payout's few items: sorted whole, then filtered
            items = (ref for ref in _payout_refs(ds, payout, now) if ref[2] in births)
            refs = sorted(items, reverse=not ascending)
        else:
            refs = _merged(ds, births, low, high, ascending)
        for ref in refs:
            if not low <= ref[0] <= high or not beyond(ref[:2], bound, ascending):
                continue
            if currency is not None and txn_currency(ds, ref[2], ref[3]) != currency:
                continue
            yield ref

    return cursor_page(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        locate=locate,
        walk=walk,
        render=lambda ref: render_txn(ds, (ref[2], ref[3]), now),
    )


def _payout_refs(ds: Dataset, payout_id: str, now: int) -> list[Ref]:
    try:
        _, p = ds.resolve(payout_id, now, "payouts")
    except MockError:
        raise MockError(
            400, f"No such payout: '{payout_id}'", code="resource_missing", param="payout"
        ) from None
    return payout_items(ds, p)


def all_transactions(ds: Dataset, now: int) -> list[dict]:
    """Every balance transaction created by `now`, newest first (for tests; materialises)."""
    return [
        render_txn(ds, (birth, index), now)
        for _, _, birth, index in _merged(ds, BIRTHS, 0, now, False)
    ]


def daily_truth(ds: Dataset, now: int) -> dict[tuple[str, str], dict[str, int]]:
    """The account's own books, for tests: per (currency, UTC day of `created`) the sums of
    amount, fee and net, what was paid out (payouts less their failures), and the balance
    (available, pending) at the day's end (or at `now` for today)."""
    import datetime as dt

    days: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"amount": 0, "fee": 0, "net": 0, "payouts": 0, "count": 0}
    )
    for txn in all_transactions(ds, now):
        day = txn["created"] // DAY
        iso = dt.datetime.fromtimestamp(day * DAY, dt.UTC).date().isoformat()
        row = days[(txn["currency"], iso)]
        row["amount"] += txn["amount"]
        row["fee"] += txn["fee"]
        row["net"] += txn["net"]
        row["count"] += 1
        if txn["type"] in ("payout", "payout_failure"):
            row["payouts"] -= txn["amount"]
    for (currency, iso), row in days.items():
        end = int(dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp()) + DAY - 1
        row["available"], row["pending"] = balance_amounts(ds, min(end, now))[currency]
    return dict(days)
