"""Plot `dbt build` and the hand-written DuckDB script against lake size (issue 19, goal 3).

    .venv/bin/python bench/plot_scale.py [--reference-dir DIR] [--out FILE]

Reads every `dbt_scale_*.json` of DIR (default `bench/reference/`): one `bench/dbt_bench.py`
run per size with profiles.yml's defaults, in the harness's format (table `rows`, the
dbt_bench report under `details.report`) or as the bare report `--out` writes; and every
`dbt_auto_*.json`, the same run given no settings, so with the ones the CLI chooses for the
lake (ADR 0058: profiles.yml's defaults below 4 GiB of Bronze, a large lake's settings
from there), drawn as a third series. Writes one SVG with
no dependencies (default `docs/img/dbt_scale.svg`): wall seconds and peak RSS (MiB) against
charges, on log-log axes, with the 1 GiB goal line and goal 3's "11x 1M" line. A build that
failed (a nonzero exit, e.g. DuckDB's Out of Memory) is drawn hollow and labelled
"(failed)": its time is to the failure.
Each point carries its series, size, value and failure as attributes (`data-series`,
`data-charges`, `data-value`, `data-failed`) and a tooltip, so a test can read the plot back.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "bench" / "reference"
OUT = REPO / "docs" / "img" / "dbt_scale.svg"
PATTERN = "dbt_scale_*.json"
LARGE_PATTERN = "dbt_auto_*.json"
LARGE = "dbt build, the CLI's settings"
# (label in the legend, key in the dbt_bench summary, colour, marker); LARGE comes from the
# LARGE_PATTERN files' "dbt build" and exists only at the sizes they measured.
SERIES = (
    ("dbt build", "dbt build", "#1f77b4", "circle"),
    ("DuckDB script", "baseline script", "#ff7f0e", "square"),
    (LARGE, "dbt build", "#2ca02c", "circle"),
)
GIB_MIB = 1024
PANEL_W, PANEL_H = 420, 300
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 70, 20, 40, 50
LEGEND_H = 60  # two rows: the series, then the goal line and the hollow marker
FONT = "font-family='Helvetica, Arial, sans-serif'"


def read_report(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    return document["details"]["report"] if "rows" in document else document


def measured(summary: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        "seconds": float(summary[key]["median_wall_seconds"]),
        "peak_mib": float(summary[key]["max_peak_rss_mib"]),
        "failed": not summary[key].get("all_exit_zero", True),
    }


def load_points(folder: Path) -> list[dict[str, Any]]:
    """One point per size: charges, Bronze MiB and each series' wall seconds and peak MiB
    (the LARGE series only where a LARGE_PATTERN file measured that size)."""
    points: dict[int, dict[str, Any]] = {}
    for path in sorted(folder.glob(PATTERN)):
        report = read_report(path)
        charges = int(report["lake"]["charges"])
        point = {"charges": charges, "bronze_mib": report["lake"].get("bronze_mib")}
        for label, key, _, _ in SERIES:
            if label != LARGE:
                point[label] = measured(report["summary"], key)
        points[charges] = point
    for path in sorted(folder.glob(LARGE_PATTERN)):
        report = read_report(path)
        charges = int(report["lake"]["charges"])
        if charges in points:  # a size without the defaults' run has nothing to compare
            points[charges][LARGE] = measured(report["summary"], "dbt build")
    return [points[c] for c in sorted(points)]


def size_label(charges: float) -> str:
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if charges >= unit:
            return f"{charges / unit:g}{name}"
    return f"{charges:g}"


def log_range(low: float, high: float) -> tuple[float, float]:
    """log10 bounds around [low, high], padded so the points and their labels stay inside."""
    return math.log10(low) - 0.3, math.log10(high) + 0.3


class Panel:
    """One chart: x is log10(charges); y is log10 or linear."""

    def __init__(self, left: float, top: float, x_range, y_log: bool, y_range):
        self.left, self.top = left, top
        self.x0, self.x1 = x_range
        self.y_log = y_log
        self.y0, self.y1 = y_range

    def x(self, charges: float) -> float:
        share = (math.log10(charges) - self.x0) / (self.x1 - self.x0)
        return self.left + MARGIN_L + share * (PANEL_W - MARGIN_L - MARGIN_R)

    def y(self, value: float) -> float:
        v = math.log10(value) if self.y_log else value
        share = (v - self.y0) / (self.y1 - self.y0)
        return self.top + PANEL_H - MARGIN_B - share * (PANEL_H - MARGIN_T - MARGIN_B)

    @property
    def plot_box(self) -> tuple[float, float, float, float]:
        return (
            self.left + MARGIN_L,
            self.top + MARGIN_T,
            self.left + PANEL_W - MARGIN_R,
            self.top + PANEL_H - MARGIN_B,
        )


def text(x: float, y: float, body: str, size: int = 12, anchor="middle", extra="", fill="#222"):
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' {FONT} font-size='{size}' "
        f"text-anchor='{anchor}' fill='{fill}'{extra}>{escape(body)}</text>"
    )


def marker(shape: str, x: float, y: float, colour: str, attrs: str, hollow: bool) -> str:
    paint = f"fill='white' stroke='{colour}' stroke-width='2'" if hollow else f"fill='{colour}'"
    if shape == "square":
        return (
            f"<rect class='point' {attrs} x='{x - 4.5:.1f}' y='{y - 4.5:.1f}' width='9' "
            f"height='9' {paint}>"
        )
    return f"<circle class='point' {attrs} cx='{x:.1f}' cy='{y:.1f}' r='5' {paint}>"


def close(shape: str) -> str:
    return "</rect>" if shape == "square" else "</circle>"


def axes(panel: Panel, title: str, y_label: str, y_ticks: list[tuple[float, str]]) -> list[str]:
    left, top, right, bottom = panel.plot_box
    out = [
        f"<rect x='{left}' y='{top}' width='{right - left}' height='{bottom - top}' "
        "fill='white' stroke='#444'/>",
        text((left + right) / 2, panel.top + 22, title, 14, extra=" font-weight='bold'"),
        text((left + right) / 2, bottom + 38, "charges (log scale)", 12),
    ]
    mid = (top + bottom) / 2
    out.append(
        text(
            panel.left + 16,
            mid,
            y_label,
            12,
            extra=f" transform='rotate(-90 {panel.left + 16:.1f} {mid:.1f})'",
        )
    )
    for power in range(math.ceil(panel.x0), math.floor(panel.x1) + 1):
        x = panel.x(10**power)
        out.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{bottom}' stroke='#ddd'/>")
        out.append(text(x, bottom + 18, size_label(10**power), 12))
    for value, label in y_ticks:
        y = panel.y(value)
        out.append(f"<line x1='{left}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' stroke='#ddd'/>")
        out.append(text(left - 6, y + 4, label, 12, anchor="end"))
    return out


def series(panel: Panel, points: list[dict], field: str, unit: str) -> list[str]:
    out = []
    for label, _, colour, shape in SERIES:
        drawn = [p for p in points if label in p]
        xy = [(panel.x(p["charges"]), panel.y(p[label][field])) for p in drawn]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        out.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2'/>")
        for point, (x, y) in zip(drawn, xy, strict=True):
            value = point[label][field]
            shown = f"{value:,.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
            failed = point[label]["failed"]
            attrs = (
                f"data-series={quoteattr(label)} data-charges='{point['charges']}' "
                f"data-value='{value}' data-failed='{str(failed).lower()}'"
            )
            if failed:
                shown += " (failed)"
            tip = f"{label}, {point['charges']:,} charges: {shown}"
            out.append(marker(shape, x, y, colour, attrs, failed) + f"<title>{escape(tip)}</title>")
            out[-1] += close(shape)
            # The highest value at this size goes above its point, the others below, the
            # n-th highest one line lower, so close points keep readable labels.
            rank = sum(point[other][field] > value for other, *_ in SERIES if other in point)
            out.append(text(x, y - 9 if rank == 0 else y + 4 + 14 * rank, shown, 11, fill=colour))
    return out


def legend(left: float, top: float, with_gib: bool) -> list[str]:
    out = []
    x = left
    for label, _, colour, shape in SERIES:
        if shape == "square":
            out.append(f"<rect x='{x}' y='{top - 5}' width='10' height='10' fill='{colour}'/>")
        else:
            out.append(f"<circle cx='{x + 5}' cy='{top}' r='5' fill='{colour}'/>")
        out.append(text(x + 16, top + 4, label, 12, anchor="start"))
        x += 7 * len(label) + 40
    x, top = left, top + 20
    if with_gib:
        out.append(
            f"<line x1='{x}' y1='{top}' x2='{x + 24}' y2='{top}' stroke='#d62728' "
            "stroke-width='2' stroke-dasharray='6 4'/>"
        )
        out.append(text(x + 30, top + 4, "1 GiB (goal for dbt build)", 12, anchor="start"))
        x += 210
    out.append(
        f"<circle cx='{x + 5}' cy='{top}' r='5' fill='white' stroke='#555' stroke-width='2'/>"
    )
    out.append(text(x + 16, top + 4, "hollow: the build failed", 12, anchor="start"))
    return out


def goal_3_seconds(points: list[dict]) -> float | None:
    """Goal 3: 10M charges in at most 11x the 1M time, drawn at 10M; from the first dbt
    series whose 10M build finished (a failed build has no time to judge), else none."""
    by_size = {p["charges"]: p for p in points}
    one_m, ten_m = by_size.get(1_000_000, {}), by_size.get(10_000_000, {})
    for label in ("dbt build", LARGE):
        if label in one_m and label in ten_m and not ten_m[label]["failed"]:
            return 11 * one_m[label]["seconds"]
    return None


def render(points: list[dict]) -> str:
    if not points:
        raise SystemExit(f"no {PATTERN} files to plot")
    charges = [p["charges"] for p in points]
    x_range = log_range(min(charges), max(charges))
    seconds = [p[label]["seconds"] for p in points for label, *_ in SERIES if label in p]
    y_range = log_range(min(seconds), max(seconds))
    goal_seconds = goal_3_seconds(points)
    if goal_seconds:
        y_range = (y_range[0], max(y_range[1], math.log10(goal_seconds) + 0.3))
    time_panel = Panel(0, LEGEND_H, x_range, True, y_range)
    peaks = [p[label]["peak_mib"] for p in points for label, *_ in SERIES if label in p]
    mib_range = log_range(min(min(peaks), GIB_MIB), max(max(peaks), GIB_MIB))
    memory_panel = Panel(PANEL_W, LEGEND_H, x_range, True, mib_range)

    width, height = 2 * PANEL_W, PANEL_H + LEGEND_H
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>",
        "<title>dbt build and the DuckDB script against lake size (10k to 10M charges)</title>",
        f"<rect width='{width}' height='{height}' fill='white'/>",
    ]
    out += legend(MARGIN_L, 20, with_gib=True)

    time_ticks = []
    for power in range(math.ceil(y_range[0]), math.floor(y_range[1]) + 1):
        for factor in (1, 3):
            value = factor * 10.0**power
            if math.log10(value) <= y_range[1]:
                time_ticks.append((value, f"{value:,g} s"))
    out.append("<g class='panel' data-panel='time'>")
    out += axes(time_panel, "Wall time", "wall seconds (log scale)", time_ticks)
    if goal_seconds:
        x, y = time_panel.x(10_000_000), time_panel.y(goal_seconds)
        out.append(
            f"<line class='goal' x1='{x - 30:.1f}' y1='{y:.1f}' x2='{x + 20:.1f}' y2='{y:.1f}' "
            "stroke='#d62728' stroke-width='2' stroke-dasharray='6 4'/>"
        )
        out.append(text(x - 50, y + 14, "goal: 11× 1M", 11, anchor="end", fill="#d62728"))
    out += series(time_panel, points, "seconds", "s")
    out.append("</g>")

    memory_ticks = [
        (2**power, f"{2**power:,}")
        for power in range(math.ceil(mib_range[0] / math.log10(2)), 20)
        if power * math.log10(2) <= mib_range[1]
    ]
    out.append("<g class='panel' data-panel='memory'>")
    out += axes(memory_panel, "Peak RSS", "peak RSS, MiB (log scale)", memory_ticks)
    left, _, right, _ = memory_panel.plot_box
    y = memory_panel.y(GIB_MIB)
    out.append(
        f"<line class='goal' x1='{left}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' "
        "stroke='#d62728' stroke-width='2' stroke-dasharray='6 4'/>"
    )
    out += series(memory_panel, points, "peak_mib", "MiB")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reference-dir", type=Path, default=REFERENCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    points = load_points(args.reference_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(points))
    for point in points:
        print(
            f"{point['charges']:>11,} charges: "
            + "; ".join(
                f"{label} {point[label]['seconds']:.1f} s, {point[label]['peak_mib']:,.0f} MiB"
                for label, *_ in SERIES
                if label in point
            )
        )
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
