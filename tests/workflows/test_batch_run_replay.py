"""Replays `.github/workflows/batch_run.yml` twice on a temporary local lake.

Run 1 is the workflow's pipeline command on an empty lake. Between runs the Actions cache is
simulated by copying exactly the paths the workflow caches (read from the YAML) into a new
folder; the mock's clock moves an hour; run 2 runs on the restored folder. Run 2 must be
incremental: its windows start at run 1's watermark minus the safety window, not `--days`
back, and the quality gate passes. Also checks every workflow's action pins and permissions.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from extractor.extract.plan import first_run_start
from extractor.streams import BY_NAME, WATERMARKED_STREAMS
from tests.support.cli import child_env
from tests.support.servers import REPO_ROOT, ServerProcess, start_mock_api

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
BATCH_RUN = WORKFLOWS / "batch_run.yml"
MOCK_NOW = "2026-02-20T00:00:00Z"
SAFETY_WINDOW = 600
ENTITIES = tuple(s.name for s in WATERMARKED_STREAMS)


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def uses_of(workflow: dict) -> list[str]:
    found = [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    return found + [step["uses"] for step in steps(workflow) if "uses" in step]


def test_every_action_is_pinned_by_sha_and_every_workflow_declares_permissions() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"ci.yml", "batch_run.yml", "docs.yml"}
    for path in files:
        workflow = yaml.safe_load(path.read_text())
        assert "permissions" in workflow, f"{path.name} declares no top-level permissions"
        for name, job in workflow["jobs"].items():
            perms = job.get("permissions", workflow["permissions"])
            assert isinstance(perms, dict), f"{path.name}:{name} permissions must be explicit"
        for ref in uses_of(workflow):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref}"
        # Every pin carries its version as a comment on the same line.
        for line in path.read_text().splitlines():
            if re.match(r"\s*(- )?uses:", line):
                assert re.search(r"@[0-9a-f]{40} # v\d", line), f"{path.name}: {line.strip()}"


def test_only_the_pages_deploy_job_may_write() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        assert set(workflow["permissions"].values()) == {"read"}, path.name
        for name, job in workflow["jobs"].items():
            writes = {k for k, v in job.get("permissions", {}).items() if v == "write"}
            if path.name == "docs.yml" and name == "deploy":
                assert writes == {"pages", "id-token"}
            else:
                assert not writes, f"{path.name}:{name} writes {writes}"


def cached_paths(workflow: dict) -> list[str]:
    """The lake paths the restore and save steps cache; both must name the same ones."""
    by_action: dict[str, list[str]] = {}
    for step in steps(workflow):
        action = step.get("uses", "").split("@")[0]
        if action in ("actions/cache/restore", "actions/cache/save"):
            by_action[action] = step["with"]["path"].split()
    assert set(by_action) == {"actions/cache/restore", "actions/cache/save"}
    assert by_action["actions/cache/restore"] == by_action["actions/cache/save"]
    return by_action["actions/cache/save"]


def pipeline_command(workflow: dict) -> list[str]:
    (step,) = [s for s in steps(workflow) if s.get("id") == "pipeline"]
    command = shlex.split(step["run"])
    assert command[:2] == ["make", "run-pipeline"], command
    return command


@pytest.mark.integration
@pytest.mark.slow
def test_two_scheduled_runs_carry_the_watermarks_over_the_cache(tmp_path: Path) -> None:
    workflow = yaml.safe_load(BATCH_RUN.read_text())
    lake_default = "_lake"
    assert workflow["jobs"]["run"]["env"]["LAKE_ROOT"].endswith(f"'{lake_default}' }}}}")
    paths = cached_paths(workflow)
    assert sorted(paths) == [f"{lake_default}/_state", f"{lake_default}/bronze"]
    # `make -o setup`: the venv running this test is the one the workflow's setup step builds.
    command = ["make", "-s", "-o", "setup", *pipeline_command(workflow)[1:]]
    days = int(next(a for a in command if a.startswith("DAYS=")).split("=", 1)[1])

    mock = start_mock_api({"MOCK_NOW": MOCK_NOW}, tmp_path / "logs")
    try:
        run1 = tmp_path / "runner1"
        first = run(command, run1, mock)
        assert first.returncode == 0, first.stderr[-4000:]
        manifest1 = only_manifest(run1 / lake_default)
        marks = watermarks(run1 / lake_default)
        assert set(marks) == set(ENTITIES)

        # The cache: save copies the listed paths, restore lays them into a fresh checkout.
        run2 = tmp_path / "runner2"
        for rel in paths:
            shutil.copytree(run1 / rel, run2 / rel)
        assert not (run2 / lake_default / "silver").exists()
        advance_clock(mock, 3600)

        second = run(command, run2, mock)
        assert second.returncode == 0, second.stderr[-4000:]
    finally:
        mock.stop()

    assert "quality gate passed" in second.stdout, second.stdout[-3000:]
    manifests = manifests_by_run(run2 / lake_default)
    assert len(manifests) == 2, sorted(manifests)
    manifest2 = next(m for rid, m in manifests.items() if rid != manifest1["run_id"])
    entities1 = manifest1["extract"]["entities"]
    entities2 = manifest2["extract"]["entities"]
    for entity in ENTITIES:
        window1, window2 = entities1[entity]["window"], entities2[entity]["window"]
        # `--days` back, or all of history for a catalog.
        start = first_run_start(BY_NAME[entity], window1["lt"], days)
        assert window1["gte"] == start, entity
        assert entities2[entity]["watermark_before"] == marks[entity], entity
        assert window2["gte"] == marks[entity] - SAFETY_WINDOW, entity
        assert window2["lt"] == marks[entity] + 3600, entity
    records1 = sum(e["records"] for e in entities1.values())
    records2 = sum(e["records"] for e in entities2.values())
    assert 0 < records2 < records1 / 10, (records1, records2)
    assert manifest2["quality"]["status"] == "succeeded", manifest2["quality"]
    assert manifest2["quality"]["failures"] == []
    after = watermarks(run2 / lake_default)
    assert all(after[e] == marks[e] + 3600 for e in ENTITIES), after


def run(command: list[str], workdir: Path, mock: ServerProcess) -> subprocess.CompletedProcess:
    """The workflow's step, as a runner would: relative LAKE_ROOT inside its own checkout."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = child_env(workdir / "_lake", mock.url, SAFETY_WINDOW_SECONDS=str(SAFETY_WINDOW))
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def advance_clock(mock: ServerProcess, seconds: int) -> None:
    request = urllib.request.Request(
        f"{mock.url}/_mock/clock",
        data=json.dumps({"advance": seconds}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def manifests_by_run(lake: Path) -> dict[str, dict]:
    out = {}
    for path in (lake / "_state" / "manifests").glob("run_*.json"):
        doc = json.loads(path.read_text())
        out[doc.get("run_id") or path.stem.removeprefix("run_")] = doc
    return out


def only_manifest(lake: Path) -> dict:
    (manifest,) = manifests_by_run(lake).values()
    return manifest


def watermarks(lake: Path) -> dict[str, int]:
    folder = lake / "_state" / "watermarks"
    return {p.stem: json.loads(p.read_text())["watermark"] for p in folder.glob("*.json")}
