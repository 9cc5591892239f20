"""The billing streams against the team's mock with its billing engine (a real waitress
server on loopback), on a local lake and on S3: landed objects are compared with
`mock_api.dataset.Dataset`. Its own mock: test_against_mock.py runs an account without
subscriptions (its empty-window test needs the invoicing team's Sundays)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from extractor.extract.plan import Plan
from extractor.lake.storage import storage_for
from mock_api.dataset import Dataset, MockConfig, parse_time
from mock_api.dataset.mrr import billing_scenarios
from tests.extractor.conftest import landed
from tests.extractor.test_against_mock import control, make_settings, run
from tests.support.paging import page_all_of
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = pytest.mark.integration

T0 = 1768867200  # 2026-01-20T00:00:00Z
DAY = 86400
CONFIG = MockConfig(seed=7, start_date="2026-01-01", volume=60)


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_mock_api(
        {
            "MOCK_SEED": "7",
            "MOCK_START_DATE": "2026-01-01",
            "MOCK_VOLUME": "60",
            "MOCK_NOW": str(T0),
        }
    )
    yield server
    server.stop()


BILLING = ("products", "prices", "coupons", "subscriptions")


@pytest.fixture
def api(mock):
    control(mock, "/_mock/clock", {"now": T0})
    control(mock, "/_mock/requests", method="DELETE")
    return mock


def test_a_first_run_over_the_whole_history_lands_every_billing_object_once(api, lake):
    """Every product, price, coupon and subscription the mock has, canceled subscriptions
    included (the list needs `status=all`), each listed once and as the mock renders it; and
    every line of every invoice with more than the 10 it embeds, once, from all the pages of
    `/v1/invoices/{id}/lines` (the others' lines are all embedded: never listed)."""
    settings = make_settings(api, lake, page_limit=10)
    storage = storage_for(settings)
    days = (T0 - parse_time(f"{CONFIG.start_date}T00:00:00Z")) // DAY + 1
    run(settings, Plan("run-all", (*BILLING, "invoices"), False, days), "b1")
    dataset = Dataset(CONFIG)
    for resource in BILLING:
        objects = dataset.objects(resource, T0)
        if resource == "subscriptions":  # listed with expand[]=data.discounts
            objects = [dataset.expand(resource, o, ["discounts"], T0) for o in objects]
        truth = json.loads(json.dumps({o["id"]: o for o in objects}))
        listed = [r["data"] for r in landed(storage, resource, "b1")]
        assert len(listed) == len(truth) > 0, resource
        assert {o["id"]: o for o in listed} == truth, resource
    statuses = {s["status"] for s in dataset.objects("subscriptions", T0)}
    assert "canceled" in statuses
    requests_log = control(api, "/_mock/requests?limit=1000", method="GET")["data"]
    listing = [r for r in requests_log if r["path"] == "/v1/subscriptions"]
    assert listing and all("status=all" in r.get("query", "") for r in listing), listing[:1]
    # A coupon reaches Bronze inside the expanded discount, in every API version.
    discounted = [
        r["data"] for r in landed(storage, "subscriptions", "b1") if r["data"]["discounts"]
    ]
    assert discounted and all(
        s["discounts"][0]["coupon"]["id"] == s["discount"]["coupon"]["id"] for s in discounted
    )

    long_invoices = {i["id"] for i in dataset.objects("invoices", T0) if i["lines"]["has_more"]}
    assert billing_scenarios(dataset, T0)["invoice_over_10_lines"] in long_invoices
    got: dict[str, list[str]] = {}
    for row in landed(storage, "invoice_line_items", "b1"):
        got.setdefault(row["_parent_id"], []).append(row["data"]["id"])
    want = {
        invoice_id: [line["id"] for line in page_all_of(dataset.invoice_lines, invoice_id, T0)]
        for invoice_id in long_invoices
    }
    assert got == want
    assert all(len(lines) > 10 for lines in got.values())
    state = json.loads(storage.get("_state/children/invoice_line_items.json"))
    paid = {
        i["id"]
        for i in dataset.objects("invoices", T0)
        if i["id"] in long_invoices and i["status"] != "draft"
    }
    assert set(state["parents_listed"]) == paid
