"""The account's money rules: settlement currency, daily exchange rates, fees, business days.

Pure functions of (seed, day, amounts); the rules and their Stripe sources are in
docs/mock_api.md#the-ledger. Every amount is an integer in a currency's minor unit, and all
arithmetic is Decimal, so jpy (exponent 0) and kwd (exponent 3) come out exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import TYPE_CHECKING

from mock_api.dataset.config import DAY
from mock_api.dataset.reference import CURRENCY_EXPONENT
from mock_api.dataset.schedule import EPOCH_WEEKDAY

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

# The account is a US account with a euro bank account too: usd and eur settle as they are,
# every other presentment currency is converted to usd.
ACCOUNT_COUNTRY = "US"
SETTLEMENT_CURRENCIES = ("usd", "eur")
CONVERTED_TO = "usd"
# USD per one major unit, the centre of each currency's daily rate.
BASE_RATE = {
    "gbp": Decimal("1.27"),
    "jpy": Decimal("0.0067"),
    "krw": Decimal("0.00075"),
    "kwd": Decimal("3.25"),
}
RATE_SWING = 1000  # the daily rate moves within +-1.000% of its centre
RATE_DIGITS = Context(prec=6)  # rates carry 6 significant digits, like Stripe's

CARD_PERCENT = Decimal("0.029")
CARD_FIXED = 30  # minor units of the settlement currency
INTERNATIONAL_PERCENT = Decimal("0.015")
CONVERSION_PERCENT = Decimal("0.01")
BANK_PERCENT = Decimal("0.008")
BANK_CAP = 500
DISPUTE_FEE = 1500

# Unix seconds of 1970-01-01 is a Thursday; Monday = 0.
SATURDAY = 5


def settlement_currency(currency: str) -> str:
    return currency if currency in SETTLEMENT_CURRENCIES else CONVERTED_TO


def round_minor(value: Decimal) -> int:
    """Half up to a whole minor unit (Stripe rounds fees and conversions to the minor unit)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def exchange_rate(ds: Dataset, currency: str, at: int) -> Decimal | None:
    """Settlement units per presentment unit on the UTC day of `at`; None if not converted."""
    if settlement_currency(currency) == currency:
        return None
    day = at // DAY
    swing = ds.keys.h(f"fx:{currency}", day) % (2 * RATE_SWING + 1) - RATE_SWING
    return RATE_DIGITS.create_decimal(BASE_RATE[currency] * (1 + Decimal(swing) / 100_000))


def convert(amount: int, currency: str, rate: Decimal | None) -> int:
    """`amount` (minor units of `currency`) in its settlement currency's minor units."""
    if rate is None:
        return amount
    target = settlement_currency(currency)
    major = Decimal(amount).scaleb(-CURRENCY_EXPONENT[currency])
    return round_minor((major * rate).scaleb(CURRENCY_EXPONENT[target]))


def card_fee(settled: int, card_country: str, converted: bool) -> int:
    """2.9% + 30 (+1.5% international card, +1% converted) of the settled amount."""
    percent = CARD_PERCENT
    if card_country != ACCOUNT_COUNTRY:
        percent += INTERNATIONAL_PERCENT
    if converted:
        percent += CONVERSION_PERCENT
    return round_minor(settled * percent) + CARD_FIXED


def bank_fee(settled: int) -> int:
    """0.8% capped at 5.00 (ACH Direct Debit; the mock applies it to SEPA debits too)."""
    return min(BANK_CAP, round_minor(settled * BANK_PERCENT))


def is_business_day(day: int) -> bool:
    return (day + EPOCH_WEEKDAY) % 7 < SATURDAY


def add_business_days(day: int, n: int) -> int:
    """The n-th business day after `day` (n >= 1)."""
    while n:
        day += 1
        n -= is_business_day(day)
    return day


def previous_business_day(day: int) -> int:
    day -= 1
    while not is_business_day(day):
        day -= 1
    return day
