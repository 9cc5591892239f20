"""`payments-pipeline report`: one offline HTML page per run, checked against the Parquet the
pipeline wrote and rendered in headless Chromium (`make chromium` installs it)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from pathlib import Path

import pytest

from extractor.report import _table
from extractor.streams import ENTITY_NAMES
from extractor.transform.ledger_summary import FIGURES, LABELS
from mock_api.dataset import CURRENCY_EXPONENT, DAY, Dataset, MockConfig, parse_time
from tests.dbt.expected_books import payout_items
from tests.dbt.lake_queries import gold, rows, silver
from tests.support.cli import child_env, run_cli
from tests.support.servers import REPO_ROOT, ServerProcess, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = "2026-02-01T00:00:00Z"
# The account starts 12 days before NOW and the run extracts them all: the lake holds the
# whole history, so the ledger's balance is Stripe's and every payout's items are there.
START = "2026-01-20"
DAYS = 12
VOLUME = 50
RUN_ID = "reportrun"
GOLD = ("dim_customers", "fct_payments", "fct_invoices", "agg_daily_revenue")
ENTITIES = ENTITY_NAMES


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = start_mock_api(
        {"MOCK_NOW": NOW, "MOCK_START_DATE": START, "MOCK_VOLUME": str(VOLUME)},
        tmp_path_factory.mktemp("mock"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory, mock: ServerProcess) -> Path:
    root = tmp_path_factory.mktemp("report") / "lake"
    env = child_env(root, mock.url, LEDGER_WHOLE_HISTORY="true")
    result = run_cli("run-pipeline", "--days", str(DAYS), "--run-id", RUN_ID, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    return root


@pytest.fixture(scope="module")
def report(lake: Path, mock: ServerProcess) -> Path:
    result = run_cli("report", lake=lake, api=mock.url)
    assert result.returncode == 0, result.stderr[-3000:]
    path = lake / "_state" / "reports" / f"run_{RUN_ID}.html"
    assert result.stdout.strip() == str(path)
    assert path.is_file()
    return path


def cell_after(html: str, label: str) -> str:
    """The cell right after the cell holding `label` (a row's first number)."""
    match = re.search(rf"<td>{re.escape(label)}</td><td[^>]*>([^<]*)</td>", html)
    assert match, f"no row for {label}"
    return match.group(1)


def test_report_is_offline_only(report: Path) -> None:
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", "url(", "@import", "http://", "https://", "<img"):
        assert forbidden not in html.lower(), forbidden


def test_layers_hold_the_real_numbers(report: Path, lake: Path) -> None:
    html = report.read_text()
    for model in GOLD:
        count = rows(f"select count(*) from {gold(lake, model)}")[0][0]
        assert int(cell_after(html, model)) == count
    manifest = json.loads((lake / f"_state/manifests/run_{RUN_ID}.json").read_text())
    for entity in ENTITIES:
        lines = sum(
            p.read_bytes().count(b"\n")
            for p in lake.glob(f"bronze/source=stripe/entity={entity}/*/run_id={RUN_ID}/*.jsonl")
        )
        recorded = manifest["extract"]["entities"][entity]
        assert lines == recorded["records_list"] + recorded["records_event"] > 0
        assert int(cell_after(html, entity)) == lines
        silver_rows = rows(f"select count(*) from {silver(lake, entity)}")[0][0]
        assert f'<td>stg_stripe__{entity}</td><td class="n">{silver_rows}</td>' in html


def test_gate_steps_and_reconciliation_are_shown(report: Path, lake: Path) -> None:
    html = report.read_text()
    manifest = json.loads((lake / f"_state/manifests/run_{RUN_ID}.json").read_text())
    for section in ("extract", "transform", "quality"):
        started = manifest[section]["started_at"]
        assert f'<td>{section}</td><td><span class="succeeded">succeeded</span></td>' in html
        assert f"<td>{started}</td>" in html
    gate = manifest["quality"]
    for status, count in gate["tests"]["counts"].items():
        assert f'<td>{status}</td><td class="n">{count}</td>' in html
    assert f'<td>pass</td><td class="n">{gate["freshness"]["counts"]["pass"]}</td>' in html
    for issue in gate["failures"] + gate["warnings"]:
        assert f"<td>{issue['name']}</td>" in html
        assert escape(issue["message"]) in html
    assert "Webhook reconciliation" in html
    assert re.search(r"<td>before_first_webhook</td><td class=\"n\">\d+</td>", html)


def test_one_chart_per_settlement_currency_and_the_figures_per_currency(
    report: Path, lake: Path
) -> None:
    html = report.read_text()
    nets = rows(
        f"select settlement_currency, activity_date, sum(net_settlement) "
        f"from {gold(lake, 'agg_daily_revenue')} where settlement_currency is not null "
        "group by 1, 2 order by all"
    )
    settlement = sorted({currency for currency, _, _ in nets})
    assert settlement == ["eur", "usd"]
    assert html.count('<svg class="chart"') == len(settlement)
    for currency in settlement:
        assert f'<svg class="chart" data-currency="{currency}"' in html
        assert f"<figcaption>{currency.upper()} net per day</figcaption>" in html
    for currency, day, net in nets:
        assert f"<title>{day}: {net} {currency}</title>" in html
    presentment = rows(
        f"select distinct currency, activity_date from {gold(lake, 'agg_daily_revenue')}"
    )
    assert {"jpy", "kwd", "usd"} <= {currency for currency, _ in presentment}
    for currency, day in presentment:
        assert f"<td>{currency}</td><td>{day}</td>" in html


def test_chromium_renders_the_charts_and_tables(report: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run `make chromium` (Debian's package)"
    common = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = report.read_text()
    assert dom.stdout.count("<svg") == html.count("<svg") > 0
    assert dom.stdout.count("<rect") == html.count("<rect") > 0
    assert dom.stdout.count("<table") == html.count("<table") >= 6
    assert cell_after(dom.stdout, "fct_payments") == cell_after(html, "fct_payments")
    png = tmp_path / "report.png"
    shot = subprocess.run(
        [*common, f"--screenshot={png}", "--window-size=1200,2000", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_explicit_run_id_and_output(lake: Path, mock: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "r.html"
    result = run_cli("report", "--run-id", RUN_ID, "--out", str(out), lake=lake, api=mock.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and f"run {RUN_ID}" in out.read_text()
    missing = run_cli("report", "--run-id", "nosuchrun", lake=lake, api=mock.url)
    assert missing.returncode == 1
    assert "no manifest for run nosuchrun" in missing.stderr


def test_no_manifest_yet_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("report", lake=tmp_path / "empty", api="http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "run `payments-pipeline run-pipeline` first" in lines[0]


def test_manifest_without_warehouse_is_a_one_line_error(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "_state" / "manifests").mkdir(parents=True)
    (lake / "_state" / "manifests" / "run_x1.json").write_text('{"run_id": "x1"}')
    result = run_cli("report", lake=lake, api="http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no warehouse at" in result.stderr
    assert "run `payments-pipeline run-pipeline` first" in result.stderr


def test_cells_are_escaped() -> None:
    assert "<td>&lt;b&gt;&amp;</td>" in _table(("h",), [("<b>&",)])


# -- the ledger: fees, net, payouts, against the mock's own books --------------------------

# Stripe's reporting categories per line of the summary (docs/finance.md); payouts and their
# failures are what was paid out; any other category is `other`.
LINE = {
    "charge": "gross",
    "partial_capture_reversal": "gross",
    "refund": "refunds",
    "refund_failure": "refunds",
    "dispute": "disputes",
    "dispute_reversal": "disputes",
}
PAYOUT_CATEGORIES = ("payout", "payout_reversal")


@dataclass
class Books:
    """Per settlement currency, from the mock's objects: the totals, each day's movements,
    the balance at each day's end, and the payouts whose items add up / do not."""

    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    days: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    closing: dict[str, dict[str, int]] = field(default_factory=dict)
    payouts: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)

    def major(self, currency: str, minor: int) -> str:
        return str(Decimal(minor).scaleb(-CURRENCY_EXPONENT[currency]))


def iso_day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts // DAY * DAY, dt.UTC).date().isoformat()


@pytest.fixture(scope="module")
def books() -> Books:
    dataset, now = Dataset(MockConfig(start_date=START, volume=VOLUME)), parse_time(NOW)
    out = Books()
    by_id = {}
    for txn in dataset.all_balance_transactions(now):
        by_id[txn["id"]] = txn
        currency, day = txn["currency"], iso_day(txn["created"])
        if txn["reporting_category"] in PAYOUT_CATEGORIES:
            moves = {"paid_out": txn["net"]}
        else:
            line = LINE.get(txn["reporting_category"], "other")
            moves = {line: txn["amount"], "fees": -txn["fee"], "net": txn["net"]}
        total = out.totals.setdefault(currency, dict.fromkeys(LABELS, 0))
        daily = out.days.setdefault(currency, {}).setdefault(day, dict.fromkeys(LABELS, 0))
        for name, minor in moves.items():
            total[name] += minor
            daily[name] += minor
    # The mock's own books agree: fees and payouts per day, and the balance at NOW.
    for (currency, day), book in dataset.daily_truth(now).items():
        assert out.days[currency][day]["fees"] == -book["fee"]
        assert out.days[currency][day]["paid_out"] == -book["payouts"]
    balance = dataset.balance(now)
    for available, pending in zip(balance["available"], balance["pending"], strict=True):
        total = out.totals[available["currency"]]
        assert total["net"] + total["paid_out"] == available["amount"] + pending["amount"]
    # The balance at each day's end, quiet days included, up to NOW's day.
    last = dt.date.fromisoformat(NOW[:10])
    for currency, days in out.days.items():
        day, closing = dt.date.fromisoformat(min(days)), 0
        while day <= last:
            moved = days.get(day.isoformat())
            closing += (moved["net"] + moved["paid_out"]) if moved else 0
            out.closing.setdefault(currency, {})[day.isoformat()] = closing
            day += dt.timedelta(days=1)
    # A payout is reconciled when the transactions it paid out (?payout=) net to its amount.
    for payout in dataset.objects("payouts", now):
        items = payout_items(dataset, payout["id"], now)
        adds_up = sum(by_id[i]["net"] for i in items) == payout["amount"]
        out.payouts.setdefault(payout["currency"], []).append(
            (payout["id"], payout["status"], adds_up)
        )
    assert set(out.totals) == set(out.payouts) == {"eur", "usd"}
    assert all(out.totals[c][name] for c in out.totals for name in ("refunds", "fees", "net"))
    return out


def expected_rows(books: Books) -> dict[str, list[str]]:
    """Per currency: the figures, balance, its date and the payouts, as both views show."""
    out = {}
    for currency, total in books.totals.items():
        payouts = sorted(books.payouts[currency])
        failing = [f"{p} ({status})" for p, status, ok in payouts if not ok]
        out[currency] = [
            *(books.major(currency, total[name]) for name in FIGURES),
            books.major(currency, books.closing[currency][NOW[:10]]),
            NOW[:10],
            f"{sum(ok for *_, ok in payouts)} of {len(payouts)}",
            ", ".join(failing) or "none",
        ]
    return out


def test_the_ledger_view_is_the_mocks_books(report: Path, books: Books) -> None:
    html = report.read_text()
    section = html.split("<h2>Ledger per settlement currency")[1]
    table = section.split("<table>")[1].split("</table>")[0]
    shown = {
        cells[0]: cells[1:]
        for cells in (re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in table.split("<tr>"))
        if cells
    }
    assert shown == expected_rows(books)
    assert section.count('<svg class="ledger-chart"') == len(books.totals) == 2
    for currency, days in books.days.items():
        assert f'<svg class="ledger-chart" data-currency="{currency}"' in section
        for day, moved in days.items():
            for name in ("net", "fees", "paid_out"):
                figure = books.major(currency, moved[name])
                assert f"<title>{day}: {LABELS[name]} {figure} {currency}</title>" in section
        for day, closing in books.closing[currency].items():
            figure = books.major(currency, closing)
            assert f"<title>{day}: balance {figure} {currency}</title>" in section


def test_the_demo_summary_shows_the_mocks_books(lake: Path, books: Books) -> None:
    """What `make demo` prints after its run, on this lake (its own connection, as the demo)."""
    probe = (
        "from extractor.context import RunContext; from extractor.settings import Settings; "
        "from extractor.demo import print_ledger; "
        "ctx = RunContext.create(Settings.from_env(), run_id=None, starts_run=False); "
        "print_ledger(ctx.connect_warehouse())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=child_env(lake),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = {
        cells[0]: cells[1:]
        for cells in (re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines())
    }
    currencies = sorted(books.totals)
    assert shown["settlement currency"] == currencies
    want = expected_rows(books)
    labels = [*(LABELS[name] for name in FIGURES), "balance at end", "balance date"]
    labels.append("payouts reconciled")
    for column, label in enumerate(labels):
        assert shown[label] == [want[c][column] for c in currencies], label
    failing = [(c, p, s) for c in currencies for p, s, ok in books.payouts[c] if not ok]
    for currency, payout_id, status in failing:
        assert f"NOT reconciled: {currency} {payout_id} ({status})" in done.stdout
    if not failing:
        assert "every payout's balance transactions add up to its amount" in done.stdout
