"""bench/plot_scale.py: the size plot of issue 19 goal 3, rendered from dbt_bench results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.plot_scale import LARGE, goal_3_seconds, load_points, main

SVG = "{http://www.w3.org/2000/svg}"


def report(charges: int, dbt: tuple[float, float], script: tuple[float, float]) -> dict:
    """The parts of a bench/dbt_bench.py report the plot reads."""

    def row(seconds: float, mib: float) -> dict:
        return {"median_wall_seconds": seconds, "max_peak_rss_mib": mib}

    return {
        "lake": {"charges": charges, "bronze_mib": charges // 300},
        "summary": {"dbt build": row(*dbt), "baseline script": row(*script)},
    }


def test_one_point_per_size_per_series_in_both_panels(tmp_path: Path) -> None:
    # One file as bench/reference keeps it (harness rows, the report under details) and one
    # bare report as dbt_bench --out writes it.
    harness = {"rows": [], "details": {"report": report(10_000, (19.5, 589), (1.5, 442))}}
    (tmp_path / "dbt_scale_10000.json").write_text(json.dumps(harness))
    bare = report(1_000_000, (82.6, 899), (33.3, 1196))
    bare["summary"]["dbt build"]["all_exit_zero"] = False  # e.g. DuckDB's Out of Memory
    (tmp_path / "dbt_scale_1000000.json").write_text(json.dumps(bare))
    (tmp_path / "dbt_1m_defaults.json").write_text("not read")
    # The settings the CLI chooses: a third series, only at the size it measured; a size
    # without the defaults' run is left out (nothing to compare it with).
    (tmp_path / "dbt_auto_1000000.json").write_text(
        json.dumps(report(1_000_000, (64.8, 986), (18.5, 1185)))
    )
    (tmp_path / "dbt_auto_20000.json").write_text(json.dumps(report(20_000, (9.0, 700), (1, 1))))
    out = tmp_path / "img" / "dbt_scale.svg"

    assert main(["--reference-dir", str(tmp_path), "--out", str(out)]) == out

    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    panels = {g.get("data-panel"): g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"}
    assert set(panels) == {"time", "memory"}
    expected = {
        "time": {("dbt build", "10000"): 19.5, ("dbt build", "1000000"): 82.6,
                 ("DuckDB script", "10000"): 1.5, ("DuckDB script", "1000000"): 33.3,
                 (LARGE, "1000000"): 64.8},
        "memory": {("dbt build", "10000"): 589, ("dbt build", "1000000"): 899,
                   ("DuckDB script", "10000"): 442, ("DuckDB script", "1000000"): 1196,
                   (LARGE, "1000000"): 986},
    }  # fmt: skip
    for name, panel in panels.items():
        points = [e for e in panel.iter() if e.get("class") == "point"]
        found = {
            (p.get("data-series"), p.get("data-charges")): float(p.get("data-value"))
            for p in points
        }
        assert len(points) == len(found) == 5
        assert found == expected[name]
    failed = {
        (p.get("data-series"), p.get("data-charges"))
        for p in root.iter()
        if p.get("class") == "point" and p.get("data-failed") == "true"
    }
    assert failed == {("dbt build", "1000000")}
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    labels = ("dbt build", "DuckDB script", "1 GiB", "charges (log scale)", "10k", "1M", "(failed)")
    for label in labels:
        assert label in texts
    assert [line for line in panels["memory"].iter(f"{SVG}line") if line.get("class") == "goal"]


def test_the_11x_line_comes_from_a_dbt_series_whose_10m_build_finished(tmp_path: Path) -> None:
    def write(name: str, charges: int, seconds: float, failed: bool = False) -> None:
        doc = report(charges, (seconds, 900), (seconds / 3, 1200))
        doc["summary"]["dbt build"]["all_exit_zero"] = not failed
        (tmp_path / name).write_text(json.dumps(doc))

    write("dbt_scale_1000000.json", 1_000_000, 46.4)
    write("dbt_scale_10000000.json", 10_000_000, 267.4, failed=True)
    assert goal_3_seconds(load_points(tmp_path)) is None  # nothing finished at 10M

    write("dbt_auto_1000000.json", 1_000_000, 59.0)
    write("dbt_auto_10000000.json", 10_000_000, 561.0)
    assert goal_3_seconds(load_points(tmp_path)) == 11 * 59.0  # the CLI's settings' series

    write("dbt_scale_10000000.json", 10_000_000, 480.0)
    assert goal_3_seconds(load_points(tmp_path)) == 11 * 46.4  # the defaults first

    out = tmp_path / "plot.svg"
    main(["--reference-dir", str(tmp_path), "--out", str(out)])
    time_panel = next(
        g for g in ET.parse(out).getroot().iter(f"{SVG}g") if g.get("data-panel") == "time"
    )
    goal_lines = [e for e in time_panel.iter(f"{SVG}line") if e.get("class") == "goal"]
    assert len(goal_lines) == 1
    assert "goal: 11× 1M" in " ".join(t.text or "" for t in time_panel.iter(f"{SVG}text"))
