"""The ledger's endpoints over a real socket: paging, filters, cursors, errors, the balance."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mock_api.dataset import Dataset, MockConfig, parse_time
from tests.support.paging import page_all
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = pytest.mark.integration

NOW = parse_time("2026-02-20T09:00:00Z")
ENV = {"MOCK_NOW": str(NOW), "MOCK_START_DATE": "2026-01-05", "MOCK_VOLUME": "20", "MOCK_SEED": "9"}
CONFIG = MockConfig(seed=9, start_date="2026-01-05", volume=20)
KEY = "sk_test_ledger"


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[ServerProcess]:
    server = start_mock_api(ENV, tmp_path_factory.mktemp("ledger"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(mock: ServerProcess) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    yield session
    session.close()


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset(CONFIG)


@pytest.fixture(scope="module")
def txns(ds) -> list[dict]:
    return ds.all_balance_transactions(NOW)


def test_balance_transactions_page_newest_first_once_each(api, mock, txns) -> None:
    got = page_all(api, f"{mock.url}/v1/balance_transactions", limit=37)
    assert got == txns
    # Backwards from the oldest with ending_before: the same list, page by page.
    back = page_all(
        api, f"{mock.url}/v1/balance_transactions", limit=50, ending_before=got[-1]["id"]
    )
    assert back + [got[-1]] == got


@pytest.mark.parametrize(
    "params",
    [
        {"type": "refund"},
        {"type": "payout"},
        {"type": "adjustment"},
        {"currency": "eur"},
        {"currency": "USD", "type": "payment"},
        {
            "created[gte]": str(parse_time("2026-02-01")),
            "created[lt]": str(parse_time("2026-02-03")),
        },
    ],
)
def test_balance_transaction_filters(api, mock, txns, params) -> None:
    got = page_all(api, f"{mock.url}/v1/balance_transactions", limit=25, **params)
    low = int(params.get("created[gte]", 0))
    high = int(params.get("created[lt]", NOW + 1))
    want = [
        t
        for t in txns
        if t["type"] == params.get("type", t["type"])
        and t["currency"] == params.get("currency", t["currency"]).lower()
        and low <= t["created"] < high
    ]
    assert want and got == want


def test_a_payouts_transactions_list_sums_to_it(api, mock, ds) -> None:
    payouts = page_all(api, f"{mock.url}/v1/payouts", limit=10)
    assert payouts == ds.objects("payouts", NOW)
    assert {p["currency"] for p in payouts} == {"usd", "eur"}
    for payout in payouts[:6]:
        items = page_all(api, f"{mock.url}/v1/balance_transactions", limit=9, payout=payout["id"])
        assert items and sum(t["net"] for t in items) == payout["amount"]
        charges = page_all(
            api,
            f"{mock.url}/v1/balance_transactions",
            payout=payout["id"],
            type="charge",
        )
        assert charges == [t for t in items if t["type"] == "charge"]


def test_unknown_ids_are_stripe_errors(api, mock, txns) -> None:
    url = f"{mock.url}/v1/balance_transactions"
    missing = api.get(f"{url}/txn_3nope", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "resource_missing"
    bad_payout = api.get(url, params={"payout": "po_nope"}, timeout=10)
    assert bad_payout.status_code == 400 and bad_payout.json()["error"]["param"] == "payout"
    bad_cursor = api.get(url, params={"starting_after": "txn_nope"}, timeout=10)
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["error"]["param"] == "starting_after"
    one = api.get(f"{url}/{txns[5]['id']}", timeout=10)
    assert one.status_code == 200 and one.json() == txns[5]


def test_the_balance_endpoint_is_the_datasets_at_the_clock(api, mock, ds) -> None:
    body = api.get(f"{mock.url}/v1/balance", timeout=30).json()
    assert body == ds.balance(NOW)
    assert body["object"] == "balance"


@pytest.mark.parametrize("resource", ["refunds", "disputes", "payouts"])
def test_new_lists_page_and_filter_like_stripe(api, mock, ds, resource) -> None:
    want = ds.objects(resource, NOW)
    assert want
    assert page_all(api, f"{mock.url}/v1/{resource}", limit=3) == want
    low = want[len(want) // 2]["created"]
    got = page_all(api, f"{mock.url}/v1/{resource}", limit=4, **{"created[gte]": str(low)})
    assert got == [o for o in want if o["created"] >= low]
    first = api.get(f"{mock.url}/v1/{resource}/{want[-1]['id']}", timeout=10).json()
    assert first == want[-1]


def test_ledger_events_are_in_the_feed(api, mock, ds) -> None:
    got = page_all(api, f"{mock.url}/v1/events", **{"type": "payout.*"})
    assert {e["type"] for e in got} >= {"payout.created", "payout.updated", "payout.paid"}
    balance = page_all(api, f"{mock.url}/v1/events", type="balance.available")
    assert balance and all(e["data"]["object"]["object"] == "balance" for e in balance)
    assert balance[0]["data"]["object"] == ds.balance(balance[0]["created"])


def test_the_date_header_is_the_second_the_balance_shows(ds: Dataset) -> None:
    """The first `/v1/balance` books the whole history and can outlast a second. The body
    and the Date header read the clock once: a Date later than the balance's second would
    tie the snapshot to transactions it does not count (the ledger gate's snapshot time)."""
    from email.utils import parsedate_to_datetime

    from mock_api.app import create_app

    # A running clock, no faults, any key: whatever the shell's MOCK_* variables say.
    app = create_app(
        {"MOCK_CONFIG": CONFIG, "MOCK_NOW": "", "MOCK_FAULTS": "{}", "MOCK_API_KEYS": ""}
    )
    reads = iter(range(NOW, NOW + 10))  # a second later at every read, as if each took that
    app.extensions["mock"]["clock"].now = lambda: next(reads)
    response = app.test_client().get("/v1/balance", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    assert response.get_json() == ds.balance(NOW)
    assert int(parsedate_to_datetime(response.headers["Date"]).timestamp()) == NOW
    assert next(reads) == NOW + 1  # the clock was read once
