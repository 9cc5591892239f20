"""dbt as a child process: what its failures look like, and that it never outlives the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extractor.lake.storage import LocalStorage
from extractor.settings import Settings
from extractor.transform import dbt
from extractor.transform.dbt import DbtError, run_dbt, warehouse_path
from tests.support.servers import REPO_ROOT


def fake_dbt(tmp_path: Path, body: str) -> str:
    script = tmp_path / "dbt"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_dbt_killed_by_a_signal_is_named_not_called_a_project_error(tmp_path, monkeypatch):
    monkeypatch.setattr(dbt, "dbt_executable", lambda: fake_dbt(tmp_path, "kill -9 $$"))
    storage = LocalStorage(tmp_path / "lake")
    with pytest.raises(DbtError) as caught:
        run_dbt("build", Settings(lake_root=str(tmp_path / "lake")), storage, "r1")
    assert str(caught.value).startswith("dbt build was killed by SIGKILL")
    assert "project or profile" not in str(caught.value)


def test_a_warehouse_held_by_another_client_is_named_before_dbt_starts(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path / "lake")
    path = warehouse_path(storage)
    path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started: list[str] = []
        monkeypatch.setattr(dbt, "dbt_executable", lambda: started.append("dbt") or "true")
        with pytest.raises(DbtError) as caught:
            run_dbt("build", Settings(lake_root=str(storage.root)), storage, "r1")
    finally:
        holder.kill()
        holder.wait()
    message = str(caught.value)
    assert message.startswith(f"the warehouse {path} is open in another DuckDB client (")
    assert f"PID {holder.pid}" in message
    assert "close it, then rerun" in message


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_a_killed_cli_takes_its_dbt_child_with_it(tmp_path):
    """SIGKILL cannot be caught: the child is told by the kernel (PR_SET_PDEATHSIG)."""
    lake = tmp_path / "lake"
    for entity in ("customers", "charges", "payment_intents", "invoices", "events"):
        part = lake / f"bronze/source=stripe/entity={entity}/dt=2026-01-01/run_id=r0"
        part.mkdir(parents=True)
        (part / "part-00000.jsonl").write_text("")
    env = {**os.environ, "LAKE_ROOT": str(lake)}
    env.pop("RUN_ID", None)
    cli = subprocess.Popen(
        [sys.executable, "-m", "extractor", "run-transforms", "--run-id", "killed"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    children: list[int] = []
    while not children and time.monotonic() < deadline and cli.poll() is None:
        children = _children(cli.pid)
        time.sleep(0.05)
    assert children, "run-transforms never started dbt"
    os.kill(cli.pid, signal.SIGKILL)
    cli.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)], "dbt outlived the killed CLI"
