"""Shared fixtures: real servers on loopback (moto S3 here; the mock API in its own module)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.servers import ServerProcess, start_mock_api, start_moto

# The test files that take longest under `make test`, longest first (the slowest test of
# each in the clean-clone CI logs of 2026-11-30/12-01, 2 workers). They are handed to the
# workers first (`make test` passes --no-loadscope-reorder, so xdist keeps this order instead
# of ordering files by their number of tests, which put these few-test files last): a long
# file that starts last leaves the other worker idle until it ends.
LONGEST_FIRST = (
    "tests/newcomer/test_readme_commands.py",
    "tests/dbt/test_cross_engine.py",
    "tests/dbt/test_pipeline_local.py",
    "tests/dbt/test_pipeline_s3.py",
    "tests/dbt/test_partition_rewrites.py",
    "tests/dbt/test_incremental.py",
    "tests/webhooks/test_reconciliation_e2e.py",
    "tests/dbt/test_ledger_gold.py",
    "tests/dbt/test_billing_gold.py",
    "tests/reliability/test_schema_drift.py",
    "tests/dbt/test_empty_resources.py",
    "tests/reliability/test_no_secret_leaks.py",
    "tests/workflows/test_batch_run_replay.py",
    "tests/reliability/test_crash_recovery.py",
    "tests/reliability/test_faults.py",
    "tests/dbt/test_capture_quarantine.py",
    "tests/dbt/test_reconciliation_horizon.py",  # new: about 60 s alone
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of LONGEST_FIRST first, in its order; every other file after them, as
    collected (a stable sort: a file's tests keep their order)."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


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
