"""Integration against the team's mock API (mock_api/, a real waitress server on loopback),
on a local lake and on S3: landed ids are compared with `mock_api.dataset.Dataset`."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from extractor.api.client import StripeClient
from extractor.extract.plan import Plan, first_run_start
from extractor.extract.run import Extraction
from extractor.lake.storage import storage_for
from extractor.lake.watermarks import read_watermark
from extractor.settings import Secret, Settings
from extractor.streams import BY_NAME, ENTITY_STREAMS
from mock_api.dataset import Dataset, MockConfig
from mock_api.dataset.config import NEVER
from tests.extractor.conftest import landed
from tests.support.paging import page_all_of
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = pytest.mark.integration

T0 = 1768867200  # 2026-01-20T00:00:00Z
DAY = 86400
# An account without subscriptions: its invoices keep the invoicing team's Sunday rule, which
# the empty-window test relies on (subscription invoices come any day).
CONFIG = MockConfig(
    seed=7, start_date="2026-01-01", volume=60, resource_start=(("subscriptions", NEVER),)
)
RESOURCES = tuple(s.name for s in ENTITY_STREAMS)
# resource -> the `object` value Stripe gives its objects (the resources extracted here)
OBJECT_OF = {s.name: s.object_type for s in ENTITY_STREAMS}
KEY = "sk_test_against_mock_123"


def control(server: ServerProcess, path: str, body: dict | None = None, method: str = "POST"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_mock_api(
        {
            "MOCK_SEED": "7",
            "MOCK_START_DATE": "2026-01-01",
            "MOCK_VOLUME": "60",
            "MOCK_NOW": str(T0),
            "MOCK_RESOURCE_START": "subscriptions=never",
        }
    )
    yield server
    server.stop()


@pytest.fixture
def api(mock):
    control(mock, "/_mock/clock", {"now": T0})
    control(mock, "/_mock/faults", {})
    control(mock, "/_mock/requests", method="DELETE")
    return mock


def make_settings(api: ServerProcess, lake: str, **kw) -> Settings:
    import os

    base = dict(
        api_base=api.url,
        api_key=Secret(KEY),
        lake_root=lake,
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") if lake.startswith("s3") else None,
        rate_limit_rps=2000,
        max_workers=4,
        page_limit=100,
        max_retries=6,
    )
    return Settings(**{**base, **kw})


def run(settings: Settings, plan: Plan, run_id: str) -> dict:
    client = StripeClient(settings, backoff_base=0.02, backoff_cap=0.2)
    return Extraction(settings, storage_for(settings), plan, run_id, client=client).execute()


def expected_ids(resource: str, now: int, gte: int, lt: int) -> set[str]:
    ds = Dataset(CONFIG)
    objects = (
        ds.all_balance_transactions(now)
        if resource == "balance_transactions"
        else ds.objects(resource, now)
    )
    return {o["id"] for o in objects if gte <= o["created"] < lt}


def first_gte(resource: str, days: int = 3) -> int:
    """Where a first run of `days` starts for `resource` (a catalog lists all of its history)."""
    return first_run_start(BY_NAME[resource], T0, days)


def payout_items(payout_id: str, now: int) -> list[str]:
    """What `?payout=` lists, straight from the mock's dataset."""
    listed = page_all_of(Dataset(CONFIG).balance_transactions, now, payout=payout_id, limit=100)
    return [t["id"] for t in listed]


def list_ids(storage, entity: str, run_id: str) -> list[str]:
    return [r["data"]["id"] for r in landed(storage, entity, run_id) if r["_source"] == "list"]


def test_first_run_second_run_and_events_match_the_dataset(api, lake):
    settings = make_settings(api, lake)
    storage = storage_for(settings)
    section = run(settings, Plan("run-all", RESOURCES, True, 3), "m1")
    assert section["run_start"] == T0
    for resource in RESOURCES:
        got = list_ids(storage, resource, "m1")
        assert len(got) == len(set(got))
        assert set(got) == expected_ids(resource, T0, first_gte(resource), T0), resource
        assert read_watermark(storage, resource).watermark == T0
    events = Dataset(CONFIG).events(T0)
    want = {
        e["id"]
        for e in events
        if T0 - 3 * DAY <= e["created"] < T0 and e["type"].split(".")[0] in OBJECT_OF.values()
    }
    assert {r["data"]["id"] for r in landed(storage, "events", "m1")} == want
    routed = {
        (r["data"]["id"], r["_event_id"])
        for e in RESOURCES
        for r in landed(storage, e, "m1")
        if r["_source"] == "event"
    }
    assert routed == {
        (e["data"]["object"]["id"], e["id"])
        for e in events
        if e["id"] in want and e["data"]["object"]["object"] in OBJECT_OF.values()
    }

    # The child stream: every payout the run saw (listed or in an event) has exactly the
    # transactions `?payout=` lists, each line tagged with its payout.
    payouts = {r["data"]["id"] for r in landed(storage, "payouts", "m1")}
    assert payouts
    children = landed(storage, "payout_balance_transactions", "m1")
    by_payout: dict[str, list[str]] = {}
    for line in children:
        by_payout.setdefault(line["_parent_id"], []).append(line["data"]["id"])
    assert by_payout == {p: payout_items(p, T0) for p in payouts if payout_items(p, T0)}
    listed = json.loads(storage.get("_state/children/payout_balance_transactions.json"))
    assert set(listed["parents_listed"]) == payouts
    (snapshot,) = landed(storage, "balance", "m1")
    assert snapshot["data"] == json.loads(json.dumps(Dataset(CONFIG).balance(T0)))

    requests_log = control(api, "/_mock/requests?limit=1000", method="GET")
    entries = requests_log["data"]
    api_calls = [r for r in entries if r["path"].startswith("/v1/")]
    assert api_calls and all(
        {k.lower(): v for k, v in r["headers"].items()}.get("stripe-version") == "2024-06-20"
        for r in api_calls
    )
    assert not any("authorization" in {k.lower() for k in r["headers"]} for r in api_calls)

    control(api, "/_mock/clock", {"advance": 2 * 3600})
    t1 = T0 + 2 * 3600
    run(settings, Plan("run-all", RESOURCES, True, 3), "m2")
    for resource in RESOURCES:
        got = set(list_ids(storage, resource, "m2"))
        assert got == expected_ids(resource, t1, T0 - 600, t1), resource
        both = got | set(list_ids(storage, resource, "m1"))
        # Nothing lost across the two runs, late arrivals included.
        assert both == expected_ids(resource, t1, first_gte(resource), t1), resource
    # A payout's transactions are listed once: the second run lists only new payouts'.
    again = {r["_parent_id"] for r in landed(storage, "payout_balance_transactions", "m2")}
    assert again.isdisjoint(payouts)


def test_a_window_in_which_a_resource_has_no_objects_lands_nothing_and_moves_on(api, lake):
    """The mock creates no invoices on Sundays: a run whose window is one Sunday lists none,
    writes no part, and still advances the watermark (an empty window is normal)."""
    settings = make_settings(api, lake)
    storage = storage_for(settings)
    sunday = T0 - 2 * DAY  # 2026-01-18
    evening = sunday + 23 * 3600
    assert expected_ids("invoices", evening, sunday - 600, evening) == set()
    assert expected_ids("charges", evening, sunday, evening)  # other resources go on
    control(api, "/_mock/clock", {"now": sunday})
    run(settings, Plan("run-all", ("invoices",), False, 1), "sun1")
    assert list_ids(storage, "invoices", "sun1")  # Saturday had invoices
    control(api, "/_mock/clock", {"now": evening})
    section = run(settings, Plan("run-all", ("invoices",), False, 1), "sun2")
    assert list_ids(storage, "invoices", "sun2") == []
    assert section["entities"]["invoices"]["records"] == 0
    assert read_watermark(storage, "invoices").watermark == evening
