"""`report`: one self-contained HTML page describing a run.

The page is static and offline by design (no scripts, no external styles, fonts or images):
run id and section times from the manifest, records per layer, the gate's results, the
webhook reconciliation, a daily revenue chart per currency and the ledger (fees, net, payouts
and balance per settlement currency, `extractor.transform.ledger_summary`) and MRR with its
movements per currency and month (`extractor.transform.mrr_summary`), drawn as inline SVG.
Silver and Gold figures are read from the warehouse views, so they show the lake as it is now.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from extractor.context import RunContext
from extractor.exits import PipelineError
from extractor.lake import layout
from extractor.lake.ids import validate_run_id
from extractor.lake.manifest import list_run_ids, read_manifest
from extractor.lake.storage import Storage
from extractor.settings import REPO_ROOT
from extractor.transform import mrr_summary
from extractor.transform.gate import GOLD_MODELS, SILVER_MODELS, reconciliation_counts
from extractor.transform.ledger_summary import (
    FIGURES,
    LABELS,
    CurrencyLedger,
    LedgerNotBuilt,
    read_ledger,
    reconciled_text,
)

FIRST = "run `payments-pipeline run-pipeline` first"
SECTIONS = ("extract", "transform", "quality", "webhooks")

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 9px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.succeeded { color: #17702b; } .failed { color: #b3261e; } .warn { color: #8a5a00; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 0; border: 1px solid #ddd; padding: 6px; }
figcaption { font-weight: 600; }
svg text { font: 10px sans-serif; fill: #444; }
.key { font-size: 12px; margin: 4px 0 0; }
.key span { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 9px; }
"""
# The ledger chart's series: figure -> colour (the closing balance is the line).
SERIES = {"net": "#3b6fb6", "fees": "#d9822b", "paid_out": "#8c8c8c"}
BALANCE_COLOUR = "#17702b"
# The MRR chart: gains above the axis, losses below, the month-end MRR as the line.
MRR_SERIES = {"gains": "#3b6fb6", "losses": "#b3261e"}
MRR_COLOUR = "#17702b"


class ReportError(PipelineError):
    """The report cannot be written; the message says what to do."""


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table; numbers are right-aligned; every cell is escaped."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for value in row:
            numeric = isinstance(value, int | float | Decimal)
            css = ' class="n"' if numeric else ""
            cells.append(f"<td{css}>{escape('' if value is None else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def section_times(doc: dict[str, Any]) -> str:
    rows = []
    for name in SECTIONS:
        section = doc.get(name)
        if isinstance(section, dict):
            status = str(section.get("status", ""))
            status_html = f'<span class="{escape(status)}">{escape(status)}</span>'
            rows.append(
                "<tr>"
                f"<td>{escape(name)}</td><td>{status_html}</td>"
                f"<td>{escape(str(section.get('started_at', '')))}</td>"
                f"<td>{escape(str(section.get('ended_at', '')))}</td>"
                "</tr>"
            )
    head = "<tr><th>section</th><th>status</th><th>started (UTC)</th><th>ended (UTC)</th></tr>"
    return f"<h2>Run steps</h2><table>{head}{''.join(rows)}</table>"


def bronze_lines(storage: Storage, doc: dict[str, Any], entity: str) -> tuple[int, str]:
    """Bronze lines this run wrote for an entity: from the manifest, else by counting its parts."""
    recorded = ((doc.get("extract") or {}).get("entities") or {}).get(entity)
    if isinstance(recorded, dict) and "records_list" in recorded:
        lines = int(recorded.get("records_list") or 0) + int(recorded.get("records_event") or 0)
        return lines, "manifest"
    lines = 0
    for key in storage.list(layout.bronze_entity(entity)):
        if layout.run_id_of(key) == doc["run_id"] and layout.is_part(key):
            raw = storage.get(key) or b""
            lines += (gzip.decompress(raw) if key.endswith(".gz") else raw).count(b"\n")
    return lines, "counted"


def records_per_layer(con: duckdb.DuckDBPyConnection, storage: Storage, doc: dict) -> str:
    rows = []
    for model in SILVER_MODELS:
        entity = model.removeprefix("stg_stripe__")
        lines, origin = bronze_lines(storage, doc, entity)
        silver = con.sql(f"select count(*) from {model}").fetchone()[0]
        rows.append((entity, lines, origin, model, silver))
    gold = [(m, con.sql(f"select count(*) from {m}").fetchone()[0]) for m in GOLD_MODELS]
    return (
        "<h2>Records per layer</h2>"
        "<p>Bronze: lines this run wrote (every copy). Silver: one row per object, all runs.</p>"
        + _table(("entity", "bronze lines", "source", "silver model", "silver rows"), rows)
        + "<h3>Gold</h3>"
        + _table(("model", "rows"), gold)
    )


def quality_gate(doc: dict[str, Any]) -> str:
    gate = doc.get("quality")
    if not isinstance(gate, dict):
        return "<h2>Quality gate</h2><p>The gate did not run for this run.</p>"
    status = escape(str(gate.get("status", "")))
    tests = (gate.get("tests") or {}).get("counts") or {}
    fresh = (gate.get("freshness") or {}).get("counts") or {}
    issues = [("failure", f) for f in gate.get("failures") or []]
    issues += [("warning", w) for w in gate.get("warnings") or []]
    issue_rows = [
        (level, i.get("kind"), i.get("name"), i.get("status"), i.get("message"))
        for level, i in issues
    ]
    return (
        f'<h2>Quality gate: <span class="{status}">{status}</span></h2>'
        + "<h3>Tests</h3>"
        + _table(("status", "count"), sorted(tests.items()))
        + "<h3>Source freshness</h3>"
        + _table(("status", "count"), sorted(fresh.items()))
        + "<h3>Failures and warnings</h3>"
        + (_table(("level", "kind", "name", "status", "message"), issue_rows) if issues else "")
        + ("" if issues else "<p>None.</p>")
    )


def reconciliation(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "<h2>Webhook reconciliation</h2><p>Not available in this warehouse.</p>"
    return "<h2>Webhook reconciliation</h2>" + _table(("status", "events"), counts.items())


def bar_chart(currency: str, points: Sequence[tuple[date, Any]]) -> str:
    """A small SVG bar chart of net per day for one settlement currency, zero line included.

    Bars sit at their day's offset from the first day, so days without revenue show as gaps.
    """
    width, height, pad = 340, 170, 28
    values = [float(v) for _, v in points]
    top, bottom = max(0.0, *values), min(0.0, *values)
    span = (top - bottom) or 1.0
    plot_h = height - 2 * pad
    y0 = pad + plot_h * top / span
    first_day, last_day = points[0][0], points[-1][0]
    step = (width - 2 * pad) / ((last_day - first_day).days + 1)
    bars = []
    for (day, raw), value in zip(points, values, strict=True):
        bar_h = plot_h * abs(value) / span
        y = y0 - bar_h if value >= 0 else y0
        x = pad + (day - first_day).days * step + step * 0.1
        label = escape(f"{day}: {raw} {currency}")
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" height="{bar_h:.1f}" '
            f'fill="#3b6fb6"><title>{label}</title></rect>'
        )
    peak = max(raw for _, raw in points)
    return (
        f"<figure><figcaption>{escape(currency.upper())} net per day</figcaption>"
        f'<svg class="chart" data-currency="{escape(currency)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(currency)} daily net revenue">'
        f'<line x1="{pad}" y1="{y0:.1f}" x2="{width - pad}" y2="{y0:.1f}" stroke="#999"/>'
        + "".join(bars)
        + f'<text x="{pad}" y="12">max {escape(str(peak))}</text>'
        f'<text x="{pad}" y="{height - 8}">{escape(str(first_day))}</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">'
        f"{escape(str(last_day))}</text>"
        f'<text x="{width - pad}" y="12" text-anchor="end">{escape(currency)}</text>'
        "</svg></figure>"
    )


def daily_revenue(con: duckdb.DuckDBPyConnection) -> str:
    """One chart of Stripe's net per settlement currency (amounts are never added across
    currencies), and the day's figures per presentment currency."""
    nets = con.sql(
        "select settlement_currency, activity_date, sum(net_settlement) "
        "from agg_daily_revenue where settlement_currency is not null "
        "group by 1, 2 order by 1, 2"
    ).fetchall()
    by_currency: dict[str, list[tuple[date, Any]]] = {}
    for currency, day, net in nets:
        by_currency.setdefault(currency, []).append((day, net))
    charts = "".join(bar_chart(c, points) for c, points in by_currency.items())
    rows = con.sql(
        "select currency, activity_date, gross, refunded, disputed, settlement_currency, fee, "
        "net_settlement from agg_daily_revenue order by currency, activity_date"
    ).fetchall()
    headers = (
        "currency",
        "activity_date",
        "gross",
        "refunded",
        "disputed",
        "settles in",
        "fee",
        "net",
    )
    return (
        "<h2>Daily revenue by activity date (net after fees per settlement currency, "
        "major units; see docs/finance.md)</h2>"
        f'<div class="charts">{charts or "<p>No revenue rows.</p>"}</div>' + _table(headers, rows)
    )


def ledger_chart(one: CurrencyLedger) -> str:
    """Per day: net, fees and paid out as grouped bars, the closing balance as a line
    (agg_daily_balance's days, quiet ones included). Same frame as `bar_chart`."""
    width, height, pad = 340, 170, 28
    days = sorted(set(one.days) | set(one.closing))
    values = [float(one.major(v)) for d in one.days.values() for k, v in d.items() if k in SERIES]
    values += [float(one.major(v)) for v in one.closing.values()]
    top, bottom = max([0.0, *values]), min([0.0, *values])
    span = (top - bottom) or 1.0
    plot_h = height - 2 * pad
    y0 = pad + plot_h * top / span
    first_day, last_day = days[0], days[-1]
    step = (width - 2 * pad) / ((last_day - first_day).days + 1)
    bar_w = step * 0.8 / len(SERIES)
    shapes = []
    for day, figures in one.days.items():
        for slot, (name, colour) in enumerate(SERIES.items()):
            raw = one.major(figures[name])
            bar_h = plot_h * abs(float(raw)) / span
            y = y0 - bar_h if raw >= 0 else y0
            x = pad + (day - first_day).days * step + step * 0.1 + slot * bar_w
            label = escape(f"{day}: {LABELS[name]} {raw} {one.currency}")
            shapes.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                f'fill="{colour}"><title>{label}</title></rect>'
            )
    points = []
    for day in sorted(one.closing):
        raw = one.major(one.closing[day])
        x = pad + ((day - first_day).days + 0.5) * step
        y = y0 - plot_h * float(raw) / span
        points.append(f"{x:.1f},{y:.1f}")
        shapes.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{BALANCE_COLOUR}">'
            f"<title>{escape(f'{day}: balance {raw} {one.currency}')}</title></circle>"
        )
    line = (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{BALANCE_COLOUR}"/>'
        if points
        else ""
    )
    key = "".join(
        f'<span style="background:{c}"></span>{escape(LABELS[n])}' for n, c in SERIES.items()
    )
    key += f'<span style="background:{BALANCE_COLOUR}"></span>balance'
    return (
        f"<figure><figcaption>{escape(one.currency.upper())} ledger per day</figcaption>"
        f'<svg class="ledger-chart" data-currency="{escape(one.currency)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(one.currency)} daily net, fees, payouts and balance">'
        f'<line x1="{pad}" y1="{y0:.1f}" x2="{width - pad}" y2="{y0:.1f}" stroke="#999"/>'
        + line
        + "".join(shapes)
        + f'<text x="{pad}" y="{height - 8}">{escape(str(first_day))}</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">'
        f"{escape(str(last_day))}</text>"
        f'<text x="{width - pad}" y="12" text-anchor="end">{escape(one.currency)}</text>'
        f'</svg><p class="key">{key}</p></figure>'
    )


def ledger(con: duckdb.DuckDBPyConnection) -> str:
    """Fees, net and payouts per settlement currency: the totals, whether every payout adds
    up, and a chart per currency. Says so when the ledger models are not built."""
    title = "<h2>Ledger per settlement currency (fees, net, payouts; major units)</h2>"
    try:
        ledgers = read_ledger(con)
    except LedgerNotBuilt as exc:
        return f"{title}<p>{escape(str(exc))}</p>"
    headers = (
        "currency",
        *(LABELS[name] for name in FIGURES),
        "balance at end",
        "balance date",
        "payouts reconciled",
        "not reconciled",
    )
    rows = [
        (
            one.currency,
            *(one.major(one.totals[name]) for name in FIGURES),
            None if one.balance_minor is None else one.major(one.balance_minor),
            str(one.balance_date or ""),
            reconciled_text(one),
            ", ".join(f"{p} ({s})" for p, s in one.not_reconciled) or "none",
        )
        for one in ledgers
    ]
    charts = "".join(ledger_chart(one) for one in ledgers if one.days or one.closing)
    note = (
        "<p>Signed as each moves the balance: gross captured + refunds + disputes + other "
        "+ fees = net (Stripe's net, after fees); net + paid out = the balance's change. "
        "The balance rolls the extracted transactions forward: it is Stripe's balance when "
        "the whole history is extracted. See docs/finance.md.</p>"
    )
    return (
        title
        + note
        + _table(headers, rows)
        + f'<div class="charts">{charts or "<p>No balance transactions.</p>"}</div>'
    )


def mrr_chart(one: mrr_summary.CurrencyMrr) -> str:
    """Per month: gains (new + expansion + reactivation) and losses (contraction + churn)
    as bars, the month-end MRR as a line. Same frame as `ledger_chart`."""
    width, height, pad = 340, 170, 28
    months = sorted(one.months)
    gains = {m: sum(one.months[m][k] for k in ("new", "expansion", "reactivation")) for m in months}
    losses = {m: -(one.months[m]["contraction"] + one.months[m]["churn"]) for m in months}
    values = [float(one.major(v)) for v in (*gains.values(), *losses.values())]
    values += [float(one.major(one.months[m]["closing"])) for m in months]
    top, bottom = max([0.0, *values]), min([0.0, *values])
    span = (top - bottom) or 1.0
    plot_h = height - 2 * pad
    y0 = pad + plot_h * top / span
    step = (width - 2 * pad) / len(months)
    bar_w = step * 0.8 / len(MRR_SERIES)
    shapes, points = [], []
    for n, month in enumerate(months):
        label_month = month.strftime("%Y-%m")
        for slot, (name, figures) in enumerate((("gains", gains), ("losses", losses))):
            raw = one.major(figures[month])
            bar_h = plot_h * abs(float(raw)) / span
            y = y0 - bar_h if raw >= 0 else y0
            x = pad + n * step + step * 0.1 + slot * bar_w
            label = escape(f"{label_month}: {name} {raw} {one.currency}")
            shapes.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                f'fill="{MRR_SERIES[name]}"><title>{label}</title></rect>'
            )
        raw = one.major(one.months[month]["closing"])
        x, y = pad + (n + 0.5) * step, y0 - plot_h * float(raw) / span
        points.append(f"{x:.1f},{y:.1f}")
        shapes.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{MRR_COLOUR}">'
            f"<title>{escape(f'{label_month}: MRR {raw} {one.currency}')}</title></circle>"
        )
    key = "".join(f'<span style="background:{c}"></span>{n}' for n, c in MRR_SERIES.items())
    key += f'<span style="background:{MRR_COLOUR}"></span>MRR at month end'
    return (
        f"<figure><figcaption>{escape(one.currency.upper())} MRR per month</figcaption>"
        f'<svg class="mrr-chart" data-currency="{escape(one.currency)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(one.currency)} monthly MRR and its movements">'
        f'<line x1="{pad}" y1="{y0:.1f}" x2="{width - pad}" y2="{y0:.1f}" stroke="#999"/>'
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{MRR_COLOUR}"/>'
        + "".join(shapes)
        + f'<text x="{pad}" y="{height - 8}">{escape(months[0].strftime("%Y-%m"))}</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">'
        f"{escape(months[-1].strftime('%Y-%m'))}</text>"
        f'<text x="{width - pad}" y="12" text-anchor="end">{escape(one.currency)}</text>'
        f'</svg><p class="key">{key}</p></figure>'
    )


def mrr(con: duckdb.DuckDBPyConnection) -> str:
    """MRR and its movements per currency and month, and a chart per currency. Says so when
    the MRR model is not built."""
    title = "<h2>MRR per currency (movements per month; major units)</h2>"
    try:
        currencies = mrr_summary.read_mrr(con)
    except mrr_summary.MrrNotBuilt as exc:
        return f"{title}<p>{escape(str(exc))}</p>"
    labels = mrr_summary.LABELS
    headers = (
        "currency",
        "month",
        *(labels[name] for name in mrr_summary.MOVEMENTS),
        "MRR at month end",
        "ARR",
        labels["active"],
    )
    rows = [
        (
            one.currency,
            month.strftime("%Y-%m"),
            *(one.major(figures[name]) for name in mrr_summary.MOVEMENTS),
            one.major(figures["closing"]),
            one.major(12 * figures["closing"]),
            figures["active"],
        )
        for one in currencies
        for month, figures in sorted(one.months.items())
    ]
    charts = "".join(mrr_chart(one) for one in currencies if one.months)
    note = (
        "<p>Stripe's MRR definition made exact (docs/finance.md): MRR at month end = "
        "the previous month's + new + expansion + reactivation - contraction - churn; "
        "the current month is as of the newest subscription read.</p>"
    )
    return (
        title
        + note
        + _table(headers, rows)
        + f'<div class="charts">{charts or "<p>No subscriptions.</p>"}</div>'
    )


def render(doc: dict[str, Any], ctx: RunContext) -> str:
    con = ctx.connect_warehouse()
    try:
        try:
            counts: dict[str, int] | None = reconciliation_counts(con)
        except duckdb.Error:
            counts = None
        body = (
            section_times(doc)
            + records_per_layer(con, ctx.storage, doc)
            + quality_gate(doc)
            + reconciliation(counts)
            + daily_revenue(con)
            + ledger(con)
            + mrr(con)
        )
    finally:
        con.close()
    run_id = escape(str(doc["run_id"]))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Run {run_id}</title><style>{CSS}</style></head><body>"
        f"<h1>Payments pipeline run {run_id}</h1>"
        f"<p>Lake: {escape(ctx.storage.root)}</p>{body}</body></html>\n"
    )


def default_output(storage: Storage, run_id: str) -> Path:
    """In the lake's `_state/reports/` on local disk; under the checkout's `target/` for a
    lake on S3 (a page to open in a browser belongs on this machine)."""
    if storage.local_path is not None:
        return storage.local_path / layout.report_key(run_id)
    return REPO_ROOT / "target" / layout.report_key(run_id)


def write_report(ctx: RunContext, run_id: str | None = None, out: Path | None = None) -> Path:
    """Render the report of `run_id` (default: the newest run with a manifest) to `out`."""
    storage = ctx.storage
    run_id = validate_run_id(run_id) if run_id else (list_run_ids(storage) or [None])[-1]
    doc = read_manifest(storage, run_id) if run_id else None
    if doc is None:
        which = f"run {run_id}" if run_id else storage.root
        raise ReportError(f"no manifest for {which}: {FIRST}")
    if not ctx.warehouse.exists():
        raise ReportError(f"no warehouse at {ctx.warehouse}: {FIRST}")
    doc.setdefault("run_id", run_id)
    path = out or default_output(storage, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_text(render(doc, ctx), encoding="utf-8")
    except duckdb.Error as exc:
        detail = " ".join(str(exc).split())
        raise ReportError(f"report query failed: {detail}; {FIRST}") from exc
    return path
