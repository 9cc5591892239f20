"""The payment-side Gold of the ledger (fct_payments' settlement, fct_refunds, fct_disputes,
agg_daily_revenue by activity date) against figures computed in Python from the mock's own
objects and balance transactions (tests/dbt/expected_settlement.py), to the minor unit.

Not collected on its own (no test_ prefix): test_pipeline_local.py imports these tests so
they run on its shared lake (`lake`, `expected` fixtures) instead of building another.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

from tests.dbt.expected import major
from tests.dbt.expected_ledger import convert
from tests.dbt.lake_queries import gold, rows


def test_payments_settle_as_the_ledger_says(lake: Path, expected) -> None:
    """Per charge: settlement currency, rate, captured amount after conversion (a partial
    capture's rest taken off), fee, refunds and Stripe's net."""
    ledger = expected.ledger
    got = {
        r[0]: r[1:]
        for r in rows(
            f"""
            select charge_id, settlement_currency, exchange_rate, captured_settlement_minor,
                   fee_minor, refunded_settlement_minor, net_settlement_minor,
                   cast(captured_date as varchar)
            from {gold(lake, "fct_payments")}
            """
        )
    }
    want = {
        charge_id: (
            s.currency,
            s.exchange_rate,
            s.captured,
            s.fee,
            s.refunded,
            s.net,
            s.captured_date,
        )
        for charge_id, s in ledger.settled.items()
    }
    assert got == want
    # FX rounding, computed here from the presentment amount captured and the rate.
    converted = Counter()
    for charge_id, (settles_in, rate, captured, *_) in got.items():
        payment = expected.payments[charge_id]
        if rate is not None and captured is not None:
            assert captured == convert(payment.captured, payment.currency, settles_in, rate)
            converted[payment.currency] += 1
    assert {"jpy", "kwd", "krw", "gbp"} <= set(converted), converted
    partial = rows(
        f"""
        select count(*) from {gold(lake, "fct_payments")}
        where captured_minor between 1 and amount_minor - 1
            and captured_settlement_minor is not null and settlement_currency <> currency
        """
    )[0][0]
    assert partial > 0, "a converted partial capture makes the rest's rounding matter"


def test_settlement_figures_carry_exact_major_units(lake: Path) -> None:
    sample = rows(
        f"""
        select settlement_currency, captured_settlement_minor, captured_settlement, fee_minor,
               fee, net_settlement_minor, net_settlement
        from {gold(lake, "fct_payments")}
        where settlement_currency is not null
        union all
        select settlement_currency, withdrawn_settlement_minor, withdrawn_settlement,
               fee_minor, fee, net_settlement_minor, net_settlement
        from {gold(lake, "fct_disputes")}
        where net_settlement_minor is not null
        """
    )
    assert {row[0] for row in sample} == {"usd", "eur"}
    for currency, *pairs in sample:
        for minor, value in zip(pairs[::2], pairs[1::2], strict=True):
            assert value == major(minor, currency)


def test_refunds_are_dated_when_refunded(lake: Path, expected) -> None:
    ledger = expected.ledger
    got = {
        r[0]: r[1:]
        for r in rows(
            f"""
            select refund_id, charge_id, refund_kind, status, reason, currency, amount_minor,
                   cast(refunded_date as varchar), settlement_currency,
                   settlement_amount_minor, is_after_payout, failure_reason,
                   failure_returned_settlement_minor
            from {gold(lake, "fct_refunds")}
            """
        )
    }
    want = {
        refund_id: (
            r.charge_id,
            r.kind,
            r.status,
            r.reason,
            r.currency,
            r.amount,
            r.refunded_date,
            r.settlement_currency,
            r.settlement_amount,
            r.is_after_payout,
            r.failure_reason,
            r.returned,
        )
        for refund_id, r in ledger.refunds.items()
    }
    assert got == want
    assert {r.kind for r in ledger.refunds.values()} == {
        "customer",
        "uncaptured_rest",
        "expired_authorisation",
    }
    assert {r.is_after_payout for r in ledger.refunds.values()} == {True, False}
    assert {r.status for r in ledger.refunds.values()} == {"pending", "succeeded", "failed"}
    later = rows(
        f"""
        select count(*) from {gold(lake, "fct_refunds")} as refunds
        inner join {gold(lake, "fct_payments")} as payments using (charge_id)
        where refunds.refunded_date > payments.created_date
        """
    )[0][0]
    assert later > 0


def test_disputes_carry_outcome_fee_and_funds(lake: Path, expected) -> None:
    ledger = expected.ledger
    got = {
        r[0]: r[1:]
        for r in rows(
            f"""
            select dispute_id, charge_id, status, outcome, reason, currency, amount_minor,
                   settlement_currency, withdrawn_settlement_minor, fee_minor,
                   reinstated_settlement_minor, fee_reinstated_minor, net_settlement_minor,
                   cast(opened_date as varchar), cast(closed_date as varchar)
            from {gold(lake, "fct_disputes")}
            """
        )
    }
    want = {
        dispute_id: (
            d.charge_id,
            d.status,
            d.outcome,
            d.reason,
            d.currency,
            d.amount,
            d.settlement_currency,
            d.withdrawn,
            d.fee,
            d.reinstated,
            d.fee_reinstated,
            d.net,
            d.opened_date,
            d.closed_date,
        )
        for dispute_id, d in ledger.disputes.items()
    }
    assert got == want
    assert {d.outcome for d in ledger.disputes.values()} == {"open", "won", "lost"}
    assert any(d.outcome == "won" and d.reinstated for d in ledger.disputes.values())
    assert any(d.outcome == "open" and d.net is not None for d in ledger.disputes.values())


def test_daily_revenue_books_money_on_its_activity_date(lake: Path, expected) -> None:
    """Presentment figures per (activity date, currency), and fees and nets per settlement
    currency and day equal to the ledger's own books (payouts left out)."""
    ledger = expected.ledger
    columns = (
        "gross_minor",
        "captured_count",
        "refunded_minor",
        "refund_count",
        "disputed_minor",
        "dispute_count",
        "dispute_reinstated_minor",
        "cohort_refunded_minor",
    )
    got = {
        (day, currency): dict(zip(columns, figures, strict=True))
        for day, currency, *figures in rows(
            f"""
            select cast(activity_date as varchar), currency, {", ".join(columns)}
            from {gold(lake, "agg_daily_revenue")}
            """
        )
    }
    want = {key: {c: row.get(c, 0) for c in columns} for key, row in ledger.daily.items()}
    assert got == want
    books = {
        (day, currency): (fee, net)
        for day, currency, fee, net in rows(
            f"""
            select cast(activity_date as varchar), settlement_currency,
                   sum(fee_minor)::bigint, sum(net_settlement_minor)::bigint
            from {gold(lake, "agg_daily_revenue")}
            where settlement_currency is not null
            group by 1, 2
            """
        )
    }
    assert books == ledger.books
    assert {currency for _, currency in books} == {"usd", "eur"}
    # A day's refunds and disputes are not the refunds of that day's charges.
    moved = [v for v in want.values() if v["refunded_minor"] != v["cohort_refunded_minor"]]
    assert moved
    fee = rows(
        f"select sum(fee), sum(fee_minor) from {gold(lake, 'agg_daily_revenue')} "
        "where settlement_currency = 'usd'"
    )[0]
    assert fee[0] == Decimal(fee[1]).scaleb(-2)
