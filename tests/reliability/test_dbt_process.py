"""dbt as a child process: what its failures look like, and that it never outlives the CLI."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extractor import logs
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
    monkeypatch.setattr(dbt, "session_command", lambda: [fake_dbt(tmp_path, "kill -9 $$")])
    storage = LocalStorage(tmp_path / "lake")
    with pytest.raises(DbtError) as caught:
        run_dbt("build", Settings(lake_root=str(tmp_path / "lake")), storage, "r1")
    assert str(caught.value).startswith("dbt build was killed by SIGKILL")
    assert "project or profile" not in str(caught.value)


def test_a_warehouse_held_by_another_client_is_named_before_dbt_runs(tmp_path, monkeypatch):
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
        monkeypatch.setattr(dbt, "session_command", lambda: started.append("dbt") or ["true"])
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


FAKE_SESSION = """#!{python}
import json, sys
from pathlib import Path
sys.stdin.readline()  # like the real child: the plan is written before this line comes
plan = json.loads(Path(sys.argv[1]).read_text())
with open({starts!r}, "a") as starts:
    starts.write(" + ".join(c["command"] for c in plan["commands"]) + "\\n")
codes = []
for command in plan["commands"]:
    code = {codes!r}.get(command["command"], 0)
    status = "fail" if code else "pass"
    Path(command["save_as"]).write_text(json.dumps({{
        "elapsed_time": 1.5,
        "results": [{{"unique_id": "test.p." + command["command"].split()[-1] + ".x",
                      "status": status}}]}}))
    codes.append(code)
    Path(plan["status"]).write_text(json.dumps(codes))
    if code and plan["stop_after_failure"]:
        break
"""


def fake_session(tmp_path: Path, codes: dict[str, int]) -> tuple[list[str], Path]:
    starts = tmp_path / "starts.txt"
    script = tmp_path / "session"
    script.write_text(FAKE_SESSION.format(python=sys.executable, starts=str(starts), codes=codes))
    script.chmod(0o755)
    return [str(script)], starts


def test_a_run_starts_one_dbt_child_for_build_and_freshness(tmp_path, monkeypatch):
    command, starts = fake_session(tmp_path, {})
    monkeypatch.setattr(dbt, "session_command", lambda: command)
    storage = LocalStorage(tmp_path / "lake")
    build, fresh = dbt.run_dbt_session(
        ["build", "source freshness"], Settings(lake_root=str(storage.root)), storage, "r1"
    )
    assert starts.read_text() == "build + source freshness\n"
    assert (build.command, build.counts, build.ok) == ("build", {"pass": 1}, True)
    assert (fresh.command, fresh.counts, fresh.elapsed_seconds) == (
        "source freshness",
        {"pass": 1},
        1.5,
    )


def test_a_failed_build_ends_the_child_before_freshness(tmp_path, monkeypatch):
    command, starts = fake_session(tmp_path, {"build": 1})
    monkeypatch.setattr(dbt, "session_command", lambda: command)
    storage = LocalStorage(tmp_path / "lake")
    outcomes = dbt.run_dbt_session(
        ["build", "source freshness"], Settings(lake_root=str(storage.root)), storage, "r1"
    )
    assert [(o.command, o.ok, o.counts) for o in outcomes] == [("build", False, {"fail": 1})]


def test_run_quality_checks_freshness_even_after_failed_tests(tmp_path, monkeypatch):
    command, _ = fake_session(tmp_path, {"test": 1})
    monkeypatch.setattr(dbt, "session_command", lambda: command)
    storage = LocalStorage(tmp_path / "lake")
    outcomes = dbt.run_dbt_session(
        ["test", "source freshness"],
        Settings(lake_root=str(storage.root)),
        storage,
        "r1",
        stop_after_failure=False,
    )
    assert [(o.command, o.ok) for o in outcomes] == [("test", False), ("source freshness", True)]


WAITING_SESSION = """#!{python}
import sys
from pathlib import Path
log = Path({log!r})
log.write_text("started " + " ".join(sys.argv[1:]) + "\\n")
line = sys.stdin.readline()
with log.open("a") as out:
    out.write("environment received\\n" if line.strip() else "ended without a plan\\n")
"""


def test_run_pipeline_starts_dbt_before_extracting_and_ends_it_when_extraction_fails(
    tmp_path, monkeypatch
):
    """dbt's import overlaps the extraction; a failed extraction leaves no dbt behind."""
    from extractor import pipeline
    from extractor.context import RunContext
    from extractor.exits import PipelineError

    log = tmp_path / "session.log"
    script = tmp_path / "session"
    script.write_text(WAITING_SESSION.format(python=sys.executable, log=str(log)))
    script.chmod(0o755)
    monkeypatch.setattr(dbt, "session_command", lambda: [str(script)])
    seen_during_extraction: list[str] = []

    def failing_extract(ctx, plan):
        deadline = time.monotonic() + 30
        while not (log.exists() and log.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "the dbt child did not start"
            time.sleep(0.02)
        seen_during_extraction.append(log.read_text())
        raise PipelineError("the API is down")

    monkeypatch.setattr(pipeline, "extract", failing_extract)
    storage = LocalStorage(tmp_path / "lake")
    ctx = RunContext(Settings(lake_root=str(storage.root)), storage, "r1")
    with pytest.raises(PipelineError, match="the API is down"):
        pipeline.run_pipeline(ctx, plan=None)
    target = dbt.lake_target_dir(storage)
    assert seen_during_extraction == [f"started {target / 'session-plan.json'} --wait\n"]
    # Killed (or told there is no plan): either way it never received an environment.
    assert "environment received" not in log.read_text()
    assert not (target / "session-status.json").exists()


def test_the_waiting_session_ends_quietly_when_no_plan_comes(tmp_path):
    """End of input instead of the environment: exit 0, the plan (absent here) never read."""
    session = subprocess.run(
        [
            sys.executable,
            "-m",
            "extractor.transform.dbt_session",
            str(tmp_path / "p.json"),
            "--wait",
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (session.returncode, session.stdout, session.stderr) == (0, "", "")


def test_a_child_that_died_while_waiting_is_replaced(tmp_path, monkeypatch):
    """A child that ended before its plan (it could not import dbt, or was killed) is not
    handed the plan: a new one runs it, and the log says so."""
    command, starts = fake_session(tmp_path, {})
    monkeypatch.setattr(dbt, "session_command", lambda: [str(fake_dbt(tmp_path, "exit 3"))])
    storage = LocalStorage(tmp_path / "lake")
    settings = Settings(lake_root=str(storage.root))
    early = dbt.DbtChild(settings, storage, "r1")
    early.process.wait(timeout=30)
    monkeypatch.setattr(dbt, "session_command", lambda: command)
    log = io.StringIO()
    logs.configure("r1", stream=log)
    try:
        (build,) = dbt.run_dbt_session(["build"], settings, storage, "r1", child=early)
    finally:
        logs.configure(None)  # back to stderr, as an in-process CLI command leaves it
    assert (build.command, build.ok, starts.read_text()) == ("build", True, "build\n")
    assert '"event":"dbt_child_restarted"' in log.getvalue()
    assert "exited 3 while it waited" in log.getvalue()


@pytest.mark.parametrize("allocator", ["dirty_decay_ms:0,muzzy_decay_ms:0", None])
def test_an_allocator_setting_that_comes_with_the_plan_restarts_the_child(tmp_path, allocator):
    """The jemalloc inside DuckDB reads DUCKDB_JE_MALLOC_CONF once, when dbt's import loads
    DuckDB, which the waiting child has done before its environment comes. So a large lake's
    setting makes the child exec itself with it: the process that reads the plan (a FIFO,
    so it is caught reading) was started with the setting and without `--wait`. Without one
    it is the same process, still the `--wait` one."""
    env = {k: v for k, v in os.environ.items() if k != "DUCKDB_JE_MALLOC_CONF"}
    plan = tmp_path / "plan.json"
    os.mkfifo(plan)
    session = subprocess.Popen(
        [sys.executable, "-m", "extractor.transform.dbt_session", str(plan), "--wait"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        sent = {**env, **({"DUCKDB_JE_MALLOC_CONF": allocator} if allocator else {})}
        session.stdin.write(json.dumps({"environment": sent, "interruptible": False}) + "\n")
        session.stdin.close()
        writer = None
        deadline = time.monotonic() + 120
        while writer is None:  # opens once the session opens the plan to read it
            assert session.poll() is None, session.stderr.read()
            assert time.monotonic() < deadline, "the session never read its plan"
            try:
                writer = os.open(plan, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.05)
        proc = Path(f"/proc/{session.pid}")
        started_with = (proc / "environ").read_bytes().split(b"\0")
        command = (proc / "cmdline").read_bytes().split(b"\0")
        os.write(writer, json.dumps({"commands": [], "parse_args": [], "status": "-"}).encode())
        os.close(writer)
        assert session.wait(timeout=120) == 2, session.stderr.read()  # an empty plan
    finally:
        session.kill()
        session.wait()
        session.stdout.close()
        session.stderr.close()
    setting = [entry for entry in started_with if entry.startswith(b"DUCKDB_JE_MALLOC_CONF=")]
    assert setting == ([f"DUCKDB_JE_MALLOC_CONF={allocator}".encode()] if allocator else [])
    assert (b"--wait" in command) is (allocator is None)


EXIT_PROBE = """
import atexit, os, sys
from pathlib import Path
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.adapters.duckdb.environments.local import LocalEnvironment
from extractor.transform.dbt_session import exit_without_teardown
db, how = Path(sys.argv[1]), sys.argv[2]
env = LocalEnvironment(DuckDBCredentials(database="w", schema="main", path=str(db)))
handle = env.handle()  # held, as a leaked connection would hold it
handle.cursor().execute("create table kept as select 42 as answer")
DuckDBConnectionManager._ENV = env
atexit.register(lambda: (db.parent / "exit-handlers-ran").write_text("yes"))


class Witness:  # freed by Python's teardown, as dbt's objects are
    def __del__(self):
        (db.parent / "teardown-ran").write_text("yes")


witness = Witness()
print("buffered, not flushed yet", end="")
if how == "session":
    exit_without_teardown(3)
elif how == "bare":
    sys.stdout.flush()
    os._exit(3)
sys.exit(3)
"""


def exit_probe(folder: Path, how: str) -> list[str]:
    """Run EXIT_PROBE ending `how`; the files it left next to its warehouse."""
    folder.mkdir()
    probe = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, str(folder / "warehouse.duckdb"), how],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (probe.returncode, probe.stdout) == (3, "buffered, not flushed yet"), probe.stderr
    return sorted(p.name for p in folder.iterdir())


def test_the_session_ends_without_teardown_but_closes_the_warehouse_first(tmp_path):
    """The child skips Python's teardown (~0.6 s of freeing dbt's objects), not what the
    teardown did that matters: a warehouse handle still open is closed, so DuckDB checkpoints
    its write-ahead log into the file; exit handlers run; stdout is flushed; the code is the
    session's. The controls show what each probe can see: a normal exit runs the teardown
    (the witness object is freed), and a bare os._exit leaves warehouse.duckdb.wal behind."""
    assert exit_probe(tmp_path / "session", "session") == ["exit-handlers-ran", "warehouse.duckdb"]
    assert "teardown-ran" in exit_probe(tmp_path / "normal", "normal")
    assert "warehouse.duckdb.wal" in exit_probe(tmp_path / "bare", "bare")
    import duckdb

    with duckdb.connect(str(tmp_path / "session" / "warehouse.duckdb"), read_only=True) as reader:
        assert reader.execute("select answer from kept").fetchall() == [(42,)]
