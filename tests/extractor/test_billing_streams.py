"""The billing streams against the fake: products, prices, coupons, subscriptions (every
status), and the invoice-lines child stream (`GET /v1/invoices/{id}/lines`, every page, for
an invoice seen in a list or only in an event whose `lines.has_more`), resumable after a
crash. Objects are Stripe's published examples (tests/data/stripe)."""

from __future__ import annotations

import json
import os
import signal

import pytest

from extractor.extract.plan import Plan
from extractor.lake.watermarks import read_watermark
from extractor.streams import ENTITY_STREAMS
from tests.extractor.conftest import DAY, HOUR, NOW, extract, lake_of, landed
from tests.extractor.fake_stripe import FakeStripe, billing_fixture
from tests.support.cli import run_cli

pytestmark = pytest.mark.integration

LINES_STATE = "_state/children/invoice_line_items.json"


def run_all_streams(days: int = 1) -> Plan:
    return Plan("run-all", tuple(s.name for s in ENTITY_STREAMS), True, days)


def lines_of(invoice_id: str, count: int) -> list[dict]:
    return [
        billing_fixture(
            "line_item",
            id=f"il_{invoice_id}_{n:02d}",
            invoice=invoice_id,
            amount=100 * (n + 1),
        )
        for n in range(count)
    ]


def lines_landed(storage, run_id: str | None = None) -> dict[str, list[str]]:
    got: dict[str, list[str]] = {}
    for row in landed(storage, "invoice_line_items", run_id):
        got.setdefault(row["_parent_id"], []).append(row["data"]["id"])
    return got


def line_requests(fake: FakeStripe) -> list[dict]:
    return [r for r in fake.requests if r["path"].endswith("/lines")]


def test_every_line_of_an_invoice_over_10_lines_lands_once(fake, settings):
    big = fake.add(
        "/v1/invoices",
        fake.add_invoice("in_big", NOW - HOUR, lines_of("in_big", 23), status="paid"),
    )
    small = fake.add(
        "/v1/invoices",
        fake.add_invoice("in_small", NOW - HOUR, lines_of("in_small", 3), status="paid"),
    )
    assert big["lines"]["has_more"] and not small["lines"]["has_more"]
    section = extract(settings, run_all_streams(), "r1")
    storage = lake_of(settings)

    got = lines_landed(storage, "r1")
    assert list(got) == ["in_big"]  # the small invoice's 3 lines are all embedded
    assert sorted(got["in_big"]) == [f"il_in_big_{n:02d}" for n in range(23)]
    assert len(got["in_big"]) == 23
    rows = landed(storage, "invoice_line_items", "r1")
    assert {r["_source"] for r in rows} == {"list"}
    assert {r["data"]["amount"] for r in rows} == {100 * (n + 1) for n in range(23)}
    # Three pages of 10, 10 and 3, each after the last id of the one before.
    cursors = [r["query"].get("starting_after") for r in line_requests(fake)]
    assert cursors == [None, "il_in_big_09", "il_in_big_19"]
    entity = section["entities"]["invoice_line_items"]
    assert entity["records"] == 23 and entity["parents_listed"] == 1
    state = json.loads(storage.get(LINES_STATE))
    assert state["parents_listed"] == ["in_big"] and state["run_id"] == "r1"

    # A later run sees the paid invoice again (safety window): its lines are final, not
    # listed again.
    fake.now = NOW + HOUR
    fake.requests.clear()
    extract(settings, run_all_streams(), "r2")
    assert line_requests(fake) == []
    assert lines_landed(storage, "r2") == {}


def test_lines_of_invoices_seen_only_in_events_are_listed_and_a_draft_again(fake, settings):
    """The invoice list does not carry them (created before the window); their events do.
    A finalized invoice is listed once; a draft's lines may change, so it is listed each
    time a run sees it, and a draft deleted meanwhile (404) is no error."""
    old = NOW - 10 * DAY  # before the 1-day window of the lists
    final = fake.add_invoice("in_final", old, lines_of("in_final", 12), status="open")
    draft = fake.add_invoice("in_draft", old, lines_of("in_draft", 11), status="draft")
    gone = fake.add_invoice("in_gone", old, lines_of("in_gone", 15), status="draft")
    fake.add_event("evt_1", "invoice.finalized", NOW - 2 * HOUR, final)
    fake.add_event("evt_2", "invoice.updated", NOW - 2 * HOUR, draft)
    fake.add_event("evt_3", "invoice.created", NOW - 2 * HOUR, gone)
    del fake.invoice_lines["in_gone"]  # deleted before the run lists its lines
    extract(settings, run_all_streams(), "r1")
    storage = lake_of(settings)

    got = lines_landed(storage, "r1")
    assert {k: len(v) for k, v in got.items()} == {"in_final": 12, "in_draft": 11}
    assert set(got["in_final"]) == {line["id"] for line in fake.invoice_lines["in_final"]}
    assert json.loads(storage.get(LINES_STATE))["parents_listed"] == ["in_final"]
    routed = [r["data"]["id"] for r in landed(storage, "invoices", "r1") if r["_source"] == "event"]
    assert sorted(routed) == ["in_draft", "in_final", "in_gone"]

    # The draft gets a line and another event: listed again; the final one is not.
    fake.invoice_lines["in_draft"].append(lines_of("in_draft", 12)[-1])
    fake.add_event("evt_4", "invoice.updated", NOW + HOUR, draft)
    fake.add_event("evt_5", "invoice.updated", NOW + HOUR, final)
    fake.now = NOW + 2 * HOUR
    fake.requests.clear()
    extract(settings, run_all_streams(), "r2")
    assert {k: len(v) for k, v in lines_landed(storage, "r2").items()} == {"in_draft": 12}
    assert {r["path"] for r in line_requests(fake)} == {"/v1/invoices/in_draft/lines"}


def test_a_crash_mid_child_stream_lists_every_invoice_on_the_rerun(fake, settings, cli_env_billing):
    """Killed after the first invoice's lines, the run commits nothing; the rerun lists every
    invoice's lines, each line once; a third run lists none again (all are paid)."""
    want = {}
    for n in range(3):
        invoice_id = f"in_crash_{n}"
        lines = lines_of(invoice_id, 11 + n)
        fake.add("/v1/invoices", fake.add_invoice(invoice_id, NOW - HOUR, lines, status="paid"))
        want[invoice_id] = sorted(line["id"] for line in lines)
    env = {**cli_env_billing, "PIPELINE_FAILPOINTS": "extract.children_listed"}
    killed = run_cli("run-all", "--days", "1", "--run-id", "killed", env=env, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    storage = lake_of(settings)
    assert storage.get(LINES_STATE) is None
    assert read_watermark(storage, "invoices") is None

    del env["PIPELINE_FAILPOINTS"]
    done = run_cli("run-all", "--days", "1", "--run-id", "rerun", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    got = lines_landed(storage, "rerun")
    assert {k: sorted(v) for k, v in got.items()} == want  # each line once
    assert json.loads(storage.get(LINES_STATE))["parents_listed"] == sorted(want)

    fake.requests.clear()
    third = run_cli("run-all", "--days", "1", "--run-id", "third", env=env, timeout=60)
    assert third.returncode == 0, third.stderr
    assert line_requests(fake) == []


def test_billing_objects_land_and_every_subscription_is_listed(fake, settings):
    fake.add("/v1/products", billing_fixture("product", id="prod_a", created=NOW - HOUR))
    fake.add("/v1/prices", billing_fixture("price", id="price_a", created=NOW - HOUR))
    fake.add("/v1/coupons", billing_fixture("coupon", id="FOREVER", created=NOW - HOUR))
    for status in ("active", "trialing", "canceled", "past_due"):
        fake.add(
            "/v1/subscriptions",
            billing_fixture(
                "subscription", id=f"sub_{status}", status=status, created=NOW - 2 * HOUR
            ),
        )
    moved = billing_fixture("subscription", id="sub_old", status="active", created=NOW - 9 * DAY)
    fake.add_event("evt_sub", "customer.subscription.updated", NOW - HOUR, moved)
    fake.add_event(
        "evt_price",
        "price.updated",
        NOW - HOUR,
        billing_fixture("price", id="price_a", active=False),
    )
    extract(settings, run_all_streams(), "r1")
    storage = lake_of(settings)

    subs = landed(storage, "subscriptions", "r1")
    by_source = {(r["data"]["id"], r["_source"]) for r in subs}
    assert by_source == {
        ("sub_active", "list"),
        ("sub_trialing", "list"),
        ("sub_canceled", "list"),  # only listed with status=all
        ("sub_past_due", "list"),
        ("sub_old", "event"),
    }
    sub_requests = [r for r in fake.requests if r["path"] == "/v1/subscriptions"]
    assert sub_requests and all(r["query"]["status"] == "all" for r in sub_requests)
    assert [r["data"]["id"] for r in landed(storage, "products", "r1")] == ["prod_a"]
    assert [r["data"]["id"] for r in landed(storage, "coupons", "r1")] == ["FOREVER"]
    prices = sorted((r["_source"], r["data"]["active"]) for r in landed(storage, "prices", "r1"))
    assert prices == [("event", False), ("list", True)]
    # customer.* covers customer.subscription.*: no second filter reads those events twice.
    assert [r["data"]["id"] for r in landed(storage, "events", "r1")].count("evt_sub") == 1
    for name in ("products", "prices", "coupons", "subscriptions"):
        assert read_watermark(storage, name).watermark == NOW


def test_an_account_without_billing_objects_is_a_normal_run(fake, settings):
    section = extract(settings, run_all_streams(), "r1")
    storage = lake_of(settings)
    assert section["status"] == "succeeded"
    for name in ("products", "prices", "coupons", "subscriptions", "invoice_line_items"):
        assert section["entities"][name]["records"] == 0
        assert landed(storage, name) == []
    for name in ("products", "prices", "coupons", "subscriptions"):
        assert read_watermark(storage, name).watermark == NOW
    assert storage.get(LINES_STATE) is None
    assert line_requests(fake) == []


@pytest.fixture
def cli_env_billing(fake, settings, lake):
    env = {
        **os.environ,
        "STRIPE_API_BASE": fake.url,
        "STRIPE_API_KEY": settings.api_key.reveal(),
        "LAKE_ROOT": lake,
        "STRIPE_RATE_LIMIT_RPS": "5000",
        "STRIPE_PAGE_LIMIT": "10",
        "EXTRACT_MAX_WORKERS": "1",
    }
    env.pop("RUN_ID", None)
    if lake.startswith("s3://"):
        env["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    return env
