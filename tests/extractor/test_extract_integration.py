"""Integration: the real extractor against a Stripe-shaped server on loopback, on a local
lake and on S3 (moto_server)."""

from __future__ import annotations

import json

import pytest

from extractor.api.errors import FatalApiError, MalformedPage
from extractor.extract.plan import EventsTooOld, Plan
from extractor.lake.lock import LockHeld, RunLock
from extractor.lake.manifest import read_manifest
from extractor.lake.watermarks import StateError, read_watermark
from tests.extractor.conftest import (
    API_KEY,
    DAY,
    ENTITY_PATHS,
    HOUR,
    NOW,
    extract,
    lake_of,
    landed,
    run_all,
    seed,
)
from tests.extractor.fake_stripe import Fault

pytestmark = pytest.mark.integration


def ids_between(fake, path: str, gte: int, lt: int) -> set[str]:
    return {o["id"] for o in fake.objects[path] if gte <= o["created"] < lt}


def test_first_run_then_incremental_with_boundary_overlap(fake, settings):
    storage = lake_of(settings)
    for name, path in ENTITY_PATHS.items():  # one record inside the safety window
        fake.add(path, {"id": f"{name}_boundary", "created": NOW - 300})
    section = extract(settings, run_all(days=3), "run1")
    assert section["status"] == "succeeded"
    for name, path in ENTITY_PATHS.items():
        rows = landed(storage, name, "run1")
        assert {r["data"]["id"] for r in rows} == ids_between(fake, path, NOW - 3 * DAY, NOW)
        assert len(rows) == 73  # 3 days x 24 per day + the boundary record, no duplicates
        assert {r["_source"] for r in rows} == {"list"}
        assert {r["_observed_at"] for r in rows} == {NOW}  # the API's clock (Date header)
        assert read_watermark(storage, name).watermark == NOW
    ent = section["entities"]["charges"]
    assert ent["window"]["gte"] == NOW - 3 * DAY and ent["window"]["lt"] == NOW
    assert ent["records"] == 73 and ent["slices"] == 4
    assert sum(f["rows"] for f in ent["files"]) == 73
    assert ent["files"][0]["key"].startswith(
        "bronze/source=stripe/entity=charges/dt=2026-01-09/run_id=run1/part-"
    )
    assert ent["watermark_before"] is None and ent["watermark_after"] == NOW
    assert read_manifest(storage, "run1")["extract"]["status"] == "succeeded"

    # Request shapes: paths, params and headers, as real Stripe expects them.
    charge_requests = [r for r in fake.requests if r["path"] == "/v1/charges"]
    first = charge_requests[0]
    assert set(first["query"]) >= {"created[gte]", "created[lt]", "limit"}
    assert first["query"]["limit"] == "10"
    assert all(r["authorization"] == f"Bearer {API_KEY}" for r in fake.requests)
    assert all(r["headers"]["Stripe-Version"] == settings.stripe_version for r in fake.requests)
    assert any("starting_after" in r["query"] for r in charge_requests)
    event_types = {r["query"].get("type") for r in fake.requests if r["path"] == "/v1/events"}
    assert event_types >= {"customer.*", "charge.*", "payment_intent.*", "invoice.*"}

    # Two hours later: only the new window, plus the safety window's overlap on purpose. The
    # boundary records are read again; only the one that changed meanwhile is written again
    # (ADR 0057: an unchanged copy would be new Bronze for nothing).
    fake.now = NOW + 2 * HOUR
    seed(fake, NOW, NOW + 2 * HOUR, step=600, tag="new")
    changed = next(o for o in fake.objects["/v1/customers"] if o["id"] == "customers_boundary")
    changed["name"] = "renamed after run1"
    fake.requests.clear()
    section = extract(settings, run_all(days=3), "run2")
    for name, path in ENTITY_PATHS.items():
        got = [r["data"]["id"] for r in landed(storage, name, "run2")]
        expected = ids_between(fake, path, NOW - settings.safety_window_seconds, NOW + 2 * HOUR)
        assert len(expected) == 12 + 1  # 12 new + the boundary record, fetched again
        if name == "customers":
            assert sorted(got) == sorted(expected)
            assert section["entities"][name]["unchanged_rereads"] == 0
        else:
            assert sorted(got) == sorted(set(expected) - {f"{name}_boundary"})
            assert section["entities"][name]["unchanged_rereads"] == 1
        assert read_watermark(storage, name).watermark == NOW + 2 * HOUR
    assert section["entities"]["charges"]["watermark_before"] == NOW
    gte = {int(r["query"]["created[gte]"]) for r in fake.requests if r["path"] == "/v1/charges"}
    assert min(gte) == NOW - 600


def test_a_quiet_rerun_writes_nothing_and_a_lost_rereads_file_costs_only_a_copy(fake, settings):
    storage = lake_of(settings)
    for name, path in ENTITY_PATHS.items():
        fake.add(path, {"id": f"{name}_boundary", "created": NOW - 300})
    extract(settings, run_all(days=1), "run1")
    fake.now = NOW + 60  # nothing new since run1: its overlap is read again, unchanged
    section = extract(settings, run_all(days=1), "run2")
    assert section["status"] == "succeeded"
    assert section["totals"]["records"] == 0 and section["totals"]["files"] == 0
    assert all(section["entities"][name]["unchanged_rereads"] == 1 for name in ENTITY_PATHS)
    assert section["entities"]["balance"]["unchanged_rereads"] == 1  # the same balance
    assert all(landed(storage, name, "run2") == [] for name in ENTITY_PATHS)
    assert read_watermark(storage, "charges").watermark == NOW + 60

    # A broken state file stops the next run before it reads anything; nothing moves.
    key = "_state/rereads/charges.json"
    storage.put(key, b"{not json")
    fake.now = NOW + 120
    with pytest.raises(StateError, match=r"rereads/charges\.json is unreadable .*delet"):
        extract(settings, run_all(days=1), "run3")
    assert read_watermark(storage, "charges").watermark == NOW + 60
    assert read_manifest(storage, "run3")["extract"]["status"] == "failed"

    # Deleting it (as the message says) only makes the next run write its overlap again.
    storage.delete(key)
    section = extract(settings, run_all(days=1), "run4")
    assert [r["data"]["id"] for r in landed(storage, "charges", "run4")] == ["charges_boundary"]
    assert landed(storage, "customers", "run4") == []


def test_updates_and_deletes_arrive_through_events(fake, settings):
    storage = lake_of(settings)
    extract(settings, run_all(days=1), "run1")
    fake.now = NOW + HOUR
    charge = next(o for o in fake.objects["/v1/charges"] if o["created"] == NOW - 2 * HOUR)
    customer = next(o for o in fake.objects["/v1/customers"] if o["created"] == NOW - 5 * HOUR)
    refunded = {**charge, "refunded": True, "amount_refunded": 500, "amount": 1.10}
    fake.add_event("evt_1", "charge.refunded", NOW + 60, refunded)
    fake.add_event("evt_2", "customer.deleted", NOW + 120, customer)
    fake.add_event(
        "evt_3",
        "charge.dispute.created",
        NOW + 180,
        {"id": "dp_1", "object": "dispute", "charge": charge["id"]},
    )
    section = extract(settings, run_all(days=1), "run2")

    charges = [r for r in landed(storage, "charges", "run2") if r["_source"] == "event"]
    assert [
        (r["data"]["id"], r["_event_id"], r["_event_type"], r["_observed_at"]) for r in charges
    ] == [(charge["id"], "evt_1", "charge.refunded", NOW + 60)]
    assert charges[0]["data"]["refunded"] is True
    tomb = [r for r in landed(storage, "customers", "run2") if r["_source"] == "event"]
    assert [(r["data"]["id"], r["data"]["deleted"]) for r in tomb] == [(customer["id"], True)]
    events = landed(storage, "events", "run2")
    assert sorted(r["data"]["id"] for r in events) == ["evt_1", "evt_2", "evt_3"]
    assert not any(
        r["data"]["id"] == "dp_1" for e in ("charges", "customers") for r in landed(storage, e)
    )
    assert section["entities"]["customers"]["tombstones"] == 1
    assert section["entities"]["charges"]["records_event"] == 1
    # The object is kept as the API sent it: the float spelling survives.
    raw = storage.get(section["entities"]["charges"]["files"][0]["key"]).decode()
    assert '"amount": 1.1,' in raw or '"amount": 1.1}' in raw
    assert read_watermark(storage, "events").watermark == NOW + HOUR


def test_429_storm_and_5xx_on_page_k_every_id_lands(fake, settings):
    storage = lake_of(settings)
    fake.set_faults(
        Fault("/v1/charges", nth=3, status=500, times=2),
        Fault("/v1/charges", nth=7, status=429, headers={"Retry-After": "0"}, times=4),
        Fault("/v1/invoices", nth=2, status=503),
    )
    section = extract(
        settings,
        run_all(days=3),
        "run1",
        max_workers=2,
    )
    for name, path in ENTITY_PATHS.items():
        got = [r["data"]["id"] for r in landed(storage, name)]
        assert sorted(got) == sorted(ids_between(fake, path, NOW - 3 * DAY, NOW))
    assert section["entities"]["charges"]["retries"] == 6
    assert section["entities"]["invoices"]["retries"] == 1
    assert section["totals"]["retries"] == 7


def test_fatal_4xx_fails_fast_without_leaking_the_key(fake, settings, capsys):
    storage = lake_of(settings)
    body = json.dumps(
        {
            "error": {
                "type": "authentication_error",
                "message": f"Invalid API Key provided: {API_KEY}",
            }
        }
    )
    fake.set_faults(Fault("/v1/charges", nth=1, status=401, body=body, times=100))
    with pytest.raises(FatalApiError) as info:
        extract(settings, Plan("run-batch", ("charges",), False), "run1", max_workers=1)
    message = str(info.value)
    assert message.startswith("GET /v1/charges returned HTTP 401: authentication_error")
    assert "check STRIPE_API_KEY" in message
    assert fake.counts["/v1/charges"] == 1  # not retried
    manifest = storage.get("_state/manifests/run_run1.json").decode()
    doc = json.loads(manifest)
    assert doc["extract"]["status"] == "failed"
    assert doc["extract"]["error"]["type"] == "FatalApiError"
    out = capsys.readouterr()
    for text in (manifest, message, repr(info.value), out.out, out.err):
        assert API_KEY not in text
        assert "Bearer" not in text
    assert read_watermark(storage, "charges") is None


def test_malformed_page_fails_the_run_and_commits_nothing(fake, settings):
    storage = lake_of(settings)
    extract(settings, run_all(days=1), "run1")
    fake.now = NOW + HOUR
    seed(fake, NOW, NOW + HOUR, step=60, tag="n")
    truncated = '{"object": "list", "data": [{"id": "ch_x"'
    fake.set_faults(Fault("/v1/charges", nth=3, status=200, body=truncated, times=100))
    with pytest.raises(
        MalformedPage,
        match=r"GET /v1/charges \(starting_after=cha_n\d+_\d+\): "
        r"response is not valid JSON",
    ):
        extract(settings, run_all(days=1), "run2", max_workers=1)
    for name in ENTITY_PATHS:
        assert read_watermark(storage, name).watermark == NOW  # unchanged
    assert read_watermark(storage, "events").watermark == NOW
    doc = read_manifest(storage, "run2")["extract"]
    assert doc["status"] == "failed" and "not valid JSON" in doc["error"]["message"]
    # The lock is released: the next run succeeds and fetches the whole window again.
    fake.set_faults()
    extract(settings, run_all(days=1), "run3")
    got = {r["data"]["id"] for r in landed(storage, "charges", "run3")}
    assert got == ids_between(fake, "/v1/charges", NOW - 600, NOW + HOUR)


def test_missing_has_more_is_malformed(fake, settings):
    fake.set_faults(Fault("/v1/charges", nth=1, status=200, body='{"object":"list","data":[]}'))
    with pytest.raises(MalformedPage, match="GET /v1/charges: response has no boolean 'has_more'"):
        extract(settings, Plan("run-batch", ("charges",), False), "run1")


def test_second_concurrent_run_is_refused(fake, settings):
    storage = lake_of(settings)
    holder = RunLock(storage, "other-run", "run-all")
    holder.acquire()
    try:
        with pytest.raises(LockHeld, match=r"locked by run other-run \(run-all\)"):
            extract(settings, run_all(), "run1")
        assert read_manifest(storage, "run1") is None
        assert fake.requests == []
    finally:
        holder.release()


def test_days_only_applies_to_the_first_run_and_backfill_never_moves_back(fake, settings):
    storage = lake_of(settings)
    extract(settings, Plan("run-batch", ("charges",), True, days=1), "run1")
    assert read_watermark(storage, "charges").watermark == NOW
    fake.now = NOW + HOUR
    section = extract(settings, Plan("run-batch", ("charges",), True, days=5), "run2")
    assert section["entities"]["charges"]["window"]["gte"] == NOW - 600  # not 5 days back
    # Backfill an old range: lands it, leaves the watermark alone.
    from datetime import date

    plan = Plan("backfill", ("charges",), False, backfill=(date(2026, 1, 5), date(2026, 1, 5)))
    section = extract(settings, plan, "bf1")
    got = {r["data"]["id"] for r in landed(storage, "charges", "bf1")}
    assert got == ids_between(fake, "/v1/charges", NOW - 4 * DAY, NOW - 3 * DAY)
    assert len(got) == 24
    assert read_watermark(storage, "charges").watermark == NOW + HOUR
    assert section["entities"]["charges"]["watermark_after"] == NOW + HOUR


def test_events_older_than_30_days_stop_unless_full_relist(fake, settings):
    storage = lake_of(settings)
    extract(settings, run_all(days=1), "run1")
    fake.now = NOW + 31 * DAY
    with pytest.raises(EventsTooOld, match="beyond Stripe's 30-day event history.*--full-relist"):
        extract(settings, run_all(days=1), "run2")
    assert read_watermark(storage, "events").watermark == NOW
    section = extract(settings, run_all(days=1, full_relist=True), "run3")
    assert section["entities"]["charges"]["window"]["gte"] == NOW - DAY  # history start
    assert section["entities"]["events"]["window"]["gte"] == NOW + DAY + 60
    assert read_watermark(storage, "events").watermark == NOW + 31 * DAY


def test_pretty_printed_pages_become_one_line_each(fake, settings):
    storage = lake_of(settings)
    fake.pretty = True
    extract(settings, Plan("run-batch", ("customers",), False, days=1), "run1")
    rows = landed(storage, "customers")
    assert len(rows) == 24
    key = next(iter(storage.list("bronze/source=stripe/entity=customers/")))
    assert storage.get(key).count(b"\n") == 24


def test_parallel_slices_land_the_same_records_as_a_sequential_run(fake, settings):
    storage = lake_of(settings)
    extract(
        settings, Plan("backfill", ("charges",), False, backfill=_days(3)), "seq", max_workers=1
    )
    extract(
        settings, Plan("backfill", ("charges",), False, backfill=_days(3)), "par", max_workers=4
    )
    seq = sorted(r["data"]["id"] for r in landed(storage, "charges", "seq"))
    par = sorted(r["data"]["id"] for r in landed(storage, "charges", "par"))
    assert seq == par and len(seq) == 72
    doc = read_manifest(storage, "par")["extract"]["entities"]["charges"]
    assert doc["slices"] == 4


def test_run_batch_events_reads_only_the_change_feed(fake, settings):
    storage = lake_of(settings)
    charge = fake.objects["/v1/charges"][-1]
    fake.add_event("evt_9", "charge.succeeded", NOW - 100, charge)
    section = extract(settings, Plan("run-batch", (), True, days=1), "ev1")
    # the feed, and the balance snapshot every run takes
    assert {r["path"] for r in fake.requests} == {"/v1/events", "/v1/balance"}
    assert [r["data"]["id"] for r in landed(storage, "events")] == ["evt_9"]
    assert [r["_source"] for r in landed(storage, "charges")] == ["event"]
    assert read_watermark(storage, "events").watermark == NOW
    assert read_watermark(storage, "charges") is None  # only the feed moved
    assert section["entities"]["charges"]["window"] is None


def _days(n: int):
    from datetime import UTC, datetime, timedelta

    last = datetime.fromtimestamp(NOW, UTC).date() - timedelta(days=1)
    return (last - timedelta(days=n - 1), last)
