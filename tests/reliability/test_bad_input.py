"""Bad input and configuration: each case fails loudly and commits nothing.

Every case runs the real CLI (`python -m extractor`) in a child process, against the real mock
API where an API is needed, and checks three things: a one-line message that says what is wrong
and where, a non-zero exit (2 for configuration and arguments, 1 for a run that failed), and a
lake with nothing committed (no watermark, no manifest claiming success, no Bronze part under a
succeeded run, the lock released).

The full-disk cases are the exception to "child process" where the fault has to be injected:
a storage whose disk fills after a few writes is swapped in for `storage_for` in-process, and,
when this machine lets us mount one, a real 1 MiB tmpfs is filled by a child process.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
import subprocess
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from extractor import context
from extractor.cli import main
from extractor.lake.manifest import read_manifest
from extractor.lake.storage import LocalStorage, Storage
from extractor.lake.watermarks import read_watermark
from extractor.settings import Settings
from extractor.streams import ENTITY_STREAMS, WATERMARKED_STREAMS
from mock_api.dataset import DAY, CreatedFilter, Dataset, MockConfig, parse_time
from tests.dbt.expected import feed_types
from tests.support.cli import child_env, run_cli
from tests.support.paging import page_all_of
from tests.support.servers import ServerProcess, free_port, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
# Settings the parent test process may carry; each case sets exactly what it needs.
CLEARED = (
    "RUN_ID",
    "LAKE_ROOT",
    "STRIPE_API_BASE",
    "STRIPE_API_KEY",
    "AWS_ENDPOINT_URL",
    "SAFETY_WINDOW_SECONDS",
    "STRIPE_MAX_RETRIES",
    "PIPELINE_FAILPOINTS",
)


def run_bare(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The CLI with none of CLEARED inherited: only the settings `env` gives (and the rate)."""
    return run_cli(*args, env=child_env(clear=CLEARED, **env), timeout=120)


def last_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def assert_nothing_committed(storage: Storage) -> None:
    """No watermark, no manifest claiming success, no part of a succeeded run, lock free."""
    assert list(storage.list("_state/watermarks/")) == []
    succeeded = set()
    for key in storage.list("_state/manifests/"):
        doc = json.loads(storage.get(key) or b"{}")
        if (doc.get("extract") or {}).get("status") == "succeeded":
            succeeded.add(doc["run_id"])
    assert succeeded == set()
    for key in storage.list("bronze/"):
        run_id = re.search(r"/run_id=([^/]+)/", key)
        assert run_id is None or run_id.group(1) not in succeeded, key
    assert storage.get("_state/lock.json") is None


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_mock_api({"MOCK_NOW": str(NOW)}, tmp_path_factory.mktemp("mock"))
    yield server
    server.stop()


# -- configuration and arguments: exit 2 before anything touches the lake --------------------

CLOSED = f"http://127.0.0.1:{free_port()}"  # any API call would fail; none must be made

BAD_SETTINGS = [
    pytest.param(
        {"LAKE_ROOT": "ftp://x"},
        ["run-all"],
        "configuration error: LAKE_ROOT='ftp://x': only a local path or s3://bucket/prefix",
        id="lake-root-ftp",
    ),
    pytest.param(
        {"LAKE_ROOT": "s3://"},
        ["run-all"],
        "configuration error: LAKE_ROOT='s3://' has no bucket: use s3://bucket/prefix",
        id="lake-root-s3-no-bucket",
    ),
    pytest.param(
        {"LAKE_ROOT": "s3:///lake"},
        ["run-pipeline", "--days", "1"],
        "configuration error: LAKE_ROOT='s3:///lake' has no bucket",
        id="lake-root-s3-empty-bucket",
    ),
    pytest.param(
        {"SAFETY_WINDOW_SECONDS": "10m"},
        ["run-all"],
        "configuration error: SAFETY_WINDOW_SECONDS='10m' is not an integer",
        id="safety-window-not-integer",
    ),
    pytest.param(
        {"SAFETY_WINDOW_SECONDS": "-60"},
        ["run-batch", "--entity", "charges"],
        "configuration error: SAFETY_WINDOW_SECONDS=-60 must be >= 0",
        id="safety-window-negative",
    ),
    pytest.param(
        {"STRIPE_API_BASE": "127.0.0.1:8000"},
        ["run-all"],
        "configuration error: STRIPE_API_BASE='127.0.0.1:8000' must start with http:// or https://",
        id="api-base-without-scheme",
    ),
    pytest.param(
        {"STRIPE_API_KEY": "pk_test_publishable"},
        ["run-all"],
        "configuration error: STRIPE_API_KEY must be a secret (sk_...) or restricted (rk_...) key",
        id="publishable-key",
    ),
    pytest.param(
        {},
        ["run-batch", "--entity", "subscription_schedules"],
        "argument --entity: invalid choice: 'subscription_schedules'",
        id="unknown-entity",
    ),
    pytest.param(
        {},
        ["run-batch", "--entity", "../charges"],
        "argument --entity: invalid choice: '../charges'",
        id="entity-path-traversal",
    ),
    pytest.param(
        {},
        ["run-batch", "--entity", "charges", "--run-id", "../../etc"],
        "error: invalid run id '../../etc': use letters, digits, '_', '-' or '.'",
        id="run-id-flag-traversal",
    ),
    pytest.param(
        {"RUN_ID": "a/b"},
        ["run-all"],
        "error: invalid run id 'a/b': use letters, digits, '_', '-' or '.'",
        id="run-id-env-slash",
    ),
    pytest.param(
        {"RUN_ID": ".."},
        ["run-pipeline", "--days", "1"],
        "error: invalid run id '..'",
        id="run-id-env-dotdot-pipeline",
    ),
    pytest.param(
        {},
        ["backfill", "--start", "2026-01-01", "--end", "2026-01-02", "--run-id", "x/../../y"],
        "error: invalid run id 'x/../../y'",
        id="run-id-traversal-backfill",
    ),
]


@pytest.mark.parametrize(("env", "args", "message"), BAD_SETTINGS)
def test_bad_setting_or_argument_exits_2_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    lake = tmp_path / "deep" / "lake"
    done = run_bare({"LAKE_ROOT": str(lake), "STRIPE_API_BASE": CLOSED, **env}, *args)
    assert done.returncode == 2, done.stderr
    assert message in last_line(done)
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    # Nothing at all was created, inside the lake or next to it (no traversal escaped).
    assert list(tmp_path.rglob("*")) == []


# -- a lake root that cannot be a lake --------------------------------------------------------


@pytest.mark.parametrize("below", ["", "sub/lake"], ids=["file", "below-a-file"])
def test_lake_root_that_is_a_file(tmp_path: Path, below: str) -> None:
    plain = tmp_path / "not-a-dir"
    plain.write_text("precious\n")
    root = plain / below if below else plain
    done = run_bare(
        {"LAKE_ROOT": str(root), "STRIPE_API_BASE": CLOSED},
        "run-all",
        "--run-id",
        "onfile",
    )
    assert done.returncode == 1, done.stderr
    assert last_line(done) == (
        f"payments-pipeline: error: run onfile failed: cannot create "
        f"{root}/_state/lock.json: Not a directory"
    )
    assert "Traceback" not in done.stderr
    assert plain.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-dir"]


# -- the API cannot be reached, or refuses us ---------------------------------------------------


class SlammingServer:
    """A port that accepts TCP connections and closes them at once (a dead backend)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def slamming() -> Iterator[SlammingServer]:
    server = SlammingServer()
    yield server
    server.close()


@pytest.fixture
def dropping_mock(mock_api) -> ServerProcess:
    """The real mock, cutting every /v1 response body in half and closing the connection."""
    return mock_api(MOCK_NOW=NOW, MOCK_FAULTS=json.dumps({"drop_rate": 1.0}))


@pytest.mark.parametrize(
    ("api", "message", "retries"),
    [
        pytest.param(
            "closed",
            "the Stripe API at {url} is not reachable (Connection refused); start the mock "
            "with `make mock-api` or set STRIPE_API_BASE",
            0,  # nothing listens: one line at once, no retry loop against a typo'd URL
            id="closed-port",
        ),
        pytest.param(
            "slamming",
            "GET /v1/events: connection to {url} failed (ConnectionError) "
            "(gave up after 3 attempts)",
            2,
            id="accepts-then-closes",
        ),
        pytest.param(
            "dropping_mock",
            "GET /v1/events: response body from {url} broken in transit "
            "(ChunkedEncodingError) (gave up after 3 attempts)",
            2,
            id="mock-drops-every-body",
        ),
    ],
)
def test_unreachable_api_names_the_url_and_the_retries(
    request, tmp_path: Path, api: str, message: str, retries: int
) -> None:
    url = CLOSED if api == "closed" else request.getfixturevalue(api).url
    lake = tmp_path / "lake"
    env = {"LAKE_ROOT": str(lake), "STRIPE_API_BASE": url, "STRIPE_MAX_RETRIES": "2"}
    done = run_bare(env, "run-all", "--run-id", "down")
    assert done.returncode == 1, done.stderr
    assert last_line(done) == "payments-pipeline: error: run down failed: " + message.format(
        url=url
    )
    logged = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert [e["attempt"] for e in logged if e["event"] == "api_retry"] == list(
        range(1, retries + 1)
    )
    storage = LocalStorage(lake)
    assert_nothing_committed(storage)
    assert list(storage.list("bronze/")) == []
    assert read_manifest(storage, "down")["extract"]["status"] == "failed"


def test_wrong_key_fails_fast_on_401_without_printing_the_key(mock_api, tmp_path: Path) -> None:
    mock = mock_api(MOCK_NOW=NOW, MOCK_API_KEYS="sk_test_right")
    wrong = "sk_test_wrong_" + uuid.uuid4().hex
    lake = tmp_path / "lake"
    env = {"LAKE_ROOT": str(lake), "STRIPE_API_BASE": mock.url, "STRIPE_API_KEY": wrong}
    done = run_bare(env, "run-all", "--run-id", "badkey")
    assert done.returncode == 1, done.stderr
    assert last_line(done) == (
        "payments-pipeline: error: run badkey failed: GET /v1/events returned HTTP 401: "
        "invalid_request_error: Invalid API Key provided. Send it as a Bearer token or as the "
        "basic auth user; check STRIPE_API_KEY"
    )
    assert "api_retry" not in done.stderr
    # Fail fast: exactly one API call reached the mock, no retry of a 401.
    with urllib.request.urlopen(f"{mock.url}/_mock/requests?limit=100") as response:
        calls = [r for r in json.load(response)["data"] if r["path"].startswith("/v1/")]
    assert len(calls) == 1
    # The key is nowhere: not on the terminal, not in any file of the lake.
    assert wrong not in done.stdout + done.stderr
    assert wrong[len("sk_test_") :] not in done.stdout + done.stderr
    for path in lake.rglob("*"):
        if path.is_file():
            assert wrong.encode() not in path.read_bytes(), path
    assert_nothing_committed(LocalStorage(lake))


# -- S3 --------------------------------------------------------------------------------------


def test_s3_bucket_that_does_not_exist(moto_server: ServerProcess, mock: ServerProcess) -> None:
    import boto3
    from botocore.exceptions import ClientError

    bucket = f"missing-{uuid.uuid4().hex[:12]}"
    env = {
        "LAKE_ROOT": f"s3://{bucket}/lake",
        "AWS_ENDPOINT_URL": moto_server.url,
        "STRIPE_API_BASE": mock.url,
    }
    done = run_bare(env, "run-all", "--run-id", "nobucket")
    assert done.returncode == 1, done.stderr
    line = last_line(done)
    assert line.startswith(
        f"payments-pipeline: error: run nobucket failed: cannot create "
        f"s3://{bucket}/lake/_state/lock.json: "
    )
    assert "NoSuchBucket" in line and "The specified bucket does not exist" in line
    assert "Traceback" not in done.stderr
    # The run did not create the bucket behind the operator's back.
    s3 = boto3.client("s3", endpoint_url=moto_server.url)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)


# -- a full disk -----------------------------------------------------------------------------


class FillingDisk(LocalStorage):
    """Local disk that runs out of space after `room` file writes and stays full.

    The ENOSPC is raised where the kernel would raise it (writing the temp file), so the real
    `LocalStorage` error handling runs; deletes still work, as on a real full disk.
    """

    def __init__(self, root: Path, room: int) -> None:
        super().__init__(root)
        self.room = room
        self.writes = 0
        self.refused: list[str] = []
        self._count = threading.Lock()

    def _use_room(self, path: Path) -> None:
        with self._count:
            self.writes += 1
            full = self.writes > self.room
            if full:
                self.refused.append(str(path))
        if full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def _write_temp(self, path: Path, data: bytes) -> str:
        self._use_room(path)
        return super()._write_temp(path, data)

    def _open_temp(self, path: Path) -> tuple[int, str | None]:
        # A Bronze part is streamed into its own temp file: one file write, counted when the
        # temp file is created.
        self._use_room(path)
        return super()._open_temp(path)


def bronze_lines(storage: Storage, entity: str, run_id: str) -> list[dict]:
    out = []
    for key in storage.list(f"bronze/source=stripe/entity={entity}/"):
        if f"/run_id={run_id}/" in key:
            out.extend(json.loads(line) for line in storage.get(key).splitlines())
    return out


def test_disk_full_mid_run_fails_loudly_then_rerun_lands_every_object_once(
    mock_api, tmp_path: Path, monkeypatch, capsys
) -> None:
    mock = mock_api(MOCK_NOW=NOW)
    lake = tmp_path / "lake"
    for key in CLEARED:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LAKE_ROOT", str(lake))
    monkeypatch.setenv("STRIPE_API_BASE", mock.url)
    monkeypatch.setenv("STRIPE_RATE_LIMIT_RPS", "1000")
    monkeypatch.setenv("BRONZE_PART_MAX_RECORDS", "40")  # many parts, so the disk fills mid-run
    storage = LocalStorage(lake)

    assert main(["run-all", "--days", "1", "--run-id", "base"]) == 0
    before = {s.name: read_watermark(storage, s.name) for s in WATERMARKED_STREAMS}
    assert {m.watermark for m in before.values()} == {NOW}

    later = NOW + DAY
    request = urllib.request.Request(
        f"{mock.url}/_mock/clock",
        data=json.dumps({"now": later}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()
    capsys.readouterr()

    # Room for the lock, the manifest and three parts; the sixth write meets a full disk.
    disk = FillingDisk(lake, room=5)
    with monkeypatch.context() as patch:
        patch.setattr(context, "storage_for", lambda settings: disk)
        assert main(["run-all", "--run-id", "full"]) == 1
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    found = re.fullmatch(
        r"payments-pipeline: error: run full failed: cannot write (\S+): No space left on device",
        line,
    )
    assert found, line
    assert found.group(1) in disk.refused
    assert "/run_id=full/part-" in found.group(1)
    assert "Traceback" not in err
    # Nothing moved: every watermark is the one the healthy run wrote, and no success claimed.
    assert {s.name: read_watermark(storage, s.name) for s in WATERMARKED_STREAMS} == before
    assert read_manifest(storage, "full")["extract"]["status"] != "succeeded"
    assert storage.get("_state/lock.json") is None
    assert not [p for p in lake.rglob("*.tmp")], "a temp file of a failed write was left behind"

    # Space is back: the rerun covers the whole window again and lands each object once.
    assert main(["run-all", "--run-id", "rerun"]) == 0
    assert capsys.readouterr().out.startswith("run rerun succeeded")
    for stream in WATERMARKED_STREAMS:
        assert read_watermark(storage, stream.name).watermark == later
    # The oracle is the mock's own list of the window [old watermark - safety, run start).
    dataset = Dataset(MockConfig())
    window = CreatedFilter(gte=NOW - Settings.from_env().safety_window_seconds, lte=later - 1)
    for stream in ENTITY_STREAMS:
        listed = [
            line["data"]["id"]
            for line in bronze_lines(storage, stream.name, "rerun")
            if line["_source"] == "list"
        ]
        assert len(listed) == len(set(listed)), f"{stream.name} listed twice"
        want = api_ids(dataset, stream.name, later, window)
        # A catalog (products, prices, coupons) may have nothing new in a day: normal.
        assert want or stream.first_run_lists_all, stream.name
        assert_lands_all_but_unchanged_rereads(storage, stream.name, set(listed), want)
    events = [line["data"]["id"] for line in bronze_lines(storage, "events", "rerun")]
    assert len(events) == len(set(events))
    want = api_ids(dataset, "events", later, window, feed_types())
    assert want
    assert_lands_all_but_unchanged_rereads(storage, "events", set(events), want)


def assert_lands_all_but_unchanged_rereads(
    storage: LocalStorage, entity: str, landed: set[str], want: set[str]
) -> None:
    """The rerun wrote nothing outside its window, and every object of the window it did not
    write is one the healthy run `base` wrote (an unchanged re-read of the safety window is
    not written again, ADR 0057): nothing is missing."""
    assert landed <= want, entity
    written_before = {line["data"]["id"] for line in bronze_lines(storage, entity, "base")}
    assert want - landed <= written_before, entity


def api_ids(
    dataset: Dataset,
    resource: str,
    now: int,
    window: CreatedFilter,
    types: tuple[str, ...] | None = None,
) -> set[str]:
    """Every id the mock lists for `resource` in `window` at `now`, page by page."""
    if resource == "balance_transactions":  # the ledger is not a stored resource
        listed = page_all_of(dataset.balance_transactions, now, limit=100, created=window)
    else:
        listed = page_all_of(
            dataset.list_page, resource, now, limit=100, created=window, types=types
        )
    return {obj["id"] for obj in listed}


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs, if this machine lets us mount one (root in a container does)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_real_full_filesystem(tiny_disk: Path, mock: ServerProcess) -> None:
    env = {"LAKE_ROOT": str(tiny_disk), "STRIPE_API_BASE": mock.url}
    done = run_bare(env, "run-all", "--days", "5", "--run-id", "tiny")
    assert done.returncode == 1, done.stderr
    line = last_line(done)
    assert re.fullmatch(
        rf"payments-pipeline: error: run tiny failed: cannot write {re.escape(str(tiny_disk))}"
        r"/bronze/source=stripe/entity=\w+/dt=[\d-]+/run_id=tiny/part-\d+\.jsonl: "
        r"No space left on device",
        line,
    ), line
    assert "Traceback" not in done.stderr
    storage = LocalStorage(tiny_disk)
    assert_nothing_committed(storage)
    # The parts that did fit are whole (no torn line) and no temp file was left to fill the disk.
    for key in storage.list("bronze/"):
        for raw in storage.get(key).splitlines():
            json.loads(raw)
    assert not [p for p in tiny_disk.rglob("*") if p.name.endswith(".tmp")]
