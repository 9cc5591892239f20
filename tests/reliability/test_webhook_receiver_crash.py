"""The webhook receiver killed under load: every event that got a 2xx is stored exactly once.

The real `run-webhooks` server takes a few thousand signed deliveries (half of them duplicated,
shuffled, eight at a time) and is SIGKILLed while they arrive. Whatever the receiver
acknowledged must then be in Bronze exactly once, under its created date, readable, and
nothing half-written may be readable as an event. A restarted receiver then takes the same
deliveries again: what was stored answers `duplicate`, keeps its first copy, and every event of
the window ends up stored exactly once. On local disk and on moto S3.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from extractor.lake.layout import WEBHOOK_ENTITY, bronze_entity
from extractor.lake.storage import LocalStorage
from extractor.settings import Settings
from extractor.transform.warehouse import connect_with_httpfs, s3_secret_sql
from mock_api.dataset import Dataset, MockConfig, parse_time
from mock_api.send_webhooks import select_events
from tests.support.servers import REPO_ROOT, ServerProcess, free_port, start_server
from tests.webhooks.conftest import SECRET, run_webhooks_cmd, server_env

# The webhook captures' folder, without its trailing slash.
PREFIX = bronze_entity(WEBHOOK_ENTITY).rstrip("/")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
# The dataset starts where the longest window does, so building it costs ~1 s, not the ~10 s
# of the default 50-day history. At the default volume, three days are ~2,100 events and
# ~3,200 deliveries (local disk); moto takes each put several times slower, so S3 gets the
# last day only (~700 events, ~1,050 deliveries): still a load the kill lands in the middle of.
START_DATE = "2026-02-17"
DATASET = MockConfig(seed=42, start_date=START_DATE, volume=200)
CONCURRENCY = 8
EVENT_FILE = re.compile(r"dt=(\d{4}-\d{2}-\d{2})/([A-Za-z0-9][A-Za-z0-9_-]*)\.json")
# LocalStorage's temp files: hidden, next to their target, `.<name>.<random>.tmp`.
TEMP_FILE = re.compile(r"dt=\d{4}-\d{2}-\d{2}/\.([A-Za-z0-9][A-Za-z0-9_-]*\.json)\.[^/]+\.tmp")


def window_events(since: str) -> dict[str, str]:
    """Event id -> created date (the partition it must be stored under) of the sent window."""
    return {
        e["id"]: datetime.fromtimestamp(e["created"], UTC).date().isoformat()
        for e in select_events(Dataset(DATASET), NOW, parse_time(since), NOW + 1)
    }


def sender_cmd(url: str, since: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mock_api.send_webhooks",
        "--to",
        f"{url}/webhooks/stripe",
        "--secret",
        SECRET,
        "--now",
        str(NOW),
        "--since",
        since,
        "--start-date",
        START_DATE,
        "--mock-seed",
        str(DATASET.seed),
        "--volume",
        str(DATASET.volume),
        "--duplicate-rate",
        "0.5",
        "--reorder",
        "--concurrency",
        str(CONCURRENCY),
        "--seed",
        "11",
        # A dead receiver refuses connections at once; without retries the rest of the
        # deliveries fail in well under a second instead of backing off one by one.
        "--retries",
        "0",
    ]


@dataclass
class Lake:
    """The webhook folder of one lake, seen directly (files or S3 keys), not through Storage."""

    root: str
    listing: Callable[[], dict[str, str]]  # every path under PREFIX -> content fingerprint
    duckdb: duckdb.DuckDBPyConnection  # can read the lake's glob, as dbt does

    def event_files(self) -> dict[str, str]:
        return {k: v for k, v in self.listing().items() if EVENT_FILE.fullmatch(k)}


def local_lake(root: Path) -> Lake:
    folder = root / PREFIX

    def listing() -> dict[str, str]:
        if not folder.is_dir():
            return {}
        found = {}
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                path = Path(dirpath, name)
                key = path.relative_to(folder).as_posix()
                # Temp files come and go while the receiver runs; event files never do. A
                # replaced file would have a new inode (write + rename) or mtime.
                if EVENT_FILE.fullmatch(key):
                    stat = path.stat()
                    found[key] = f"{stat.st_ino}:{stat.st_mtime_ns}"
                else:
                    found[key] = ""
        return found

    return Lake(str(root), listing, duckdb.connect())


def s3_lake_view(lake_root: str, env: dict[str, str]) -> Lake:
    import boto3

    bucket, _, prefix = lake_root[len("s3://") :].partition("/")
    base = f"{prefix}/{PREFIX}/"
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])

    def listing() -> dict[str, str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base)
        return {
            item["Key"][len(base) :]: item["ETag"]
            for page in pages
            for item in page.get("Contents", [])
        }

    con = connect_with_httpfs()
    con.execute(s3_secret_sql(Settings.from_env(env), env))
    return Lake(lake_root, listing, con)


def stored_exactly_once(lake: Lake, window: dict[str, str]) -> dict[str, str]:
    """Each stored event is an event of the window, under its created date, in one file only;
    returns event id -> its path under PREFIX."""
    files = lake.event_files()
    by_id: dict[str, list[str]] = {}
    for path in files:
        date, event_id = EVENT_FILE.fullmatch(path).groups()
        by_id.setdefault(event_id, []).append(path)
        assert event_id in window, f"{path}: not an event of the sent window"
        assert date == window[event_id], f"{path}: event was created on {window[event_id]}"
    twice = {event_id: paths for event_id, paths in by_id.items() if len(paths) > 1}
    assert not twice, f"events stored more than once: {twice}"
    return {event_id: paths[0] for event_id, paths in by_id.items()}


def assert_read_as_dbt_reads_them(lake: Lake, stored: dict[str, str]) -> None:
    """The glob stg_stripe__webhook_events reads yields exactly the stored events, each whole
    JSON whose event is the one its file name says, and nothing else (no partial, no temp)."""
    glob = f"{lake.root}/{PREFIX}/dt=*/*.json"
    rows = lake.duckdb.sql(
        "select data->>'$.id', _event_id, _source, filename from read_json("
        f"'{glob}', format='auto', filename=true, "
        "columns={'_event_id': 'VARCHAR', '_source': 'VARCHAR', 'data': 'JSON'})"
    ).fetchall()
    assert sorted(row[0] for row in rows) == sorted(stored)
    for data_id, event_id, source, filename in rows:
        assert filename.endswith(f"/{stored[data_id]}"), filename
        assert (event_id, source) == (data_id, "webhook"), filename


def assert_no_readable_partials(lake: Lake, stored: dict[str, str]) -> None:
    """A kill may leave LocalStorage temp files behind, but never where a reader looks."""
    leftovers = sorted(set(lake.listing()) - set(stored.values()))
    if lake.root.startswith("s3://"):
        # S3 puts are atomic: nothing but whole event objects can exist.
        assert leftovers == []
        return
    # At most one per request in flight when the kill landed, each hidden and named `.tmp`,
    # so neither LocalStorage.list nor dbt's `dt=*/*.json` glob picks it up.
    assert len(leftovers) <= CONCURRENCY, leftovers
    assert all(TEMP_FILE.fullmatch(path) for path in leftovers), leftovers
    listed = {key[len(PREFIX) + 1 :] for key in LocalStorage(lake.root).list(f"{PREFIX}/")}
    assert listed == set(stored.values())


def run_sender(url: str, since: str, out: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(out, "wb") as stdout:
        return subprocess.Popen(
            sender_cmd(url, since), cwd=REPO_ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT
        )


def summary_of(process: subprocess.Popen, out: Path, timeout: float = 120) -> dict:
    process.wait(timeout=timeout)
    lines = out.read_text().strip().splitlines()
    assert lines, f"sender printed nothing (exit {process.returncode})"
    return json.loads(lines[-1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Callable[[str], ServerProcess]]:
    started: list[ServerProcess] = []

    def start(lake_root: str) -> ServerProcess:
        port = free_port()
        server = start_server(
            "webhooks",
            run_webhooks_cmd("--port", str(port)),
            port,
            env=server_env(lake_root, SECRET),
            log_dir=tmp_path,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def kill_mid_load_then_resend(
    lake: Lake,
    receivers: Callable[[str], ServerProcess],
    tmp_path: Path,
    since: str,
    kill_after_stored: int,
) -> None:
    """Kill the receiver once `kill_after_stored` events are stored, check, restart, re-send."""
    window = window_events(since)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    # 1. Deliver under load; SIGKILL the receiver once some events are stored.
    receiver = receivers(lake.root)
    out = tmp_path / "sender-1.out"
    sender = run_sender(receiver.url, since, out, env)
    try:
        wait_until(
            lambda: len(lake.event_files()) >= kill_after_stored or sender.poll() is not None,
            timeout=60,
            what=f"{kill_after_stored} stored events",
        )
        assert sender.poll() is None, "the sender finished before the kill: send more events"
        receiver.kill()
        assert receiver.process.returncode == -9
        first = summary_of(sender, out)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 1
    assert first["events"] == len(window)
    acknowledged = set(first["acknowledged_ids"])
    failed = set(first["failed_ids"])
    # The kill really landed mid-load: some deliveries were acknowledged, many were not.
    assert kill_after_stored - CONCURRENCY <= len(acknowledged) < len(window) / 2
    assert first["failed"] > len(window) / 2
    # Refused connections only: a 5xx would mean the receiver failed a write before the kill.
    assert set(first["statuses"]) == {"200", "connection_error"}

    stored = stored_exactly_once(lake, window)
    assert acknowledged <= set(stored), f"acknowledged, not stored: {acknowledged - set(stored)}"
    assert set(window) - failed <= set(stored)
    # Stored but unacknowledged: only a request in flight when the kill landed.
    assert len(set(stored) - acknowledged) <= CONCURRENCY
    assert_read_as_dbt_reads_them(lake, stored)
    assert_no_readable_partials(lake, stored)
    before = lake.event_files()

    # 2. A new receiver; the same deliveries again.
    receiver = receivers(lake.root)
    out = tmp_path / "sender-2.out"
    second = summary_of(run_sender(receiver.url, since, out, env), out)
    assert (second["failed"], second["failed_ids"]) == (0, [])
    assert second["sent"] == second["deliveries"] == first["deliveries"]
    assert set(second["acknowledged_ids"]) == set(window)
    # Exactly the events not stored yet were created once; every other delivery was a duplicate.
    created = len(window) - len(stored)
    assert second["acknowledged_duplicates"] == second["deliveries"] - created

    final = stored_exactly_once(lake, window)
    assert set(final) == set(window)
    after = lake.event_files()
    assert {path: after[path] for path in before} == before, "a stored copy was replaced"
    assert_read_as_dbt_reads_them(lake, final)
    assert_no_readable_partials(lake, final)


def test_receiver_killed_under_load_on_local_disk(receivers, tmp_path: Path) -> None:
    lake = local_lake(tmp_path / "lake")
    kill_mid_load_then_resend(lake, receivers, tmp_path, since=START_DATE, kill_after_stored=300)


def test_receiver_killed_under_load_on_s3(
    s3_lake: dict[str, str], receivers, tmp_path: Path
) -> None:
    lake = s3_lake_view(s3_lake["LAKE_ROOT"], {**os.environ, **s3_lake})
    kill_mid_load_then_resend(lake, receivers, tmp_path, since="2026-02-19", kill_after_stored=100)
