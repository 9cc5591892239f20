"""One dbt parse shared by every lake on the machine (extractor/transform/project_parse.py).

The parse runs in a subprocess, as in the dbt child, on a one-model project written here:
a second lake's parse is partial where it used to be full, and a project whose parsed nodes
carry the lake root is parsed for its own lake instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extractor.transform.project_parse import (
    PLACEHOLDER,
    cache_folder,
    placeholder_environment,
)
from tests.support.servers import REPO_ROOT

PROFILES = """\
tiny:
  target: "{{ 's3' if env_var('LAKE_ROOT').startswith('s3://') else 'local' }}"
  outputs:
    local:
      type: duckdb
      path: "{{ env_var('WAREHOUSE_PATH') }}"
      external_root: "{{ env_var('LAKE_ROOT') }}"
      threads: "{{ env_var('DBT_THREADS', '2') | int }}"
    s3:
      type: duckdb
      path: "{{ env_var('WAREHOUSE_PATH') }}"
      external_root: "{{ env_var('LAKE_ROOT') }}"
"""

# Run in a fresh interpreter, like the dbt child: parse, then report what the commands get.
PARSE = """
import json, sys
from extractor.transform import project_parse
parsed = project_parse.parse(json.loads(sys.argv[1]))
node = parsed.result.nodes["model.tiny.orders"]
print("RESULT " + json.dumps({"success": parsed.success, "meta": node.config.meta}))
"""


def tiny_project(folder: Path, model: str) -> Path:
    (folder / "models").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0'\nprofile: tiny\nmodel-paths: [models]\n"
    )
    (folder / "profiles.yml").write_text(PROFILES)
    (folder / "models" / "orders.sql").write_text(model)
    return folder


def run_parse(script: str, project: Path, lake: Path, cache: Path) -> subprocess.CompletedProcess:
    """`script` in a fresh interpreter, as in the dbt child, with the parse arguments and the
    environment the CLI gives the child of `lake` (argv[1]: the arguments as JSON)."""
    args = ["--project-dir", str(project), "--profiles-dir", str(project)]
    args += ["--target-path", str(lake / "target")]
    env = {
        **os.environ,
        "LAKE_ROOT": str(lake),
        "WAREHOUSE_PATH": str(lake / "_state" / "warehouse.duckdb"),
        "PIPELINE_PARSE_CACHE": str(cache),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_PATH": str(lake / "logs"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def parse_for(project: Path, lake: Path, cache: Path) -> tuple[dict, str]:
    """The dbt child's parse for `lake`: the model's meta as its commands get it, and the
    output."""
    done = run_parse(PARSE, project, lake, cache)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["success"], done.stdout[-3000:]
    return result["meta"], done.stdout + done.stderr


def test_two_lakes_share_one_parse_of_the_project(tmp_path: Path) -> None:
    project = tiny_project(tmp_path / "project", "select 1 as id\n")
    cache = tmp_path / "parse-cache"
    _, first = parse_for(project, tmp_path / "lake-a", cache)
    assert "Unable to do partial parsing" in first
    meta, second = parse_for(project, tmp_path / "lake-b", cache)
    assert meta == {}
    assert "Unable to do partial parsing" not in second, second[-2000:]
    # One folder for both lakes, and neither lake's target got a parse of its own.
    assert [p.name for p in cache.glob("*/partial_parse.msgpack")] == ["partial_parse.msgpack"]
    assert not list(tmp_path.glob("lake-*/target/partial_parse.msgpack"))


def test_a_node_parsed_with_the_lake_root_in_it_is_parsed_for_its_own_lake(tmp_path) -> None:
    """Such a node would run with the placeholder in place of the lake: the child parses
    again with the real root, says so, and its commands get the lake's own node."""
    model = "{{ config(meta={'written_to': env_var('LAKE_ROOT')}) }}\nselect 1 as id\n"
    project = tiny_project(tmp_path / "project", model)
    lake = tmp_path / "lake"
    meta, output = parse_for(project, lake, tmp_path / "parse-cache")
    assert meta == {"written_to": str(lake)}
    assert "model.tiny.orders depends on the lake root when parsed" in output
    assert "parsing for this lake alone" in output


@pytest.mark.parametrize(
    ("root", "placed"),
    [
        ("/data/lake", f"/{PLACEHOLDER}/lake"),
        ("s3://bucket/lake", f"s3://{PLACEHOLDER}/lake"),
    ],
)
def test_the_placeholder_keeps_the_target_and_the_database_name(root, placed) -> None:
    """The root's scheme picks the profile's target; the warehouse file's name is dbt's
    database name, which every parsed node carries."""
    environ = {"LAKE_ROOT": root, "WAREHOUSE_PATH": "/x/y/_state/warehouse.duckdb"}
    assert placeholder_environment(environ) == {
        "LAKE_ROOT": placed,
        "WAREHOUSE_PATH": f"/{PLACEHOLDER}/warehouse.duckdb",
    }


def test_lakes_share_a_folder_unless_their_settings_or_checkout_differ(tmp_path) -> None:
    project = tiny_project(tmp_path / "project", "select 1 as id\n")

    def folder(root: str, checkout: Path = project, **environ: str) -> Path:
        warehouse = "/lakes/x/_state/warehouse.duckdb"
        return cache_folder(
            {"LAKE_ROOT": root, "WAREHOUSE_PATH": warehouse, **environ}, checkout, checkout
        )

    a = folder("/lakes/a")
    assert folder("/lakes/b") == a
    assert a.parent == project / "target" / "parse"
    # Credentials are not the parse's business: a rotated session token keeps the folder.
    assert folder("/lakes/a", AWS_SESSION_TOKEN="t1", AWS_SECRET_ACCESS_KEY="s") == a
    assert folder("/lakes/a", DBT_THREADS="1") != a
    assert folder("s3://bucket/lake") != a
    # Another checkout of the project: a parse keeps its project's path (seeds read there).
    other = tiny_project(tmp_path / "other", "select 1 as id\n")
    assert folder("/lakes/a", checkout=other).name != a.name
    elsewhere = cache_folder({"PIPELINE_PARSE_CACHE": "/cache"}, project, project)
    assert elsewhere.parent == Path("/cache")


def test_the_projects_own_parse_is_shared_not_redone_per_lake(tmp_path: Path) -> None:
    """No model, test or source of this project names the lake root once parsed: its parse
    never falls back to one per lake (which would cost every build a second parse)."""
    script = (
        "import json, sys\n"
        "from extractor.transform import project_parse\n"
        "parsed = project_parse.parse(json.loads(sys.argv[1]))\n"
        "print('RESULT', parsed.success, project_parse.naming_placeholder(parsed.result))\n"
    )
    done = run_parse(script, REPO_ROOT, tmp_path / "lake", tmp_path / "parse-cache")
    assert "RESULT True None" in done.stdout, done.stdout[-3000:]
    assert "parsing for this lake alone" not in done.stdout + done.stderr
