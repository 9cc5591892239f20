"""The extractor's token bucket against the mock's, at the same rate: no 429 once the burst
is spent, even when requests reach the server after uneven delays."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from extractor.api.ratelimit import TokenBucket
from mock_api import control


def count_429s(monkeypatch, rps: float, delays: list[float], requests: int) -> int:
    """The client sends `requests` requests as fast as its bucket allows (default burst);
    request k reaches the mock `delays[k]` seconds later (the last delay for the rest); the
    mock's bucket (burst = rps, as in bench/ratelimit_bench.py) judges them in arrival order."""
    now = [0.0]
    monkeypatch.setattr(control, "time", SimpleNamespace(monotonic=lambda: now[0]))
    server = control.Faults({"rate_limit": {"rps": rps, "burst": rps}})
    client_now = [0.0]

    def sleep(seconds: float) -> None:
        client_now[0] += seconds

    client = TokenBucket(rps, clock=lambda: client_now[0], sleep=sleep)
    arrivals = []
    for k in range(requests):
        client.acquire()
        arrivals.append(client_now[0] + delays[min(k, len(delays) - 1)])
    refused = 0
    for at in sorted(arrivals):
        now[0] = at
        refused += server.decide("/v1/charges").status == 429
    return refused


@pytest.mark.parametrize("rps", [25.0, 100.0])
def test_rate_limit_client_at_the_limit_gets_no_429_from_uneven_delays(monkeypatch, rps) -> None:
    # The burst's first request arrives 60 ms after it was sent (a new connection, a busy
    # server), the rest 5 ms after. With the client's burst equal to the server's (the
    # default before 2026-12-01) the two buckets run empty together, the server's 55 ms
    # behind, and it refuses a request (1 in 5 s, at 25 and at 100 req/s).
    assert count_429s(monkeypatch, rps, [0.060, 0.005], requests=int(rps * 5)) == 0


def test_rate_limit_client_burst_is_half_a_second() -> None:
    assert TokenBucket(25).capacity == 12.5
    assert TokenBucket(100).capacity == 50
    assert TokenBucket(1).capacity == 1.0
