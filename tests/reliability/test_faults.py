"""Faults from the mock and from S3: the run succeeds, or fails loudly and commits nothing;
after reruns Silver and Gold equal the fault-free baseline."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import boto3
import pytest

from extractor.lake.storage import storage_for
from extractor.settings import Settings
from tests.dbt.lake_queries import content_digest
from tests.reliability.pipeline_support import (
    DAYS,
    NOW,
    assert_watermarks_only_over_durable_data,
    pipeline_env,
)
from tests.reliability.test_crash_recovery import s3_digest
from tests.support.cli import run_cli, start_cli
from tests.support.servers import free_port, start_mock_api
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETRYABLE = {
    "error_rate": 0.15,  # random 500/503
    "drop_rate": 0.03,  # connection cut mid-body
    "latency_ms": 3,
    # Burst 2 < the client's 4 workers: their first requests alone draw 429s, so the storm
    # happens however slow a loaded machine makes the client.
    "rate_limit": {"rps": 25, "burst": 2},
    "seed": 11,
}


def test_retryable_faults_still_land_exactly_the_baseline(baseline, tmp_path: Path) -> None:
    mock = start_mock_api(
        {"MOCK_NOW": str(NOW), "MOCK_FAULTS": json.dumps(RETRYABLE)}, tmp_path / "mock"
    )
    lake = tmp_path / "lake"
    try:
        done = run_cli("run-pipeline", "--days", DAYS, env=pipeline_env(str(lake), mock.url))
    finally:
        mock.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads(next((lake / "_state/manifests").glob("run_*.json")).read_text())
    assert manifest["extract"]["totals"]["retries"] >= 10  # the faults really happened
    assert '"status":429' in done.stderr or "429" in done.stderr
    assert content_digest(lake) == baseline


def test_a_broken_page_fails_loudly_commits_nothing_and_a_rerun_recovers(
    baseline, tmp_path: Path
) -> None:
    # A truncated body and a malformed one both reach the client as invalid JSON (one code
    # path, classified fatal); `tests/extractor/` covers the malformed case without dbt.
    faults = {"script": [{"path": "/v1/charges", "nth": 2, "action": "truncate", "times": 1}]}
    mock = start_mock_api(
        {"MOCK_NOW": str(NOW), "MOCK_FAULTS": json.dumps(faults)}, tmp_path / "mock"
    )
    lake = tmp_path / "lake"
    env = pipeline_env(str(lake), mock.url)
    try:
        failed = run_cli("run-pipeline", "--days", DAYS, env=env)
        storage = storage_for(Settings.from_env({"LAKE_ROOT": str(lake)}))
        committed = assert_watermarks_only_over_durable_data(storage)
        silver_after_failure = list(lake.glob("silver/**/*.parquet"))
        recovered = run_cli("run-pipeline", "--days", DAYS, env=env)
    finally:
        mock.stop()
    assert failed.returncode == 1
    assert "GET /v1/charges" in failed.stderr and "pipeline stopped at extract" in failed.stderr
    assert committed == []
    assert silver_after_failure == []
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert content_digest(lake) == baseline


def test_s3_outage_mid_run_fails_loudly_and_recovers_when_it_is_back(
    baseline, moto_server, tmp_path: Path
) -> None:
    bucket = f"outage-{uuid.uuid4().hex[:10]}"
    direct = boto3.client("s3", endpoint_url=moto_server.url)
    direct.create_bucket(Bucket=bucket)
    proxy = TcpProxy(moto_server.port, free_port()).start()
    # Slow pages, so the outage lands while Bronze parts are being written.
    mock = start_mock_api(
        {"MOCK_NOW": str(NOW), "MOCK_FAULTS": json.dumps({"latency_ms": 40})}, tmp_path / "mock"
    )
    lake_root = f"s3://{bucket}/lake"
    env = pipeline_env(lake_root, mock.url, AWS_ENDPOINT_URL=proxy.url, EXTRACT_MAX_WORKERS="2")

    def parts_written() -> int:
        listed = direct.list_objects_v2(Bucket=bucket, Prefix="lake/bronze/")
        return len(listed.get("Contents", []))

    try:
        proc = start_cli("run-pipeline", "--days", DAYS, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and parts_written() < 2:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before the outage"
        proxy.stop()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err[-3000:]
        assert f"s3://{bucket}/lake/" in err
        # Nothing committed: no watermark, no manifest claiming success.
        keys = [o["Key"] for o in direct.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert not [k for k in keys if "/_state/watermarks/" in k]
        for key in (k for k in keys if "/_state/manifests/" in k):
            doc = json.loads(direct.get_object(Bucket=bucket, Key=key)["Body"].read())
            assert doc["extract"]["status"] != "succeeded"

        proxy.start()
        recovered = run_cli("run-pipeline", "--days", DAYS, env=env)
    finally:
        proxy.stop()
        mock.stop()
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert s3_digest(direct, bucket, "lake", tmp_path / "copy") == baseline
