"""The mock's API versions: events in the account's version at their creation, lists in the
request's Stripe-Version (docs/mock_api.md#api-versions)."""

from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from mock_api.app import create_app
from mock_api.dataset import DAY, Dataset, MockConfig, parse_time

NOW = parse_time("2026-02-20T00:00:00Z")
UPGRADE = NOW - DAY
BASIL = "2025-03-31.basil"
GONE_FROM_INVOICES = {"charge", "payment_intent", "paid", "subscription", "tax"}


def test_config_parses_the_default_and_the_upgrades() -> None:
    config = MockConfig.from_env({"MOCK_API_VERSION_UPGRADE": f"{BASIL}@2026-02-19T00:00:00Z"})
    assert config.api_version == "2024-06-20"
    assert config.api_version_upgrades == ((UPGRADE, BASIL),)
    assert config.version_at(UPGRADE - 1) == "2024-06-20"
    assert config.version_at(UPGRADE) == BASIL
    assert MockConfig.from_env({}).api_version_upgrades == ()
    with pytest.raises(ValueError, match="is not <version>@<unix or ISO-8601 time>"):
        MockConfig.from_env({"MOCK_API_VERSION_UPGRADE": f"{BASIL}@soon"})
    with pytest.raises(ValueError, match="'2023-10-16' is not an API version the mock renders"):
        MockConfig.from_env({"MOCK_API_VERSION": "2023-10-16"})


def common(obj: dict, other: dict, *but: str) -> dict:
    """`obj`'s fields that `other` has too, but those named."""
    return {k: v for k, v in obj.items() if k in other and k not in but}


def test_events_render_in_the_version_of_their_creation() -> None:
    data = Dataset(MockConfig(api_version_upgrades=((UPGRADE, BASIL),)))
    plain = Dataset(MockConfig())
    seen = set()
    for event in data.events(NOW, ("invoice.updated", "invoice.paid", "charge.succeeded")):
        old = event["created"] < UPGRADE
        assert event["api_version"] == ("2024-06-20" if old else BASIL)
        obj = event["data"]["object"]
        if obj["object"] == "invoice":
            assert (set(obj) >= GONE_FROM_INVOICES) == old, event["id"]
            assert ({"parent", "total_taxes"} <= set(obj)) == (not old), event["id"]
            before = event["data"].get("previous_attributes") or {}
            assert not (GONE_FROM_INVOICES & set(before)) or old
        else:
            assert ("invoice" in obj) == old
        seen.add(old)
    assert seen == {True, False}
    # Nothing else moves: the same events, the same values in the fields both versions have.
    same = {e["id"]: e for e in plain.events(NOW, ("invoice.paid",))}
    for event in data.events(NOW, ("invoice.paid",)):
        mine, theirs = event["data"]["object"], same[event["id"]]["data"]["object"]
        assert common(theirs, mine, "lines") == common(mine, theirs, "lines")
        # Its lines change shape too (parent, pricing, taxes), the rest of each line as it was.
        pairs = zip(mine["lines"]["data"], theirs["lines"]["data"], strict=True)
        for new_line, old_line in pairs:
            assert common(old_line, new_line) == common(new_line, old_line)
        assert mine.get("paid", mine["status"] == "paid") == theirs["paid"]


def test_lists_follow_the_request_version_else_the_account_default() -> None:
    app = create_app(
        {
            "MOCK_CONFIG": MockConfig(api_version_upgrades=((UPGRADE, BASIL),)),
            "MOCK_NOW": str(NOW),
        }
    )
    client = app.test_client()
    auth = {"Authorization": "Bearer sk_test_x"}

    def first(headers: dict) -> TestResponse:
        return client.get("/v1/invoices?limit=1", headers={**auth, **headers})

    pinned = first({"Stripe-Version": "2024-06-20"}).get_json()["data"][0]
    assert set(pinned) >= GONE_FROM_INVOICES
    default = first({}).get_json()["data"][0]  # the account was upgraded: basil
    assert not GONE_FROM_INVOICES & set(default) and default["id"] == pinned["id"]
    later = first({"Stripe-Version": "2026-03-25.dahlia"}).get_json()["data"][0]
    assert later == default  # a later version renders in the newest modelled shape
    bad = first({"Stripe-Version": "2019-01-01"})
    assert bad.status_code == 400
    assert "Invalid Stripe API version" in bad.get_json()["error"]["message"]
    charge = client.get("/v1/charges?limit=1", headers=auth).get_json()["data"][0]
    assert "invoice" not in charge


LINE_FIELDS_BEFORE_BASIL = {"type", "price", "proration", "subscription", "tax_amounts"}


def test_invoice_lines_follow_the_request_version() -> None:
    """`/v1/invoices/{id}/lines` answers in the request's version: a subscription's line in
    basil names its subscription, item, proration and price under `parent` and `pricing`."""
    app = create_app({"MOCK_CONFIG": MockConfig(), "MOCK_NOW": str(NOW)})
    client = app.test_client()
    auth = {"Authorization": "Bearer sk_test_x"}
    invoices = client.get("/v1/invoices?limit=100", headers=auth).get_json()["data"]
    invoice = next(i for i in invoices if i.get("subscription"))

    def lines(version: str) -> list[dict]:
        url = f"/v1/invoices/{invoice['id']}/lines?limit=100"
        return client.get(url, headers={**auth, "Stripe-Version": version}).get_json()["data"]

    old, new = lines("2024-06-20"), lines(BASIL)
    assert [x["id"] for x in old] == [x["id"] for x in new] and old
    for before, after in zip(old, new, strict=True):
        assert set(before) >= LINE_FIELDS_BEFORE_BASIL
        assert not LINE_FIELDS_BEFORE_BASIL & set(after)
        details = after["parent"]["subscription_item_details"]
        assert after["parent"]["type"] == "subscription_item_details"
        assert details["subscription"] == before["subscription"] == invoice["subscription"]
        assert details["subscription_item"] == before["subscription_item"]
        assert details["proration"] == before["proration"]
        assert after["pricing"]["price_details"]["price"] == before["price"]["id"]
        assert [t["amount"] for t in after["taxes"]] == [t["amount"] for t in before["tax_amounts"]]
        assert after["amount"] == before["amount"] and after["quantity"] == before["quantity"]


def test_subscriptions_in_basil_keep_periods_on_items_and_discounts_by_id() -> None:
    """basil moves the current period onto the items and keeps a coupon only behind
    `discounts` ids, which `expand[]=data.discounts` turns into discount objects."""
    app = create_app({"MOCK_CONFIG": MockConfig(), "MOCK_NOW": str(NOW)})
    client = app.test_client()
    auth = {"Authorization": "Bearer sk_test_x"}

    def subscriptions(version: str, expand: bool = False) -> list[dict]:
        url = "/v1/subscriptions?limit=100&status=all"
        if expand:
            url += "&expand[]=data.discounts"
        response = client.get(url, headers={**auth, "Stripe-Version": version})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]

    old, new = subscriptions("2024-06-20"), subscriptions(BASIL)
    expanded = subscriptions(BASIL, expand=True)
    assert [s["id"] for s in old] == [s["id"] for s in new] == [s["id"] for s in expanded]
    with_coupon = 0
    for before, after, full in zip(old, new, expanded, strict=True):
        assert {"current_period_start", "current_period_end", "discount"} <= set(before)
        assert not {"current_period_start", "current_period_end", "discount"} & set(after)
        for item in after["items"]["data"]:
            assert item["current_period_start"] == before["current_period_start"]
            assert item["current_period_end"] == before["current_period_end"]
        assert after["discounts"] == before["discounts"]
        if before["discount"] is None:
            assert full["discounts"] == []
            continue
        with_coupon += 1
        assert after["discounts"] == [before["discount"]["id"]]
        assert full["discounts"] == [before["discount"]]
        assert full["discounts"][0]["coupon"]["id"] == before["discount"]["coupon"]["id"]
    assert with_coupon
