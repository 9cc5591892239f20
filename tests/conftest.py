"""Shared fixtures: real servers on loopback (moto S3 here; the mock API in its own module)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.servers import ServerProcess, start_mock_api, start_moto

# Credentials for moto only; real runs take them from the usual AWS chain.
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """One moto_server for the session; each test gets its own bucket via `s3_lake`."""
    os.environ.update(MOTO_ENV)
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def s3_lake(moto_server: ServerProcess, monkeypatch) -> dict[str, str]:
    """A fresh bucket; returns the env (LAKE_ROOT, AWS_ENDPOINT_URL, creds) that selects it."""
    import boto3

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server.url).create_bucket(Bucket=bucket)
    env = {**MOTO_ENV, "LAKE_ROOT": f"s3://{bucket}/lake", "AWS_ENDPOINT_URL": moto_server.url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def mock_api(tmp_path_factory) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: `mock_api(MOCK_NOW=..., MOCK_VOLUME=...)` starts the mock API on a free port.

    Every server the test started is stopped afterwards, even if the test fails.
    """
    started: list[ServerProcess] = []

    def start(**env: str | int) -> ServerProcess:
        server = start_mock_api(
            {key: str(value) for key, value in env.items()}, tmp_path_factory.mktemp("mock_api")
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# Seconds per test file (setup + call + teardown of its tests), for `make test`'s 15-minute
# target: with `--dist loadfile` a file is the unit a worker runs, so the slowest files are
# where the suite's time goes. Summed on the controller from every worker's reports.
_file_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _file_seconds[path] = _file_seconds.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _file_seconds or config.getoption("durations", None) is None:
        return
    total = sum(_file_seconds.values())
    slowest = sorted(_file_seconds.items(), key=lambda item: item[1], reverse=True)[:15]
    terminalreporter.write_sep("=", f"slowest {len(slowest)} of {len(_file_seconds)} test files")
    for path, seconds in slowest:
        terminalreporter.write_line(f"{seconds:8.1f}s {100 * seconds / total:5.1f}%  {path}")
    terminalreporter.write_line(
        f"{total:8.1f}s in all files (the workers' time, not wall time; a worker's session"
        " fixtures count in the file that set them up or tore them down)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with a slow test first, the quick ones after them (each group keeps its order).
    `make test` hands out whole files (`--dist loadfile --no-loadscope-reorder`) in this
    order, so the long files start early and the quick ones even out the two workers at the
    end; xdist's own order (most tests first) left one-test suites of minutes, the README's
    fresh clone among them, for last."""
    items[:] = slow_files_first(items)


def slow_files_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """Each file's items together, at its first place, files with a slow test first."""

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    slow_files = {file_of(item) for item in items if item.get_closest_marker("slow")}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(file_of(item), index)
    return sorted(items, key=lambda item: (file_of(item) not in slow_files, first[file_of(item)]))
