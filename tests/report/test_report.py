"""`payments-pipeline report`: one offline HTML page per run, checked against the Parquet the
pipeline wrote and rendered in headless Chromium (`make chromium` installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest

from extractor.report import _table
from extractor.streams import ENTITY_NAMES
from tests.dbt.lake_queries import gold, rows, silver
from tests.support.cli import run_cli
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = "2026-02-01T00:00:00Z"
RUN_ID = "reportrun"
GOLD = ("dim_customers", "fct_payments", "fct_invoices", "agg_daily_revenue")
ENTITIES = ENTITY_NAMES


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = start_mock_api({"MOCK_NOW": NOW}, tmp_path_factory.mktemp("mock"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory, mock: ServerProcess) -> Path:
    root = tmp_path_factory.mktemp("report") / "lake"
    result = run_cli("run-pipeline", "--days", "2", "--run-id", RUN_ID, lake=root, api=mock.url)
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
    assert html.count("<svg") == len(settlement)
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
