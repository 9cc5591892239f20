"""MRR and its movements per currency, for `make demo`'s summary and the run report.

One reading of `agg_monthly_mrr` (mrr_month, currency, currency_exponent and the *_minor
movement columns, active_subscriptions) that both show, so they cannot disagree. Figures are
in minor units until shown; MRR is never added across currencies (docs/finance.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MODEL = "agg_monthly_mrr"
NOT_BUILT = (
    "MRR model not built (agg_monthly_mrr): run `payments-pipeline run-transforms` "
    "on a lake with subscriptions extracted"
)
# The month's movements, in the order they are shown; contraction and churn are positive.
MOVEMENTS = ("new", "expansion", "reactivation", "contraction", "churn")
LABELS = {
    "new": "new",
    "expansion": "expansion",
    "reactivation": "reactivation",
    "contraction": "contraction",
    "churn": "churn",
    "closing": "MRR at end",
    "arr": "ARR at end",
    "active": "subscriptions with MRR",
}


class MrrNotBuilt(Exception):
    """The warehouse has no MRR model yet; the message says what to do."""


@dataclass
class CurrencyMrr:
    """One currency's months: movements, closing MRR and subscribers, in minor units."""

    currency: str
    exponent: int
    months: dict[date, dict[str, int]] = field(default_factory=dict)

    def major(self, minor: int) -> Decimal:
        """Minor units in major units with the currency's own exponent, exactly."""
        return Decimal(minor).scaleb(-self.exponent)

    @property
    def last_month(self) -> date:
        return max(self.months)

    def total(self, movement: str) -> int:
        return sum(m[movement] for m in self.months.values())

    @property
    def closing(self) -> int:
        return self.months[self.last_month]["closing"]


def read_mrr(con: duckdb.DuckDBPyConnection) -> list[CurrencyMrr]:
    """Every currency's monthly MRR, by currency; MrrNotBuilt without the model."""
    found = con.sql(
        f"select count(*) from information_schema.tables where table_name = '{MODEL}'"
    ).fetchone()
    if not found or not found[0]:
        raise MrrNotBuilt(NOT_BUILT)
    columns = ", ".join(f"{m}_mrr_minor" for m in MOVEMENTS)
    out: dict[str, CurrencyMrr] = {}
    for currency, exponent, month, *values in con.sql(
        f"select currency, currency_exponent, mrr_month, {columns}, closing_mrr_minor, "
        f"active_subscriptions from {MODEL} where currency is not null order by 1, 3"
    ).fetchall():
        one = out.setdefault(currency, CurrencyMrr(currency, int(exponent)))
        names = (*MOVEMENTS, "closing", "active")
        one.months[month] = {n: int(v) for n, v in zip(names, values, strict=True)}
    return [out[c] for c in sorted(out)]


def text_lines(currencies: list[CurrencyMrr]) -> Iterator[str]:
    """The demo's summary: one column per currency, the movements over all months, then
    MRR, ARR and subscribers at the last month's end."""
    if not currencies:
        yield "  no subscriptions extracted yet"
        return

    def row(label: str, cells: Iterable[object]) -> str:
        return f"  {label:<24}" + "".join(f"{str(cell):>{width}}" for cell in cells)

    width = max(14, *(len(str(c.major(12 * c.closing))) + 2 for c in currencies))
    yield row("currency", (c.currency for c in currencies))
    yield row("from month", (c.months and min(c.months).strftime("%Y-%m") for c in currencies))
    for name in MOVEMENTS:
        yield row(LABELS[name], (c.major(c.total(name)) for c in currencies))
    yield row(LABELS["closing"], (c.major(c.closing) for c in currencies))
    yield row(LABELS["arr"], (c.major(12 * c.closing) for c in currencies))
    yield row(LABELS["active"], (c.months[c.last_month]["active"] for c in currencies))
    yield row("as of month", (c.last_month.strftime("%Y-%m") for c in currencies))
