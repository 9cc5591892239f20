"""The real `run-webhooks` command (waitress) on a free loopback port, local disk and S3."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests

from extractor.lake.layout import WEBHOOK_ENTITY, bronze_entity
from extractor.lake.storage import Storage, storage_for
from extractor.settings import Settings
from mock_api.dataset import Dataset, MockConfig
from tests.support.cli import run_cli
from tests.support.servers import REPO_ROOT
from tests.webhooks.conftest import (
    OTHER_SECRET,
    SECRET,
    body_of,
    make_event,
    server_env,
)
from webhook_app.signature import sign_header

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", "s3"])
def lake_root(request, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "lake")
    return request.getfixturevalue("s3_lake")["LAKE_ROOT"]


def lake_storage(lake_root: str) -> Storage:
    return storage_for(Settings.from_env({"LAKE_ROOT": lake_root, **_aws_env()}))


def _aws_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


def test_three_concurrent_duplicates_store_one_object(start_webhook_server, lake_root: str) -> None:
    server = start_webhook_server(lake_root)
    event = make_event("evt_concurrent", created=int(time.time()) - 10)
    body = body_of(event)
    barrier = threading.Barrier(3)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def deliver() -> None:
        header = sign_header(body, [SECRET], int(time.time()))
        barrier.wait()
        response = requests.post(
            f"{server.url}/webhooks/stripe", data=body, headers={"Stripe-Signature": header}
        )
        with lock:
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers, key=lambda a: a[1]["duplicate"]) == [
        (200, {"received": True, "duplicate": False}),
        (200, {"received": True, "duplicate": True}),
        (200, {"received": True, "duplicate": True}),
    ]
    storage = lake_storage(lake_root)
    keys = list(storage.list(bronze_entity(WEBHOOK_ENTITY)))
    assert len(keys) == 1 and keys[0].endswith("/evt_concurrent.json")
    assert json.loads(storage.get(keys[0]))["data"] == event


def test_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    # Exactly server_env, nothing inherited: no secret can come from this process's env.
    result = run_cli(
        "run-webhooks",
        "--port",
        "1",
        env=server_env(str(tmp_path / "lake"), secret=None),
        timeout=30,
    )
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "no webhook signing secret is configured: set STRIPE_WEBHOOK_SECRET" in result.stderr
    assert "--insecure-no-verify" in result.stderr
    assert not (tmp_path / "lake").exists()


def test_insecure_mode_warns_on_start_and_accepts_unsigned(
    start_webhook_server, tmp_path: Path
) -> None:
    server = start_webhook_server(str(tmp_path / "lake"), "--insecure-no-verify", secret=None)
    response = requests.post(f"{server.url}/webhooks/stripe", data=body_of(make_event()))
    assert response.json() == {"received": True, "duplicate": False}
    warnings = [
        json.loads(line)
        for line in server.log_text().splitlines()
        if '"webhook_signature_verification_disabled"' in line
    ]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    assert "never use this outside local testing" in warnings[0]["message"]


def test_chunked_oversize_body_is_413_on_the_real_server(
    start_webhook_server, tmp_path: Path
) -> None:
    server = start_webhook_server(str(tmp_path / "lake"))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    body = b"x" * (2 * 1024 * 1024)
    header = sign_header(body, [SECRET], int(time.time()))
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    connection.request(
        "POST",
        "/webhooks/stripe",
        body=chunks,
        headers={"Stripe-Signature": header},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413
    # Waitress de-chunks the body and sets CONTENT_LENGTH before the app sees it.
    assert json.loads(response.read())["message"] == (
        "body is 2097152 bytes; the limit is 1048576 bytes"
    )
    assert not (tmp_path / "lake" / bronze_entity(WEBHOOK_ENTITY)).exists()


def test_sender_with_duplicates_reordering_and_rotation_stores_each_event_once(
    start_webhook_server, lake_root: str, tmp_path: Path
) -> None:
    """End to end: the real server + the real sender; every sent event stored exactly once."""
    server = start_webhook_server(lake_root)
    now = "2026-01-03T12:00:00Z"
    cmd = [
        sys.executable, "-m", "mock_api.send_webhooks",
        "--to", f"{server.url}/webhooks/stripe",
        "--secret", OTHER_SECRET, "--secret", SECRET,  # rotation: only the second is the server's
        "--duplicate-rate", "0.3", "--drop-rate", "0.1", "--reorder",
        "--concurrency", "4", "--seed", "7",
        "--now", now, "--since", "2026-01-02T12:00:00Z",
        "--mock-seed", "42", "--start-date", "2026-01-01", "--volume", "20",
    ]  # fmt: skip
    result = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        env=server_env(lake_root),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)

    dataset = Dataset(MockConfig(seed=42, start_date="2026-01-01", volume=20))
    t_now = 1767441600
    expected = {e["id"]: e for e in dataset.events(t_now) if e["created"] >= t_now - 86400}
    dropped = set(summary["dropped_ids"])
    assert summary["events"] == len(expected) > 20
    assert dropped and dropped <= expected.keys()
    assert summary["duplicated"] > 0
    assert summary["deliveries"] == len(expected) - len(dropped) + summary["duplicated"]
    assert summary["sent"] == summary["deliveries"] and summary["failed"] == 0
    assert summary["acknowledged_duplicates"] == summary["duplicated"]

    storage = lake_storage(lake_root)
    keys = list(storage.list(bronze_entity(WEBHOOK_ENTITY)))
    stored = {key.rsplit("/", 1)[1].removesuffix(".json"): key for key in keys}
    assert len(keys) == len(stored)  # exactly once
    assert stored.keys() == expected.keys() - dropped
    for event_id, key in stored.items():
        envelope = json.loads(storage.get(key))
        event = expected[event_id]
        assert envelope["data"] == event
        assert envelope["_source"] == "webhook"
        assert envelope["_event_id"] == event_id
        assert envelope["_event_type"] == event["type"]
        assert envelope["_api_version"] == event["api_version"]
        assert envelope["_observed_at"] == event["created"]
        assert envelope["_received_at"].endswith("Z")
        day = time.strftime("%Y-%m-%d", time.gmtime(event["created"]))
        assert key == f"{bronze_entity(WEBHOOK_ENTITY)}dt={day}/{event_id}.json"
    assert SECRET not in server.log_text() and OTHER_SECRET not in server.log_text()


def test_moto_bucket_holds_no_secret(start_webhook_server, s3_lake: dict[str, str]) -> None:
    server = start_webhook_server(s3_lake["LAKE_ROOT"])
    body = body_of(make_event("evt_secretless", created=int(time.time())))
    header = sign_header(body, [SECRET], int(time.time()))
    assert requests.post(f"{server.url}/webhooks/stripe", data=body, headers={
        "Stripe-Signature": header}).status_code == 200  # fmt: skip
    bucket = s3_lake["LAKE_ROOT"][len("s3://") :].split("/", 1)[0]
    client = boto3.client("s3", endpoint_url=s3_lake["AWS_ENDPOINT_URL"])
    objects = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert len(objects) == 1
    content = client.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read()
    assert SECRET.encode() not in content and b'"_source":"webhook"' in content
