"""bench/report.py --keep-this-run: the rest of docs/benchmarks.md re-rendered, the run kept."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report


def test_keep_this_run_keeps_the_run_and_renders_the_references_and_notes(
    tmp_path: Path, monkeypatch
) -> None:
    page = tmp_path / "benchmarks.md"
    this_run = "## This run\n\nRendered at commit `abc1234`.\n\n| benchmark |\n| --- |\n| x |\n"
    page.write_text(
        "# Benchmarks\n\nold header\n\n" + this_run + "\n## Larger sizes, run separately\n\nold\n"
    )
    references = tmp_path / "reference"
    references.mkdir()
    row = {
        "benchmark": "Transforms: `dbt build` on 3,000,000 charges; DBT_THREADS=1",
        "figure": "152.0 s (runs 152.0); peak RSS max 1,030 MiB",
        "baseline": "one DuckDB script, same SQL: 53.2 s",
        "ratio": 2.86,
        "goal": "≤ 1.5× script + 3 s (here ≤ 82.7 s), peak ≤ 1 GiB",
        "met": False,
        "peak_rss_mib": 1030,
        "command": "bench/dbt_bench.py --charges 3000000",
    }
    details = {"report": {"dbt_settings": {"DBT_THREADS": "1"}}}
    (references / "dbt_big.json").write_text(
        json.dumps({"rows": [row], "details": details, "notes": ["a note"]})
    )
    repo = tmp_path / "repo"
    (repo / "bench").mkdir(parents=True)
    (repo / "bench" / "NOTES.md").write_text("## Notes\n\nthe notes\n")
    monkeypatch.setattr(report, "DOC", page)
    monkeypatch.setattr(report, "REFERENCE", references)
    monkeypatch.setattr(report, "REPO", repo)

    text = report.keep_this_run()

    assert text == page.read_text()
    assert text.startswith(report.HEADER)
    assert "old header" not in text and "\nold\n" not in text
    assert this_run in text
    assert "(dbt_big)" in text
    # The reason names one node at a time (DBT_THREADS=1), not two models side by side.
    assert "dbt_big: dbt vs script missed: time: 152.0 s against an allowance of 82.7 s" in text
    assert "one node at a time" in text and "two models sharing" not in text
    assert "- a note" in text
    assert text.rstrip().endswith("## Notes\n\nthe notes")
