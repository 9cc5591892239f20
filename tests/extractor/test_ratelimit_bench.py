"""bench/ratelimit_bench.py's arithmetic: the sustained rate of a client that paces exactly at
the limit is the limit, whatever comes before its burst."""

from __future__ import annotations

import pytest

from bench.ratelimit_bench import rates


def paced_run(rps: float, probe_gap: float, seconds: float, burst: int) -> list[float]:
    """What the extractor sends: a lone server-time probe, `probe_gap` seconds of start-up
    (both buckets refill), a burst of `burst` requests in 0.2 s, then one request every
    1/rps seconds."""
    start = 1000.0 + probe_gap
    times = [1000.0]
    times += [start + 0.2 * i / burst for i in range(burst)]
    paced = start + 0.2
    times += [paced + i / rps for i in range(1, int(seconds * rps) + 1)]
    return times


@pytest.mark.parametrize("rps", [25.0, 100.0])
@pytest.mark.parametrize("probe_gap", [0.5, 1.09, 3.5])
def test_rate_limit_bench_leaves_out_the_burst_not_the_first_request(rps, probe_gap) -> None:
    times = paced_run(rps, probe_gap, seconds=15, burst=int(rps))
    result = rates(times, [], rps, burst=rps)
    # Counted from the probe, the 1.09 s run gave 26.2 req/s at 25: the burst inside.
    assert result["sustained_rps"] == pytest.approx(rps, rel=1e-6)
    assert result["burst_start_seconds"] == (probe_gap if probe_gap >= 1.0 else 0.0)


def test_rate_limit_bench_times_429s_from_the_burst() -> None:
    times = paced_run(25.0, 1.09, seconds=15, burst=25)
    retries = [1000.0 + 1.09 + 0.3, 1000.0 + 1.09 + 2.5]  # in the burst's second, then later
    result = rates(times, retries, 25.0, burst=25.0)
    assert result["status_429"] == 2
    assert result["status_429_after_first_second"] == 1
    assert result["status_429_seconds_after_burst_start"] == [0.3, 2.5]
    assert result["served"] == len(times) - 2
