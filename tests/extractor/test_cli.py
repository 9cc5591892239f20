"""The CLI as a user meets it: exit codes, one-line errors, summary, status, unlock, and a
SIGKILLed run followed by a rerun that loses no window."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from extractor.cli import main
from extractor.lake.lock import RunLock
from extractor.lake.manifest import read_manifest
from extractor.lake.storage import storage_for
from extractor.lake.watermarks import read_watermark
from extractor.settings import Settings
from tests.extractor.conftest import API_KEY, DAY, ENTITY_PATHS, NOW
from tests.support.cli import run_cli, start_cli
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(fake, lake, monkeypatch):
    env = {
        "STRIPE_API_BASE": fake.url,
        "STRIPE_API_KEY": API_KEY,
        "LAKE_ROOT": lake,
        "STRIPE_RATE_LIMIT_RPS": "5000",
        "STRIPE_PAGE_LIMIT": "10",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RUN_ID", raising=False)
    if lake.startswith("s3://"):
        env["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    return env


def lake_storage():
    return storage_for(Settings.from_env())


def test_run_all_prints_summary_and_status(cli_env, capsys):
    assert main(["run-all", "--days", "2", "--run-id", "cli-1"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("run cli-1 succeeded (run-all,")
    # 4 entities x 48, the ledger ones empty, and one balance snapshot
    assert "charges" in out and "total 193 records" in out
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {entry["run_id"] for entry in logs} == {"cli-1"}
    assert any(entry["event"] == "watermark_committed" for entry in logs)
    assert API_KEY not in out + err

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "charges              2026-01-09T00:00:00Z  (run cli-1)" in out
    assert "lock: free" in out
    assert "cli-1  run-all   succeeded" in out


def test_second_run_logs_that_it_continues_incrementally(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("RUN_ID", "env-run")
    assert main(["run-batch", "--entity", "charges", "--days", "1"]) == 0
    assert main(["run-batch", "--entity", "charges", "--days", "7", "--run-id", "cli-2"]) == 0
    err = capsys.readouterr().err
    notes = [json.loads(x) for x in err.splitlines() if "continuing_incrementally" in x]
    assert notes[0]["entity"] == "charges" and notes[0]["run_id"] == "cli-2"
    assert "--days 7 applies only to a first run" in notes[0]["detail"]
    storage = lake_storage()
    assert read_manifest(storage, "env-run")["extract"]["status"] == "succeeded"


def test_unreachable_api_is_one_clear_line(cli_env, capsys, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("STRIPE_API_BASE", url)
    assert main(["run-all", "--run-id", "down-1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("payments-pipeline: error: run down-1 failed: the Stripe API at " + url)
    assert "start the mock with `make mock-api`" in err
    storage = lake_storage()
    assert read_manifest(storage, "down-1")["extract"]["status"] == "failed"
    assert storage.get("_state/lock.json") is None


def test_locked_lake_exit_code_and_unlock(cli_env, capsys):
    storage = lake_storage()
    holder = RunLock(storage, "holder", "run-all")
    holder.acquire()
    assert main(["run-all", "--run-id", "second"]) == 3
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("payments-pipeline: error: lake ")
    assert "is locked by run holder (run-all)" in err
    assert main(["unlock"]) == 3  # our own pid is alive: refuse
    assert "still alive on this host" in capsys.readouterr().err
    assert main(["unlock", "--force"]) == 0
    assert capsys.readouterr().out.startswith("cleared lock of run holder")


@pytest.mark.parametrize("command", ["run-transforms", "run-quality"])
def test_dbt_commands_before_any_extract_say_to_extract_first(cli_env, capsys, command):
    assert main([command, "--run-id", "early"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    storage = lake_storage()
    assert err[0] == (
        f"payments-pipeline: error: nothing was ever extracted into {storage.root} (no "
        "watermark, no Bronze): extract first (`make extract` or `payments-pipeline run-all "
        "--days 3`) with the same LAKE_ROOT"
    )
    assert storage.get("_state/lock.json") is None
    assert read_manifest(storage, "early") is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["run-all", "--run-id", "../evil"], "invalid run id '../evil'"),
        (["run-all", "--days", "0"], "argument --days: 0 is not between 1 and 36500"),
        (["run-all", "--days", "99999999999"], "99999999999 is not between 1 and 36500"),
        (["run-pipeline", "--days", "ten"], "argument --days: 'ten' is not a whole number"),
        (["backfill", "--start", "2026-01-01", "--end", "99999-01-01"], "not a YYYY-MM-DD"),
        (["run-batch", "--entity", "nope"], "argument --entity: invalid choice: 'nope'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(cli_env, capsys, bad, message):
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert err.startswith("payments-pipeline: error: ") and message in err, err
    assert "Traceback" not in err and err.count("\n") == 1


def test_backfill_to_the_end_of_the_calendar_stops_at_the_api_clock(cli_env, capsys):
    assert main(["backfill", "--start", "2026-01-05", "--end", "9999-12-31", "--run-id", "b"]) == 0
    window = read_manifest(lake_storage(), "b")["extract"]["entities"]["charges"]["window"]
    assert window["lt"] == NOW


def test_backfill_rejects_bad_dates(cli_env, capsys):
    assert main(["backfill", "--start", "2026-01-05", "--end", "2026-01-04"]) == 2
    assert "--end 2026-01-04 is before --start 2026-01-05" in capsys.readouterr().err


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_loses_no_window(fake, cli_env, tmp_path):
    fake.delay = 0.05  # slow pages so the kill lands mid-run
    env = {**os.environ, **cli_env, "STRIPE_RATE_LIMIT_RPS": "200", "EXTRACT_MAX_WORKERS": "2"}
    proc = start_cli("run-all", "--days", "5", "--run-id", "killed", env=env, text=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(fake.requests) < 15:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    storage = lake_storage()
    assert storage.get("_state/lock.json") is not None  # left behind by the dead run
    assert read_manifest(storage, "killed")["extract"]["status"] == "running"
    assert read_watermark(storage, "charges") is None

    fake.delay = 0.0
    env["RUN_ID"] = "rerun"
    done = run_cli("run-all", "--days", "5", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "stale_lock_taken_over" in done.stderr
    for name, path in ENTITY_PATHS.items():
        got = set()
        for key in storage.list(f"bronze/source=stripe/entity={name}/"):
            if "/run_id=rerun/" in key:
                got |= {json.loads(x)["data"]["id"] for x in storage.get(key).splitlines()}
        expected = {o["id"] for o in fake.objects[path] if NOW - 5 * DAY <= o["created"] < NOW}
        assert got == expected
        assert read_watermark(storage, name).watermark == NOW


def seed_payouts(fake, count: int = 6, items: int = 3) -> dict[str, set[str]]:
    """Payouts in the window, each with its own transactions behind `?payout=`."""
    want = {}
    for p in range(count):
        payout = fake.add("/v1/payouts", {"id": f"po_{p}", "created": NOW - (p + 1) * 3600})
        txns = [
            {"id": f"txn_{p}_{i}", "amount": 100 + i, "fee": 3, "net": 97 + i, "currency": "usd"}
            for i in range(items)
        ]
        fake.add_payout_items(payout["id"], txns)
        want[payout["id"]] = {t["id"] for t in txns}
    return want


def test_a_crash_mid_child_stream_lists_the_rest_on_the_next_run_and_nothing_twice(fake, cli_env):
    """The child stream is resumable: killed after the first payout's transactions, the
    run commits nothing; the next run lists every payout's, and a third lists none again."""
    want = seed_payouts(fake)
    env = {
        **os.environ,
        **cli_env,
        "PIPELINE_FAILPOINTS": "extract.children_listed",
        "EXTRACT_MAX_WORKERS": "1",
    }
    killed = run_cli("run-all", "--days", "1", "--run-id", "killed", env=env, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    storage = lake_storage()
    assert storage.get("_state/children/payout_balance_transactions.json") is None
    assert read_watermark(storage, "payouts") is None

    del env["PIPELINE_FAILPOINTS"]
    done = run_cli("run-all", "--days", "1", "--run-id", "rerun", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [
        json.loads(line)
        for key in storage.list("bronze/source=stripe/entity=payout_balance_transactions/")
        if "/run_id=rerun/" in key
        for line in storage.get(key).splitlines()
    ]
    got: dict[str, set[str]] = {}
    for line in lines:
        got.setdefault(line["_parent_id"], set()).add(line["data"]["id"])
    assert got == want and len(lines) == sum(len(v) for v in want.values())
    state = json.loads(storage.get("_state/children/payout_balance_transactions.json"))
    assert state["parents_listed"] == sorted(want) and state["run_id"] == "rerun"

    fake.requests.clear()
    again = run_cli("run-all", "--days", "1", "--run-id", "third", env=env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert not [r for r in fake.requests if "payout" in r["query"]]
    assert '"parents":0' in again.stderr.replace(" ", "")


def test_an_unreadable_child_state_stops_the_run_before_any_fetch(fake, cli_env, capsys):
    seed_payouts(fake, count=1)
    storage = lake_storage()
    storage.put("_state/children/payout_balance_transactions.json", b"{not json")
    assert main(["run-all", "--days", "1", "--run-id", "bad-state"]) == 1
    err = capsys.readouterr().err
    assert "payout_balance_transactions.json is unreadable" in err
    assert not [r for r in fake.requests if r["path"] != "/v1/events"]
    assert read_watermark(storage, "charges") is None
