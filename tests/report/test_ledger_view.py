"""The ledger's summary lines and report view on a small hand-built warehouse: exponents 0 and
3, a payout that does not add up, and a warehouse without the ledger models. (Real figures
against the mock's own books: test_report.py.)"""

from __future__ import annotations

import re

import duckdb
import pytest

from extractor.demo import print_ledger
from extractor.report import ledger
from extractor.transform.ledger_summary import LedgerNotBuilt, read_ledger, text_lines

TABLES = """
create table currency_exponents as
    select * from (values ('jpy', 0), ('kwd', 3), ('usd', 2)) as t(currency, exponent);
create table fct_balance_transactions as select * from (values
    ('kwd', 'charge', 10000, 320, 9680, timestamp '2026-01-05 10:00:00'),
    ('kwd', 'refund', -2500, 0, -2500, timestamp '2026-01-06 09:00:00'),
    ('kwd', 'dispute', -4000, 4500, -8500, timestamp '2026-01-06 11:00:00'),
    ('kwd', 'payout', -5000, 0, -5000, timestamp '2026-01-06 12:00:00'),
    ('jpy', 'charge', 5000, 175, 4825, timestamp '2026-01-05 10:00:00'),
    ('jpy', 'partial_capture_reversal', -1000, 0, -1000, timestamp '2026-01-05 10:00:00'),
    ('jpy', 'payout', -3825, 0, -3825, timestamp '2026-01-07 00:00:00'),
    ('jpy', 'payout_reversal', 3825, 0, 3825, timestamp '2026-01-07 05:00:00'),
    ('jpy', 'adjustment_of_a_new_kind', 7, 0, 7, timestamp '2026-01-07 05:00:00')
) as t(currency, reporting_category, amount_minor, fee_minor, net_minor, created_at);
create table agg_daily_balance as select * from (values
    ('kwd', date '2026-01-05', 9680), ('kwd', date '2026-01-06', -6320),
    ('jpy', date '2026-01-05', 3825), ('jpy', date '2026-01-06', 3825),
    ('jpy', date '2026-01-07', 3832)
) as t(currency, balance_date, closing_minor);
create table fct_payouts as select * from (values
    ('po_2', 'kwd', 'paid', false), ('po_1', 'jpy', 'failed', true), ('po_3', 'kwd', 'paid', true)
) as t(payout_id, currency, status, is_reconciled);
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(TABLES)
    return connection


def test_figures_per_currency_with_its_own_exponent(con) -> None:
    jpy, kwd = read_ledger(con)
    assert (jpy.currency, jpy.exponent, kwd.currency, kwd.exponent) == ("jpy", 0, "kwd", 3)
    assert kwd.totals == {
        "gross": 10000,
        "refunds": -2500,
        "disputes": -4000,
        "other": 0,
        "fees": -4820,
        "net": -1320,
        "paid_out": -5000,
    }
    # A partial capture's reversal lowers gross; an unknown category is `other`, not lost.
    assert jpy.totals["gross"] == 4000 and jpy.totals["other"] == 7
    assert jpy.totals["paid_out"] == 0  # the failed payout's money came back
    assert str(kwd.major(kwd.totals["fees"])) == "-4.820"
    assert str(jpy.major(jpy.totals["net"])) == "3832"
    assert (kwd.balance_date.isoformat(), kwd.balance_minor) == ("2026-01-06", -6320)
    assert (kwd.payouts, kwd.reconciled, kwd.not_reconciled) == (2, 1, [("po_2", "paid")])


def test_demo_lines_name_the_payout_that_does_not_add_up(con, capsys) -> None:
    print_ledger(con)
    out = capsys.readouterr().out
    rows = {
        cells[0]: cells[1:]
        for cells in (re.split(r"\s{2,}", line.strip()) for line in out.splitlines())
    }
    assert rows["settlement currency"] == ["jpy", "kwd"]
    assert rows["gross captured"] == ["4000", "10.000"]
    assert rows["fees"] == ["-175", "-4.820"]
    assert rows["net (after fees)"] == ["3832", "-1.320"]
    assert rows["paid out"] == ["0", "-5.000"]
    assert rows["balance at end"] == ["3832", "-6.320"]
    assert rows["payouts reconciled"] == ["1 of 1", "1 of 2"]
    assert "NOT reconciled: kwd po_2 (paid)" in out


def test_report_view_table_and_charts(con) -> None:
    html = ledger(con)
    assert '<td>kwd</td><td class="n">10.000</td>' in html
    assert "<td>1 of 2</td><td>po_2 (paid)</td>" in html
    assert "<td>1 of 1</td><td>none</td>" in html
    assert html.count('<svg class="ledger-chart"') == 2
    assert "<title>2026-01-06: fees -4.500 kwd</title>" in html
    assert "<title>2026-01-07: balance 3832 jpy</title>" in html


def test_without_the_ledger_models_both_say_so(capsys) -> None:
    con = duckdb.connect()
    con.execute("create table fct_payouts (payout_id varchar)")
    with pytest.raises(LedgerNotBuilt, match="fct_balance_transactions, agg_daily_balance"):
        read_ledger(con)
    print_ledger(con)
    out = capsys.readouterr().out
    assert "ledger models not built (fct_balance_transactions, agg_daily_balance)" in out
    assert "ledger models not built" in ledger(con)
    assert list(text_lines([])) == ["  no balance transactions or payouts extracted yet"]


def test_without_the_exponent_seed_it_says_so(con) -> None:
    con.execute("drop table currency_exponents")
    with pytest.raises(LedgerNotBuilt, match=r"ledger models not built \(currency_exponents\)"):
        read_ledger(con)
