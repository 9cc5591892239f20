"""The MRR summary lines and report view on a small hand-built warehouse: exponents 0 and 3,
a churn and a reactivation, and a warehouse without the MRR model. (Real figures against the
mock's billing engine: tests/dbt/test_billing_gold.py.)"""

from __future__ import annotations

import re

import duckdb
import pytest

from extractor.demo import print_mrr
from extractor.report import mrr
from extractor.transform.mrr_summary import MrrNotBuilt, read_mrr, text_lines

TABLES = """
create table agg_monthly_mrr as select * from (values
    (date '2026-01-01', 'kwd', 3, 2501, 0, 0, 0, 0, 2501, 1),
    (date '2026-02-01', 'kwd', 3, 0, 2500, 0, 0, 0, 5001, 1),
    (date '2026-01-01', 'jpy', 0, 834, 0, 0, 0, 0, 834, 1),
    (date '2026-02-01', 'jpy', 0, 0, 0, 0, 0, 834, 0, 0),
    (date '2026-03-01', 'jpy', 0, 0, 0, 900, 0, 0, 900, 1),
    (null, null, null, null, null, null, null, null, null, null)
) as t(mrr_month, currency, currency_exponent, new_mrr_minor, expansion_mrr_minor,
       reactivation_mrr_minor, contraction_mrr_minor, churn_mrr_minor, closing_mrr_minor,
       active_subscriptions);
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(TABLES)
    return connection


def test_months_per_currency_with_its_own_exponent(con) -> None:
    jpy, kwd = read_mrr(con)  # dbt's all-null row of an empty build is left out
    assert (jpy.currency, jpy.exponent, kwd.currency, kwd.exponent) == ("jpy", 0, "kwd", 3)
    assert (jpy.total("churn"), jpy.total("reactivation"), jpy.closing) == (834, 900, 900)
    assert str(kwd.major(kwd.closing)) == "5.001"
    assert kwd.last_month.isoformat() == "2026-02-01"


def test_demo_lines(con, capsys) -> None:
    print_mrr(con)
    out = capsys.readouterr().out
    rows = {
        cells[0]: cells[1:]
        for cells in (re.split(r"\s{2,}", line.strip()) for line in out.splitlines())
    }
    assert rows["currency"] == ["jpy", "kwd"]
    assert rows["new"] == ["834", "2.501"]
    assert rows["expansion"] == ["0", "2.500"]
    assert rows["churn"] == ["834", "0.000"]
    assert rows["reactivation"] == ["900", "0.000"]
    assert rows["MRR at end"] == ["900", "5.001"]
    assert rows["ARR at end"] == ["10800", "60.012"]
    assert rows["subscriptions with MRR"] == ["1", "1"]
    assert rows["as of month"] == ["2026-03", "2026-02"]


def test_report_view_table_and_a_chart_per_currency(con) -> None:
    html = mrr(con)
    assert html.count('<svg class="mrr-chart"') == 2
    assert '<td>kwd</td><td>2026-02</td><td class="n">0.000</td><td class="n">2.500</td>' in html
    assert "<title>2026-02: losses -834 jpy</title>" in html
    assert "<title>2026-03: MRR 900 jpy</title>" in html
    assert "<title>2026-02: MRR 5.001 kwd</title>" in html


def test_without_the_mrr_model_both_say_so(capsys) -> None:
    con = duckdb.connect()
    with pytest.raises(MrrNotBuilt, match="agg_monthly_mrr"):
        read_mrr(con)
    print_mrr(con)
    assert "MRR model not built (agg_monthly_mrr)" in capsys.readouterr().out
    assert "MRR model not built" in mrr(con)
    assert list(text_lines([])) == ["  no subscriptions extracted yet"]
