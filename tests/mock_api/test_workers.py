"""`serve --workers 2`: two processes on one socket answer exactly what one process answers.

Real servers on free loopback ports. Each request opens its own connection, so the kernel
hands them to either worker; the answers must equal the single-process mock's byte for byte,
first rendered and again from each worker's page cache. State one process keeps for itself
(clock, faults, request log) is refused rather than silently split.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mock_api.dataset import parse_time
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = pytest.mark.integration

NOW = parse_time("2026-01-20T00:00:00Z")
ENV = {"MOCK_NOW": str(NOW), "MOCK_START_DATE": "2026-01-10", "MOCK_VOLUME": "40", "MOCK_SEED": "7"}
AUTH = {"Authorization": "Bearer sk_test_workers"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    logs = tmp_path_factory.mktemp("workers")
    one = start_mock_api(ENV, logs)
    try:
        two = start_mock_api(ENV, logs, workers=2)
    except BaseException:
        one.stop()
        raise
    yield one, two
    two.stop()
    one.stop()


def fetch(server: ServerProcess, path: str, **headers: str) -> tuple[int, bytes]:
    """On a new connection each time (no session), so either worker may answer."""
    response = requests.get(f"{server.url}{path}", headers={**AUTH, **headers}, timeout=30)
    return response.status_code, response.content


def page_paths(server: ServerProcess, resource: str) -> list[str]:
    """Every page of a list at limit 10, by its cursors (as the single process answers)."""
    paths, cursor = [], None
    while True:
        path = f"/v1/{resource}?limit=10" + (f"&starting_after={cursor}" if cursor else "")
        paths.append(path)
        body = json.loads(fetch(server, path)[1])
        if not body["has_more"]:
            return paths
        cursor = body["data"][-1]["id"]


@pytest.mark.parametrize("resource", ["charges", "invoices", "events", "balance_transactions"])
def test_two_workers_answer_every_page_as_one_process_does(servers, resource: str) -> None:
    one, two = servers
    paths = page_paths(one, resource)
    assert len(paths) > 2
    for path in paths:
        want = fetch(one, path)
        assert want[0] == 200
        # Twice: the first answer may be rendered, the second comes from a worker's cache.
        assert fetch(two, path) == want, path
        assert fetch(two, path) == want, path


def test_versions_retrieves_and_errors_match(servers) -> None:
    one, two = servers
    charge = json.loads(fetch(one, "/v1/charges?limit=1")[1])["data"][0]["id"]
    cases = [
        ("/v1/invoices?limit=5", {"Stripe-Version": "2025-03-31.basil"}),
        ("/v1/invoices?limit=5", {"Stripe-Version": "bogus"}),
        (f"/v1/charges/{charge}?expand[]=customer", {}),
        ("/v1/charges/ch_nothing", {}),
        ("/v1/charges?limit=0", {}),
    ]
    for path, headers in cases:
        assert fetch(two, path, **headers) == fetch(one, path, **headers), (path, headers)


def test_both_workers_serve(servers) -> None:
    _, two = servers
    pids = {requests.get(f"{two.url}/_mock/cache", timeout=5).json()["pid"] for _ in range(60)}
    assert len(pids) == 2


@pytest.mark.parametrize(
    "method, path",
    [("post", "/_mock/clock"), ("post", "/_mock/faults"), ("get", "/_mock/requests")],
)
def test_per_process_state_is_refused(servers, method: str, path: str) -> None:
    _, two = servers
    response = requests.request(method, f"{two.url}{path}", json={"advance": 60}, timeout=5)
    assert response.status_code == 409
    assert "needs one process" in response.json()["error"]["message"]
    assert requests.get(f"{two.url}/_mock/clock", timeout=5).json()["now"] == NOW


def test_workers_share_rendered_pages_and_remove_them_at_the_end(tmp_path) -> None:
    server = start_mock_api(ENV, tmp_path, workers=2)
    try:
        for _ in range(2):  # each connection lands on either process
            for path in page_paths(server, "charges"):
                fetch(server, path)
        # Both processes accept on one socket; which one takes a new connection is up to the
        # kernel and to which is idle, so on a busy machine one may take dozens in a row: ask
        # until both have answered (a minute at most), not a fixed number of times.
        stats: list[dict] = []
        deadline = time.monotonic() + 60
        while len({s["pid"] for s in stats}) < 2 and time.monotonic() < deadline:
            stats.append(requests.get(f"{server.url}/_mock/cache", timeout=5).json())
        by_pid = {s["pid"]: s for s in stats}
        assert len(by_pid) == 2, f"one process answered all {len(stats)} requests"
        # No page was rendered twice: what one process rendered the other read.
        assert sum(s["misses"] for s in by_pid.values()) == len(page_paths(server, "charges"))
        shared = stats[0]["shared_dir"]
        assert Path(shared).is_dir()
    finally:
        server.stop()
    assert not Path(shared).exists()


def test_counting_faults_with_workers_stop_the_start(tmp_path) -> None:
    env = {**ENV, "MOCK_FAULTS": json.dumps({"rate_limit": {"rps": 25, "burst": 25}})}
    with pytest.raises(RuntimeError, match="use --workers 1"):
        start_mock_api(env, tmp_path, workers=2)
