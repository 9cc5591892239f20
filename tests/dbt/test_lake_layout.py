"""The lake layout is spelled once in the dbt project: the var `lake_layout` (ADR 0012)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# Path fragments of the layout; comments may describe it in words, not spell it.
LITERALS = re.compile(r"bronze/|silver/|gold/|source=|entity=|model=|/run_id=")


def lake_layout() -> dict:
    return yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]["lake_layout"]


def test_the_layout_var_holds_every_constant() -> None:
    layout = lake_layout()
    assert layout["bronze"] == "bronze/source=stripe"
    assert layout["silver"] == "silver/source=stripe"
    assert (layout["gold"], layout["model_key"]) == ("gold", "model")
    assert layout["entity_key"] == "entity"
    assert re.fullmatch(layout["run_id_pattern"], "2026-01-20T00-00-00Z_ab12")
    assert not re.fullmatch(layout["run_id_pattern"], "../etc")
    names = [column["name"] for column in layout["envelope"]]
    assert names == [
        "_run_id",
        "_loaded_at",
        "_received_at",
        "_observed_at",
        "_source",
        "_event_id",
        "_event_type",
        "_api_version",
        "_parent_id",
        "data",
    ]


def test_no_dbt_file_spells_the_layout_outside_the_var() -> None:
    files = [REPO / "dbt_project.yml", REPO / "profiles.yml"]
    files += [p for p in (REPO / "dbt_project").rglob("*") if p.suffix in (".sql", ".yml")]
    found = []
    for path in files:
        if "target" in path.relative_to(REPO).parts:
            continue
        text = path.read_text()
        if path.name == "dbt_project.yml":
            text = text[: text.index("\nvars:")]  # the var itself is the one place
        found += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in LITERALS.finditer(text)]
    assert found == []
