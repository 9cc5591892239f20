"""Billing's Silver against the mock's billing engine (issue 18): one `run-pipeline` over the
account's whole history (28 days, inside Stripe's 30 days of events), then Silver is compared
with the engine's own objects, never with the SQL's output.

- stg_stripe__subscriptions holds every subscription in its state at the run;
- stg_stripe__subscription_versions is exact history: at every sampled instant, the version
  in effect (the newest with `version_at` <= t) equals the engine's subscription at t;
- stg_stripe__invoice_line_items holds every line of every invoice once, those beyond the 10
  an invoice embeds included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_api.dataset import Dataset, MockConfig, parse_time
from mock_api.dataset.mrr import billing_scenarios
from tests.dbt.lake_queries import rows, silver
from tests.support.cli import run_cli
from tests.support.paging import page_all_of
from tests.support.servers import start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = parse_time("2026-01-01T00:00:00Z")
NOW = parse_time("2026-01-28T00:00:00Z")
VOLUME = 40
SAMPLE_SECONDS = 4 * 3600


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("billing_silver") / "lake"
    mock = start_mock_api(
        {"MOCK_NOW": str(NOW), "MOCK_VOLUME": str(VOLUME)}, tmp_path_factory.mktemp("mock")
    )
    try:
        done = run_cli("run-pipeline", "--days", "28", "--run-id", "b1", lake=root, api=mock.url)
    finally:
        mock.stop()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset(MockConfig(volume=VOLUME))


def state(subscription: dict) -> tuple:
    """What a version is made of, from the engine's object."""
    items = sorted(
        (
            {"id": i["id"], "price_id": i["price"]["id"], "quantity": i.get("quantity")}
            for i in subscription["items"]["data"]
        ),
        key=lambda item: item["id"],
    )
    coupon = ((subscription.get("discount") or {}).get("coupon") or {}).get("id")
    return (
        subscription["customer"],
        subscription["status"],
        coupon,
        subscription["cancel_at_period_end"],
        subscription["canceled_at"],
        subscription["current_period_end"],
        items,
    )


COLUMNS = (
    "customer_id, status, coupon_id, cancel_at_period_end, "
    "cast(epoch(canceled_at) as bigint), cast(epoch(current_period_end) as bigint), items"
)


def silver_state(row: tuple) -> tuple:
    return (*row[:-1], json.loads(row[-1]))


def test_every_subscription_in_its_state_at_the_run(lake: Path, dataset: Dataset) -> None:
    truth = {s["id"]: state(s) for s in dataset.objects("subscriptions", NOW)}
    got = {
        r[0]: silver_state(r[1:])
        for r in rows(f"select subscription_id, {COLUMNS} from {silver(lake, 'subscriptions')}")
    }
    assert got == truth
    assert {s[1] for s in truth.values()} >= {"active", "canceled", "trialing"}


def test_the_version_in_effect_is_the_engines_state_at_every_instant(
    lake: Path, dataset: Dataset
) -> None:
    versions: dict[str, list[tuple]] = {}
    for row in rows(
        f"select subscription_id, cast(epoch(version_at) as bigint), {COLUMNS} "
        f"from {silver(lake, 'subscription_versions')} order by 1, 2"
    ):
        versions.setdefault(row[0], []).append((row[1], silver_state(row[2:])))
    assert any(len(v) > 1 for v in versions.values()), "no subscription changed state"
    checked = 0
    for t in range(START, NOW, SAMPLE_SECONDS):
        for subscription in dataset.objects("subscriptions", t):
            in_effect = [s for at, s in versions.get(subscription["id"], []) if at <= t]
            assert in_effect, (subscription["id"], t)
            assert in_effect[-1] == state(subscription), (subscription["id"], t)
            checked += 1
    assert checked > 1000
    # Consecutive versions differ: identical states are collapsed.
    for history in versions.values():
        states = [s for _, s in history]
        assert all(a != b for a, b in zip(states, states[1:], strict=False))


def test_every_invoice_has_exactly_its_lines(lake: Path, dataset: Dataset) -> None:
    """Embedded lines for an invoice that has them all, every page of
    /v1/invoices/{id}/lines for one with more than 10: each line once, with its amount."""
    want = {}
    for invoice in dataset.objects("invoices", NOW):
        lines = page_all_of(dataset.invoice_lines, invoice["id"], NOW)
        want.update({(invoice["id"], line["id"]): line["amount"] for line in lines})
    got = rows(
        f"select invoice_id, line_item_id, amount_minor from {silver(lake, 'invoice_line_items')}"
    )
    assert len(got) == len(want)
    assert {(i, line): amount for i, line, amount in got} == want
    over_10 = billing_scenarios(dataset, NOW)["invoice_over_10_lines"]
    assert sum(1 for i, _, _ in got if i == over_10) > 10
