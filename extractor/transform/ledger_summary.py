"""The ledger per settlement currency, for `make demo`'s summary and the run report.

One reading of Gold that both show, so they cannot disagree. It touches few columns, so the
models can grow without breaking it: `fct_balance_transactions` (currency, reporting_category,
amount_minor, fee_minor, net_minor, created_at), `fct_payouts` (payout_id, currency, status,
is_reconciled), `agg_daily_balance` (currency, balance_date, closing_minor) and the
`currency_exponents` seed.

Every figure is signed as it moves the balance (docs/finance.md): gross captured + refunds +
disputes + other − fees = net (Stripe's net, after fees), and net + paid out = the change of
the balance. Payouts and their failures are the only movements outside net.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MODELS = ("fct_balance_transactions", "fct_payouts", "agg_daily_balance")
SEED = "currency_exponents"
NOT_BUILT = (
    "ledger models not built ({missing}): run `payments-pipeline run-transforms` "
    "on a lake with the ledger extracted"
)
# Reporting categories (Stripe's) per summary line; any other category lands in `other`.
CATEGORIES = {
    "gross": ("charge", "partial_capture_reversal"),  # captured = charged less uncaptured part
    "refunds": ("refund", "refund_failure"),
    "disputes": ("dispute", "dispute_reversal"),
    "paid_out": ("payout", "payout_reversal"),  # a failed payout's money comes back
}
# The movements of a day, in the order they are shown.
FIGURES = ("gross", "refunds", "disputes", "other", "fees", "net", "paid_out")
LABELS = {
    "gross": "gross captured",
    "refunds": "refunds",
    "disputes": "disputes",
    "other": "other",
    "fees": "fees",
    "net": "net (after fees)",
    "paid_out": "paid out",
}


class LedgerNotBuilt(Exception):
    """The warehouse has no ledger models yet; the message says which and what to do."""


@dataclass
class CurrencyLedger:
    """One settlement currency's ledger: totals and daily figures in minor units."""

    currency: str
    exponent: int
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))
    days: dict[date, dict[str, int]] = field(default_factory=dict)
    closing: dict[date, int] = field(default_factory=dict)  # agg_daily_balance's closing
    payouts: int = 0
    reconciled: int = 0
    not_reconciled: list[tuple[str, str]] = field(default_factory=list)  # (payout id, status)

    def major(self, minor: int) -> Decimal:
        """Minor units in major units with the currency's own exponent, exactly."""
        return Decimal(minor).scaleb(-self.exponent)

    @property
    def balance_date(self) -> date | None:
        return max(self.closing) if self.closing else None

    @property
    def balance_minor(self) -> int | None:
        return self.closing[self.balance_date] if self.closing else None


def _in(categories: Iterable[str]) -> str:
    return "reporting_category in (" + ", ".join(f"'{c}'" for c in categories) + ")"


def _daily_sql() -> str:
    sums = [
        f"sum(case when {_in(CATEGORIES[name])} then amount_minor else 0 end) as {name}"
        for name in ("gross", "refunds", "disputes")
    ]
    known = _in(c for cats in CATEGORIES.values() for c in cats)
    payout = _in(CATEGORIES["paid_out"])
    sums += [
        f"sum(case when not {known} then amount_minor else 0 end) as other",
        f"sum(case when not {payout} then -fee_minor else 0 end) as fees",
        f"sum(case when not {payout} then net_minor else 0 end) as net",
        f"sum(case when {payout} then net_minor else 0 end) as paid_out",
    ]
    return (
        f"select currency, cast(created_at as date) as day, {', '.join(sums)} "
        "from fct_balance_transactions group by 1, 2 order by 1, 2"
    )


def _missing(con: duckdb.DuckDBPyConnection) -> list[str]:
    present = {
        row[0]
        for row in con.sql(
            "select table_name from information_schema.tables where table_name in "
            "(" + ", ".join(f"'{m}'" for m in MODELS) + ")"
        ).fetchall()
    }
    return [m for m in MODELS if m not in present]


def _seed(con: duckdb.DuckDBPyConnection) -> str:
    """The exponent seed, in whichever schema dbt put the seeds (`main_seeds` by default)."""
    found = con.sql(
        "select table_schema from information_schema.tables "
        f"where table_name = '{SEED}' order by table_schema <> 'main', table_schema limit 1"
    ).fetchone()
    if found is None:
        raise LedgerNotBuilt(NOT_BUILT.format(missing=SEED))
    return f'"{found[0]}".{SEED}'


def read_ledger(con: duckdb.DuckDBPyConnection) -> list[CurrencyLedger]:
    """Every settlement currency's ledger, by currency; LedgerNotBuilt without the models."""
    missing = _missing(con)
    if missing:
        raise LedgerNotBuilt(NOT_BUILT.format(missing=", ".join(missing)))
    exponents = dict(con.sql(f"select currency, exponent from {_seed(con)}").fetchall())
    ledgers: dict[str, CurrencyLedger] = {}

    def ledger(currency: str) -> CurrencyLedger:
        if currency not in ledgers:
            if currency not in exponents:
                raise LedgerNotBuilt(f"currency {currency!r} is not in currency_exponents")
            ledgers[currency] = CurrencyLedger(currency, int(exponents[currency]))
        return ledgers[currency]

    for currency, day, *values in con.sql(_daily_sql()).fetchall():
        one = ledger(currency)
        one.days[day] = {name: int(v) for name, v in zip(FIGURES, values, strict=True)}
        for name, value in one.days[day].items():
            one.totals[name] += value
    for currency, day, closing in con.sql(
        "select currency, balance_date, closing_minor from agg_daily_balance"
    ).fetchall():
        ledger(currency).closing[day] = int(closing)
    for payout_id, currency, status, reconciled in con.sql(
        "select payout_id, currency, status, coalesce(is_reconciled, false) from fct_payouts "
        "order by payout_id"
    ).fetchall():
        one = ledger(currency)
        one.payouts += 1
        if reconciled:
            one.reconciled += 1
        else:
            one.not_reconciled.append((payout_id, status))
    return [ledgers[c] for c in sorted(ledgers)]


def reconciled_text(one: CurrencyLedger) -> str:
    return f"{one.reconciled} of {one.payouts}"


def text_lines(ledgers: list[CurrencyLedger]) -> Iterator[str]:
    """The demo's summary: one column per settlement currency, one row per figure."""
    if not ledgers:
        yield "  no balance transactions or payouts extracted yet"
        return

    def row(label: str, cells: Iterable[object]) -> str:
        return f"  {label:<22}" + "".join(f"{str(cell):>{width}}" for cell in cells)

    width = max(14, *(len(str(o.major(v))) + 2 for o in ledgers for v in o.totals.values()))
    yield row("settlement currency", (o.currency for o in ledgers))
    for name in FIGURES:
        yield row(LABELS[name], (o.major(o.totals[name]) for o in ledgers))
    yield row(
        "balance at end",
        ("" if o.balance_minor is None else o.major(o.balance_minor) for o in ledgers),
    )
    yield row("balance date", (o.balance_date or "" for o in ledgers))
    yield row("payouts reconciled", (reconciled_text(o) for o in ledgers))
    unreconciled = [(o.currency, p, s) for o in ledgers for p, s in o.not_reconciled]
    for currency, payout_id, status in unreconciled:
        yield f"  NOT reconciled: {currency} {payout_id} ({status})"
    if not unreconciled:
        yield "  every payout's balance transactions add up to its amount"
