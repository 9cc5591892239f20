"""Property: any schedule of (advance the mock clock, run) lands the same latest state per
object as one full extraction at the end, when the safety window covers late arrivals.

Each example drives the real CLI against the real mock over HTTP. "Latest state" is what
Silver keeps (docs/architecture.md#correctness-model): per object id, the line with the
greatest `_observed_at` (the event
first on ties), computed here in DuckDB straight from Bronze so an example costs seconds, not a
dbt build; the dbt suites prove Silver applies the same rule.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extractor.streams import ENTITY_NAMES, SNAPSHOT_STREAMS
from mock_api.dataset import DAY, Dataset, MockConfig, parse_time
from tests.reliability.pipeline_support import pipeline_env
from tests.support.cli import run_cli
from tests.support.servers import set_clock, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T0 = parse_time("2026-01-08T00:00:00Z")
FIRST_DAYS = 3
VOLUME = 60
LATE_MAX = 300
# A snapshot is a per-run reading of the balance, different in every schedule by design.
ENTITIES = tuple(e for e in ENTITY_NAMES if e not in {s.name for s in SNAPSHOT_STREAMS})


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = start_mock_api(
        {"MOCK_NOW": str(T0), "MOCK_VOLUME": str(VOLUME), "MOCK_LATE_MAX_SECONDS": str(LATE_MAX)},
        tmp_path_factory.mktemp("mock"),
    )
    yield server
    server.stop()


def latest_state(lake: Path, since: int) -> dict[str, dict[str, str]]:
    """Per entity: object id -> its latest state as JSON text, for objects created >= since."""
    out = {}
    for entity in ENTITIES:
        glob = f"{lake}/bronze/source=stripe/entity={entity}/*/*/*.jsonl"
        if not list(lake.glob(f"bronze/source=stripe/entity={entity}/*/*/*.jsonl")):
            out[entity] = {}  # a resource with no objects in this window
            continue
        # A balance transaction's status turns `available` with no event (Stripe sends none),
        # so a run that read it earlier keeps `pending`; Gold derives the status from
        # available_on. Every other field must agree.
        state = (
            "json_merge_patch(data, '{\"status\": null}')"
            if entity.endswith("balance_transactions")
            else "data"
        )
        rows = duckdb.sql(
            f"""
            select data ->> '$.id', cast({state} as varchar)
            from read_json('{glob}', format = 'newline_delimited', columns = {{
                '_observed_at': 'BIGINT', '_source': 'VARCHAR', '_event_id': 'VARCHAR',
                'data': 'JSON'}})
            where cast(data -> '$.created' as bigint) >= {since}
            qualify row_number() over (
                partition by data ->> '$.id'
                order by _observed_at desc, (_source = 'event') desc, _event_id desc
            ) = 1
            """
        ).fetchall()
        out[entity] = {key: same_discounts(text) for key, text in rows}
    return out


def same_discounts(text: str) -> str:
    """A list read expands a subscription's `discounts` (extractor/streams.py), an event
    names them by id: the same state, so compare the ids."""
    obj = json.loads(text)
    if not isinstance(obj.get("discounts"), list):
        return text
    obj["discounts"] = [d["id"] if isinstance(d, dict) else d for d in obj["discounts"]]
    return json.dumps(obj, sort_keys=True)


def run_schedule(url: str, lake: Path, advances: list[int], safety: int) -> int:
    env = pipeline_env(str(lake), url, SAFETY_WINDOW_SECONDS=str(safety))
    now = T0
    set_clock(url, now)
    for step, advance in enumerate([0, *advances]):
        now += advance
        set_clock(url, now)
        days = ["--days", str(FIRST_DAYS)] if step == 0 else []
        done = run_cli("run-all", *days, env=env, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    return now


def full_extraction(url: str, lake: Path, end: int) -> None:
    set_clock(url, end)
    days = (end - (T0 - FIRST_DAYS * DAY)) // DAY + 1
    done = run_cli("run-all", "--days", str(days), env=pipeline_env(str(lake), url), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# Advances from a minute to two days, so runs land both inside and across late-arrival lags.
schedules = st.lists(st.integers(min_value=60, max_value=2 * DAY), min_size=1, max_size=3)


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(advances=schedules)
def test_any_schedule_equals_one_full_extraction(mock, advances: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        incremental, full = Path(tmp) / "incremental", Path(tmp) / "full"
        end = run_schedule(mock.url, incremental, advances, safety=LATE_MAX + 60)
        full_extraction(mock.url, full, end)
        since = T0 - FIRST_DAYS * DAY
        got, want = latest_state(incremental, since), latest_state(full, since)
    for entity in ENTITIES:
        assert got[entity].keys() == want[entity].keys(), entity
        assert got[entity] == want[entity], entity
    assert want["charges"], "the window holds charges"


def test_a_safety_window_below_the_lag_loses_late_objects_from_the_list_path(
    mock, tmp_path: Path
) -> None:
    """With no safety window, a run between a charge's creation and its list visibility
    never lists it: the next run's window starts after its `created`. Only the change feed
    (its charge.succeeded event) still brings it; a list-only source would have lost it."""
    dataset = Dataset(MockConfig(volume=VOLUME, late_max_seconds=LATE_MAX))
    late = next(
        (i, dataset.created("charges", i), dataset.visible_at("charges", i))
        for i in range(100_000)
        if dataset.created("charges", i) >= T0 + 600
        and dataset.visible_at("charges", i) > dataset.created("charges", i) + 30
    )
    index, created, visible = late
    charge_id = dataset.object_id("charges", index)
    # First run at T0, second between creation and visibility, third well after.
    advances = [created + 10 - T0, visible + 3600 - (created + 10)]
    lake = tmp_path / "lake"
    run_schedule(mock.url, lake, advances, safety=0)
    sources = duckdb.sql(
        f"""
        select list(distinct _source order by _source)
        from read_json('{lake}/bronze/source=stripe/entity=charges/*/*/*.jsonl',
                       format = 'newline_delimited',
                       columns = {{'_source': 'VARCHAR', 'data': 'JSON'}})
        where data ->> '$.id' = '{charge_id}'
        """
    ).fetchone()[0]
    assert sources == ["event"], "the list path must have missed the late charge"

    safe_lake = tmp_path / "safe"
    run_schedule(mock.url, safe_lake, advances, safety=LATE_MAX + 60)
    safe_sources = duckdb.sql(
        f"""
        select list(distinct _source order by _source)
        from read_json('{safe_lake}/bronze/source=stripe/entity=charges/*/*/*.jsonl',
                       format = 'newline_delimited',
                       columns = {{'_source': 'VARCHAR', 'data': 'JSON'}})
        where data ->> '$.id' = '{charge_id}'
        """
    ).fetchone()[0]
    assert safe_sources == ["event", "list"]
