"""The mock API over a real socket: list semantics, auth, clock, faults, and the stripe SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import stripe

from mock_api.dataset import Dataset, MockConfig, parse_time
from tests.support.paging import page_all
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = pytest.mark.integration

NOW = parse_time("2026-01-20T00:00:00Z")
ENV = {"MOCK_NOW": str(NOW), "MOCK_START_DATE": "2026-01-10", "MOCK_VOLUME": "40", "MOCK_SEED": "7"}
KEY = "sk_test_mock_tests"


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_mock_api(ENV, tmp_path_factory.mktemp("mock"))
    yield server
    server.stop()


@pytest.fixture
def api(mock: ServerProcess) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    requests.post(f"{mock.url}/_mock/faults", json={}, timeout=5)
    requests.post(f"{mock.url}/_mock/clock", json={"now": NOW}, timeout=5)
    yield session
    requests.post(f"{mock.url}/_mock/faults", json={}, timeout=5)


def expected(resource: str, now: int = NOW) -> list[dict]:
    return Dataset(MockConfig(seed=7, start_date="2026-01-10", volume=40)).objects(resource, now)


@pytest.mark.parametrize(
    "resource", ["customers", "charges", "payment_intents", "invoices", "events"]
)
def test_paging_returns_every_object_once_newest_first(api, mock, resource: str) -> None:
    got = page_all(api, f"{mock.url}/v1/{resource}")
    want = expected(resource)
    assert [o["id"] for o in got] == [o["id"] for o in want]
    assert len({o["id"] for o in got}) == len(got) > 0
    keys = [(o["created"], o["id"]) for o in got]
    assert keys == sorted(keys, reverse=True)


def test_created_gte_includes_and_gt_excludes_the_boundary(api, mock) -> None:
    charges = expected("charges")
    boundary = charges[len(charges) // 2]["created"]
    gte = page_all(api, f"{mock.url}/v1/charges", **{"created[gte]": boundary})
    gt = page_all(api, f"{mock.url}/v1/charges", **{"created[gt]": boundary})
    at = [c["id"] for c in charges if c["created"] == boundary]
    assert [c["id"] for c in gte] == [c["id"] for c in charges if c["created"] >= boundary]
    assert [c["id"] for c in gt] == [c["id"] for c in charges if c["created"] > boundary]
    assert set(at) and set(at) <= {c["id"] for c in gte} and not set(at) & {c["id"] for c in gt}


def test_ending_before_pages_backwards(api, mock) -> None:
    charges = expected("charges")
    body = api.get(
        f"{mock.url}/v1/charges", params={"limit": 3, "ending_before": charges[10]["id"]}
    ).json()
    assert [c["id"] for c in body["data"]] == [c["id"] for c in charges[7:10]]
    assert body["has_more"] is True


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"starting_after": "ch_nope"}, 400, "No such charge: 'ch_nope'"),
        ({"starting_after": "x", "ending_before": "y"}, 400, "only specify one of"),
        ({"limit": 101}, 400, "between 1 and 100"),
        ({"limit": "ten"}, 400, "Invalid integer"),
    ],
)
def test_bad_list_requests_are_stripe_shaped_400s(api, mock, params, status, message) -> None:
    response = api.get(f"{mock.url}/v1/charges", params=params)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_auth_accepts_bearer_and_basic_and_rejects_others(mock) -> None:
    url = f"{mock.url}/v1/customers?limit=1"
    assert requests.get(url, auth=(KEY, ""), timeout=5).status_code == 200
    assert (
        requests.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5).status_code == 200
    )
    for headers in ({}, {"Authorization": "Bearer pk_test_x"}, {"Authorization": "Token abc"}):
        response = requests.get(url, headers=headers, timeout=5)
        assert response.status_code == 401
        assert "Invalid API Key" in response.json()["error"]["message"]


def test_retrieve_expand_and_customer_filter(api, mock) -> None:
    charge = expected("charges")[0]
    got = api.get(f"{mock.url}/v1/charges/{charge['id']}", params={"expand[]": "customer"}).json()
    assert got["id"] == charge["id"] and got["customer"]["id"] == charge["customer"]
    listed = api.get(
        f"{mock.url}/v1/charges", params={"limit": 1, "expand[]": "data.payment_intent"}
    ).json()
    assert listed["data"][0]["payment_intent"]["object"] == "payment_intent"
    mine = page_all(api, f"{mock.url}/v1/charges", customer=charge["customer"])
    assert mine and {c["customer"] for c in mine} == {charge["customer"]}
    assert [c["id"] for c in mine] == [
        c["id"] for c in expected("charges") if c["customer"] == charge["customer"]
    ]
    assert api.get(f"{mock.url}/v1/charges/ch_missing").status_code == 404


def test_event_type_wildcards_and_types_array(api, mock) -> None:
    charge_events = page_all(api, f"{mock.url}/v1/events", type="charge.*")
    assert charge_events and all(e["type"].startswith("charge.") for e in charge_events)
    assert len(charge_events) == sum(
        1 for e in expected("events") if e["type"].startswith("charge.")
    )
    both = page_all(
        api, f"{mock.url}/v1/events", **{"types[]": ["customer.created", "invoice.paid"]}
    )
    assert {e["type"] for e in both} == {"customer.created", "invoice.paid"}


def test_clock_advance_reveals_new_objects_and_events(api, mock) -> None:
    before = page_all(api, f"{mock.url}/v1/charges")
    events_before = page_all(api, f"{mock.url}/v1/events")
    assert (
        requests.post(f"{mock.url}/_mock/clock", json={"advance": 3600}).json()["now"] == NOW + 3600
    )
    after = page_all(api, f"{mock.url}/v1/charges")
    assert [c["id"] for c in after] == [c["id"] for c in expected("charges", NOW + 3600)]
    assert len(after) > len(before)
    assert len(page_all(api, f"{mock.url}/v1/events")) > len(events_before)
    assert (
        api.get(f"{mock.url}/v1/charges?limit=1").headers["Date"] == "Tue, 20 Jan 2026 01:00:00 GMT"
    )


def test_scripted_5xx_then_success(api, mock) -> None:
    requests.post(
        f"{mock.url}/_mock/faults",
        json={"script": [{"path": "/v1/charges", "nth": 2, "action": "status:503", "times": 2}]},
    )
    statuses = [api.get(f"{mock.url}/v1/charges?limit=1").status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]


def test_rate_limit_answers_429_with_retry_headers(api, mock) -> None:
    requests.post(f"{mock.url}/_mock/faults", json={"rate_limit": {"rps": 1, "burst": 2}})
    responses = [api.get(f"{mock.url}/v1/customers?limit=1") for _ in range(4)]
    assert [r.status_code for r in responses[:2]] == [200, 200]
    limited = responses[3]
    assert limited.status_code == 429
    assert (
        limited.headers["Stripe-Should-Retry"] == "true"
        and int(limited.headers["Retry-After"]) >= 1
    )
    assert limited.json()["error"]["code"] == "rate_limit"


@pytest.mark.parametrize("action", ["truncate", "malformed"])
def test_broken_bodies_are_not_json(api, mock, action: str) -> None:
    requests.post(
        f"{mock.url}/_mock/faults", json={"script": [{"path": "/v1/", "nth": 1, "action": action}]}
    )
    response = api.get(f"{mock.url}/v1/charges?limit=5")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_dropped_connection_breaks_the_read(api, mock) -> None:
    requests.post(
        f"{mock.url}/_mock/faults", json={"script": [{"path": "/v1/", "nth": 1, "action": "drop"}]}
    )
    with pytest.raises(requests.exceptions.RequestException):
        api.get(f"{mock.url}/v1/charges?limit=50").json()


def test_request_log_never_keeps_the_key(api, mock) -> None:
    requests.delete(f"{mock.url}/_mock/requests")
    api.get(f"{mock.url}/v1/invoices", params={"limit": 2, "created[gte]": 5})
    entries = requests.get(f"{mock.url}/_mock/requests").json()["data"]
    assert entries[-1]["path"] == "/v1/invoices" and "created%5Bgte%5D=5" in entries[-1]["query"]
    assert KEY not in str(entries)


def test_health_openapi_and_docs(mock) -> None:
    assert requests.get(f"{mock.url}/health").json() == {"status": "ok"}
    spec = requests.get(f"{mock.url}/openapi.json").json()
    assert "/v1/charges" in spec["paths"] and "/v1/events/{id}" in spec["paths"]
    page = requests.get(f"{mock.url}/docs").text
    # Swagger UI from the mock's own assets (tests/mock_api/test_docs_page.py checks them).
    assert 'id="swagger-ui"' in page and "cdn" not in page.lower()


def test_official_stripe_sdk_pages_everything_and_sees_429(api, mock) -> None:
    client = stripe.StripeClient(KEY, base_addresses={"api": mock.url}, max_network_retries=0)
    ids = [c.id for c in client.v1.charges.list({"limit": 100}).auto_paging_iter()]
    assert ids == [c["id"] for c in expected("charges")]
    requests.post(
        f"{mock.url}/_mock/faults",
        json={"script": [{"path": "/v1/customers", "nth": 1, "action": "status:429"}]},
    )
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list({"limit": 3})


def test_latency_fault_delays_answers(api, mock) -> None:
    requests.post(f"{mock.url}/_mock/faults", json={"latency_ms": 300})
    response = api.get(f"{mock.url}/v1/customers?limit=1")
    assert response.status_code == 200
    # A lower bound only: the delay is added on the server before the handler runs.
    assert response.elapsed.total_seconds() >= 0.3


def test_late_objects_appear_only_after_their_lag(mock) -> None:
    data = Dataset(MockConfig(seed=7, start_date="2026-01-10", volume=40))
    late = [
        (resource, index)
        for resource in ("charges", "customers")
        for index in range(2000)
        if data.visible_at(resource, index) > data.created(resource, index)
    ]
    assert late, "some objects must arrive late"
    for resource, index in late[:20]:
        created, visible = data.created(resource, index), data.visible_at(resource, index)
        assert 0 < visible - created <= 300
        ids_at_created = {o["id"] for o in data.objects(resource, created)}
        assert data.object_id(resource, index) not in ids_at_created
        assert data.object_id(resource, index) in {o["id"] for o in data.objects(resource, visible)}


def test_random_faults_are_deterministic_given_a_seed(api, mock) -> None:
    def statuses() -> list[int]:
        requests.post(f"{mock.url}/_mock/faults", json={"seed": 5, "error_rate": 0.4})
        return [api.get(f"{mock.url}/v1/customers?limit=1").status_code for _ in range(15)]

    first = statuses()
    assert first == statuses()
    assert {200} < set(first) <= {200, 500, 503}


@pytest.mark.integration
def test_mock_api_fixture_factory_starts_a_configured_server(mock_api) -> None:
    server = mock_api(MOCK_NOW=1767312000, MOCK_VOLUME=5)
    clock = requests.get(f"{server.url}/_mock/clock", timeout=5).json()
    assert clock == {"now": 1767312000, "frozen": True}
