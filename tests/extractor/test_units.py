"""Unit tests: error classification, retry waits, rate limiter, raw JSON, parts, windows,
watermarks, lock, manifest sections."""

from __future__ import annotations

import gzip
import json
from datetime import date

import pytest
import requests
from urllib3.exceptions import ReadTimeoutError

from extractor.api.client import retry_waits
from extractor.api.errors import (
    FatalApiError,
    Request,
    RetryableError,
    classify_exception,
    classify_response,
    parse_retry_after,
)
from extractor.api.ratelimit import TokenBucket
from extractor.api.rawjson import one_line, parse_document, with_member_true
from extractor.extract.bronze import PartWriter, envelope_line
from extractor.extract.windows import Window, backfill_window, incremental_window, split
from extractor.lake.ids import InvalidName, validate_entity, validate_run_id
from extractor.lake.lock import LockHeld, RunLock, read_lock, unlock
from extractor.lake.manifest import list_run_ids, read_manifest, update_section
from extractor.lake.storage import LocalStorage
from extractor.lake.watermarks import advance, read_watermark

REQ = Request("GET", "/v1/charges", "ch_9")


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "message"),
    [
        (200, {}, None, None, None),
        (
            429,
            {"Retry-After": "2"},
            {"error": {"type": "rate_limit_error", "message": "slow"}},
            RetryableError,
            "GET /v1/charges (starting_after=ch_9) returned HTTP 429: rate_limit_error: slow",
        ),
        (409, {}, None, RetryableError, "GET /v1/charges (starting_after=ch_9) returned HTTP 409"),
        (500, {}, None, RetryableError, "returned HTTP 500"),
        (503, {}, None, RetryableError, "returned HTTP 503"),
        (
            503,
            {"Stripe-Should-Retry": "false"},
            None,
            FatalApiError,
            "returned HTTP 503 (server says Stripe-Should-Retry: false)",
        ),
        (400, {"Stripe-Should-Retry": "true"}, None, RetryableError, "returned HTTP 400"),
        (
            400,
            {},
            {"error": {"type": "invalid_request_error", "message": "bad", "param": "limit"}},
            FatalApiError,
            "HTTP 400: invalid_request_error: bad (param limit); the request parameters were "
            "rejected",
        ),
        (
            401,
            {},
            {
                "error": {
                    "type": "authentication_error",
                    "message": "Invalid API Key provided: sk_test_abc123secret",
                }
            },
            FatalApiError,
            "HTTP 401: authentication_error: Invalid API Key provided: [REDACTED]; "
            "check STRIPE_API_KEY",
        ),
        (403, {}, None, FatalApiError, "the key lacks permission"),
        (404, {}, None, FatalApiError, "check STRIPE_API_BASE and the endpoint path"),
        (402, {}, None, FatalApiError, "HTTP 402; not retried"),
    ],
)
def test_classify_response(status, headers, body, kind, message):
    error = classify_response(REQ, status, headers, body)
    if kind is None:
        assert error is None
        return
    assert type(error) is kind
    assert message in str(error)
    assert "sk_test_abc123secret" not in repr(error)
    if status == 429:
        assert error.retry_after == 2.0


@pytest.mark.parametrize(
    ("exc", "kind", "message"),
    [
        (
            requests.ConnectionError("refused"),
            RetryableError,
            "connection to http://x failed (ConnectionError)",
        ),
        (requests.ReadTimeout("slow"), RetryableError, "timed out (ReadTimeout)"),
        (
            requests.ConnectionError(ReadTimeoutError(None, "/", "Read timed out.")),
            RetryableError,
            "timed out (ReadTimeout): no complete answer within STRIPE_TIMEOUT_SECONDS",
        ),
        (
            requests.exceptions.ChunkedEncodingError("cut"),
            RetryableError,
            "broken in transit (ChunkedEncodingError)",
        ),
        (requests.exceptions.SSLError("bad cert"), FatalApiError, "SSLError: bad cert"),
        (requests.exceptions.InvalidURL("nope"), FatalApiError, "InvalidURL: nope"),
    ],
)
def test_classify_exception(exc, kind, message):
    error = classify_exception(REQ, exc, "http://x")
    assert type(error) is kind
    assert message in str(error)


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0) == 6.0


def test_retry_waits_capped_jittered_and_obey_retry_after():
    gen = retry_waits(base=1.0, cap=8.0, rng=lambda: 1.0)
    next(gen)
    plain = RetryableError("x")
    assert [gen.send(plain) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    gen = retry_waits(base=1.0, cap=8.0, rng=lambda: 0.0)
    next(gen)
    assert gen.send(plain) == 0.5  # equal jitter: never below half the exponential step
    assert gen.send(RetryableError("x", 429, retry_after=5.0)) == 5.0
    assert gen.send(RetryableError("x", 429, retry_after=999.0)) == 60.0  # capped


def test_token_bucket_rate_and_burst():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(rate=10, burst=2, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits[:2] == [0.0, 0.0]
    assert all(w == pytest.approx(0.1) for w in waits[2:])
    assert now[0] == pytest.approx(0.4)  # 6 tokens at 10/s with a burst of 2


def test_token_bucket_is_thread_safe():
    import threading

    bucket = TokenBucket(rate=1, burst=10_000, clock=lambda: 0.0, sleep=lambda s: None)
    threads = [
        threading.Thread(target=lambda: [bucket.acquire() for _ in range(1000)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bucket._tokens == 2000  # no token lost or double-spent under contention


def test_raw_slices_are_byte_identical_and_lines_stay_lines():
    text = (
        '{"object": "list", "data": [{"id": "a", "amount": 1.10, "n": "\\u00e9\\n"},\n'
        ' {"id":"b"}], "has_more": false}'
    )
    members = parse_document(text, frozenset({"data"}))
    raws = [text[s.start : s.end] for s in members["data"]]
    assert raws == ['{"id": "a", "amount": 1.10, "n": "\\u00e9\\n"}', '{"id":"b"}']
    assert members["has_more"].value is False
    pretty = '{\n  "id": "c",\n  "note": "a  b"\n}'
    assert one_line(pretty) == '{"id":"c","note":"a  b"}'


def test_tombstone_splice():
    assert with_member_true('{"id":"cus_1"}', "deleted") == '{"id":"cus_1","deleted":true}'
    assert with_member_true('{"id":"c","deleted":false}', "deleted") == '{"id":"c","deleted":true}'
    assert with_member_true('{"id":"c","deleted": true}', "deleted") == '{"id":"c","deleted": true}'


def test_envelope_line_embeds_object_verbatim():
    line = envelope_line(
        '{"id":"ch_1","amount":1.10}',
        run_id="r1",
        loaded_at="t",
        observed_at=5,
        source="event",
        event_id="evt_1",
        event_type="charge.refunded",
    )
    assert line.endswith('"data":{"id":"ch_1","amount":1.10}}\n')
    doc = json.loads(line)
    assert list(doc) == [
        "_run_id",
        "_loaded_at",
        "_observed_at",
        "_source",
        "_event_id",
        "_event_type",
        "_api_version",
        "data",
    ]
    assert doc["_event_type"] == "charge.refunded"


@pytest.mark.parametrize("compress", [False, True])
def test_part_writer_rotates_by_records_and_bytes(tmp_path, compress):
    storage = LocalStorage(tmp_path)
    writer = PartWriter(
        storage, "charges", "r1", "2026-01-05", max_records=4, max_bytes=10_000, compress=compress
    )
    writer.write_lines([f'{{"i":{i}}}\n' for i in range(10)])
    files = writer.close()
    suffix = ".jsonl.gz" if compress else ".jsonl"
    prefix = "bronze/source=stripe/entity=charges/dt=2026-01-05/run_id=r1/"
    assert [f.key for f in files] == [f"{prefix}part-0000{i}{suffix}" for i in range(3)]
    assert [f.rows for f in files] == [4, 4, 2]
    raw = (
        b"".join(storage.get(f.key) for f in files)
        if not compress
        else b"".join(gzip.decompress(storage.get(f.key)) for f in files)
    )
    assert [json.loads(x)["i"] for x in raw.splitlines()] == list(range(10))
    small = PartWriter(storage, "events", "r1", "2026-01-05", max_records=100, max_bytes=15)
    small.write_lines(['{"i":1}\n', '{"i":2}\n', '{"i":3}\n'])
    assert [f.rows for f in small.close()] == [2, 1]


def test_windows():
    assert incremental_window(None, 1_000_000, 3, 600) == Window(1_000_000 - 3 * 86400, 1_000_000)
    assert incremental_window(900_000, 1_000_000, 3, 600) == Window(899_400, 1_000_000)
    w = Window(0, 10 * 3600)
    slices = split(w, 4, 3600)
    assert len(slices) == 4
    assert sorted((s.gte, s.lt) for s in slices)[0][0] == 0
    covered = sorted((s.gte, s.lt) for s in slices)
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))
    assert covered[-1][1] == 10 * 3600
    assert split(Window(0, 1800), 4, 3600) == [Window(0, 1800)]
    assert backfill_window(date(2026, 1, 2), date(2026, 1, 3), 10**10) == Window(
        1767312000, 1767484800
    )
    assert backfill_window(date(2026, 1, 2), date(2026, 1, 3), 1767400000).lt == 1767400000
    with pytest.raises(ValueError, match="before --start"):
        backfill_window(date(2026, 1, 3), date(2026, 1, 2), 10**10)


def test_watermark_never_moves_backwards(tmp_path):
    storage = LocalStorage(tmp_path)
    assert read_watermark(storage, "charges") is None
    assert advance(storage, "charges", 2000, 1000, "r1").watermark == 2000
    kept = advance(storage, "charges", 1500, 500, "r2")
    assert (kept.watermark, kept.history_start) == (2000, 500)
    assert read_watermark(storage, "charges").watermark == 2000
    assert advance(storage, "charges", 3000, 2500, "r3").watermark == 3000
    assert read_watermark(storage, "charges").history_start == 500


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "a..b", "x" * 200, "r\x00"])
def test_run_id_validation(bad):
    with pytest.raises(InvalidName, match="invalid run id"):
        validate_run_id(bad)


def test_entity_validation():
    assert validate_entity("charges") == "charges"
    with pytest.raises(InvalidName, match="unknown entity '../etc'"):
        validate_entity("../etc")


def test_lock_exclusive_stale_takeover_and_unlock(tmp_path):
    storage = LocalStorage(tmp_path)
    alive = {"value": True}
    first = RunLock(
        storage, "run-a", "run-all", clock=lambda: 100.0, alive=lambda pid: alive["value"]
    )
    first.acquire()
    second = RunLock(
        storage, "run-b", "run-all", clock=lambda: 160.0, alive=lambda pid: alive["value"]
    )
    with pytest.raises(
        LockHeld,
        match=r"locked by run run-a \(run-all\) on host .* \(60s ago\).*payments-pipeline unlock",
    ):
        second.acquire()
    with pytest.raises(LockHeld, match="still alive on this host; stop it first or pass --force"):
        unlock(storage, alive=lambda pid: True)
    alive["value"] = False  # the holder died: the next run takes over
    second.acquire()
    assert read_lock(storage).run_id == "run-b"
    first.release()  # not ours any more: must not delete run-b's lock
    assert read_lock(storage).run_id == "run-b"
    assert unlock(storage, force=True).startswith("cleared lock of run run-b")
    assert unlock(storage) == "no lock held"


def test_manifest_sections_are_independent(tmp_path):
    storage = LocalStorage(tmp_path)
    update_section(storage, "r1", "extract", {"status": "running"})
    update_section(storage, "r1", "transform", {"status": "succeeded"})
    update_section(storage, "r1", "extract", {"status": "succeeded"})
    doc = read_manifest(storage, "r1")
    assert doc["extract"] == {"status": "succeeded"}
    assert doc["transform"] == {"status": "succeeded"}
    assert list_run_ids(storage) == ["r1"]
    with pytest.raises(ValueError, match="invalid manifest section"):
        update_section(storage, "r1", "run_id", {})


def test_progress_line_and_summary():
    import io

    from extractor.extract.progress import Progress, summary_text

    now = [0.0]
    progress = Progress(stream=io.StringIO(), enabled=True, clock=lambda: now[0])
    progress.add("charges", 300)
    progress.add("customers", 100)
    now[0] = 2.0
    assert progress.line() == "extract charges=300 customers=100 | 400 records, 200/s"
    section = {
        "status": "succeeded",
        "command": "run-all",
        "duration_seconds": 2.0,
        "entities": {
            "charges": {
                "records": 300,
                "records_event": 2,
                "pages": 3,
                "api_calls": 4,
                "retries": 1,
                "files": [{}],
            }
        },
        "totals": {
            "records": 300,
            "files": 1,
            "api_calls": 4,
            "retries": 1,
            "records_per_second": 150.0,
        },
    }
    text = summary_text(section, "r1")
    assert text.splitlines()[0] == "run r1 succeeded (run-all, 2.0s)"
    assert text.splitlines()[2].split()[:7] == ["charges", "300", "2", "3", "4", "1", "1"]
    assert text.splitlines()[-1] == (
        "total 300 records in 1 files, 4 API calls, 1 retries, 150.0 records/s"
    )
    # A run whose safety window held only what is in Bronze already says so (ADR 0057).
    section = {**section, "totals": {**section["totals"], "unchanged_rereads": 7}}
    assert (
        summary_text(section, "r1")
        .splitlines()[-1]
        .endswith("150.0 records/s; 7 unchanged re-reads not written again")
    )
