"""The Python lake layout (extractor.lake.layout) and dbt's (var lake_layout) are one layout."""

from __future__ import annotations

import fnmatch
import json

import yaml

from extractor.extract.bronze import envelope_line
from extractor.lake import layout
from extractor.lake.ids import RUN_ID_PATTERN
from extractor.settings import REPO_ROOT

DBT = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]["lake_layout"]


def test_layer_roots_agree() -> None:
    assert DBT["bronze"] + "/" == layout.BRONZE
    assert DBT["silver"] + "/" == layout.SILVER
    assert DBT["gold"] + "/" == layout.GOLD


def test_bronze_keys_are_what_dbt_globs() -> None:
    run = layout.bronze_run("charges", "2026-01-05", "r1")
    assert run == (
        f"{DBT['bronze']}/{DBT['entity_key']}=charges/{DBT['partition_key']}=2026-01-05/"
        f"{DBT['run_key']}=r1/"
    )
    for compressed in (False, True):
        assert fnmatch.fnmatch(layout.part_name(7, compressed), DBT["part_file"])
    capture = layout.webhook_event_key("2026-01-05", "evt_1")
    assert DBT["capture_entity"] == layout.WEBHOOK_ENTITY
    folder = f"{DBT['bronze']}/{DBT['entity_key']}={DBT['capture_entity']}/"
    assert capture.startswith(folder + f"{DBT['partition_key']}=2026-01-05/")
    assert fnmatch.fnmatch(capture.rsplit("/", 1)[1], DBT["capture_file"])


def test_silver_and_gold_folders_agree() -> None:
    assert layout.silver_entity("charges") == f"{DBT['silver']}/{DBT['entity_key']}=charges/"
    assert layout.gold_model("fct_payments") == f"{DBT['gold']}/{DBT['model_key']}=fct_payments/"


def test_watermark_files_agree() -> None:
    assert layout.watermark_key("charges") == f"{DBT['watermarks']}/charges.json"


def test_quarantine_record_and_capture_glob_agree() -> None:
    assert f"{DBT['quarantine']}/{DBT['capture_entity']}.json" == layout.QUARANTINE_KEY
    folder = f"{DBT['bronze']}/{DBT['entity_key']}={DBT['capture_entity']}/"
    assert f"{folder}{DBT['partition_key']}=*/{DBT['capture_file']}" == layout.CAPTURE_GLOB


def test_run_id_pattern_is_one_pattern() -> None:
    assert DBT["run_id_pattern"] == RUN_ID_PATTERN


def test_envelope_columns_in_file_order() -> None:
    batch = [c["name"] for c in DBT["envelope"] if not c.get("captures_only")]
    child = envelope_line(
        "{}", run_id="r", loaded_at="t", observed_at=1, source="list", parent_id="po_1"
    )
    assert list(json.loads(child)) == batch
    # `_parent_id` is written only in a child stream's lines; elsewhere it reads as null.
    line = envelope_line("{}", run_id="r", loaded_at="t", observed_at=1, source="list")
    assert list(json.loads(line)) == [c for c in batch if c != "_parent_id"]
