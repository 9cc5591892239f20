"""SIGKILL at every commit step of a run, then rerun: Gold equals a run that never crashed,
and no watermark ever moves past data that is not durable.

The kills come from named failpoints (extractor/failpoints.py) in the real CLI process, plus
one kill of the whole process group while dbt is writing Silver. One lake goes through the
whole chain (each rerun starting from what the previous crash left), on local disk and on
moto S3.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from extractor.lake.storage import storage_for
from extractor.settings import Settings
from extractor.streams import WATERMARKED_STREAMS
from tests.dbt.lake_queries import content_digest
from tests.reliability.pipeline_support import (
    DAYS,
    assert_watermarks_only_over_durable_data,
    manifest_statuses,
    pipeline_env,
)
from tests.support.cli import run_cli, start_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# (failpoint, what must be true of the lake right after the kill)
EXTRACT_KILLS = [
    ("extract.page_fetched:3", "nothing"),
    ("extract.part_written:2", "nothing"),
    ("extract.before_manifest", "nothing"),
    ("extract.before_watermarks", "nothing"),
    ("extract.between_watermarks", "one"),
    ("extract.before_rereads", "one"),
]


@pytest.fixture
def mock(clean_mock):
    return clean_mock


def kill_during_dbt(env: dict[str, str], silver_written) -> int:
    """run-pipeline in its own session; SIGKILL the group once dbt has written Silver."""
    proc = start_cli(
        "run-pipeline",
        "--days",
        DAYS,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None and not silver_written():
            time.sleep(0.05)
        assert proc.poll() is None, "the pipeline ended before dbt wrote Silver"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.wait(timeout=30)
    return proc.returncode


def crash_chain(lake_root: str, api_base: str, silver_written, kills=EXTRACT_KILLS) -> None:
    storage = storage_for(Settings.from_env({"LAKE_ROOT": lake_root}))
    env = pipeline_env(lake_root, api_base)
    for failpoint, committed in kills:
        killed = run_cli(
            "run-pipeline", "--days", DAYS, env={**env, "PIPELINE_FAILPOINTS": failpoint}
        )
        assert killed.returncode == -signal.SIGKILL, (failpoint, killed.stderr[-2000:])
        marked = assert_watermarks_only_over_durable_data(storage)
        if committed == "nothing":
            assert marked == [], failpoint
        else:
            assert len(marked) >= 1, failpoint
        # The crashed run's manifest never claims a finished pipeline.
        assert storage.get("_state/lock.json") is not None, failpoint

    # Every extraction step committed; now kill the pipeline while dbt rewrites Silver.
    assert kill_during_dbt(env, silver_written) == -signal.SIGKILL
    assert len(assert_watermarks_only_over_durable_data(storage)) == len(WATERMARKED_STREAMS)
    assert "running" in manifest_statuses(storage).values()

    recovered = run_cli("run-pipeline", "--days", DAYS, env=env)
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert "stale_lock_taken_over" in recovered.stderr
    assert "quality gate passed" in recovered.stdout
    assert storage.get("_state/lock.json") is None


def test_crash_at_every_step_then_rerun_equals_the_baseline_locally(
    mock, baseline, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"

    def silver_written() -> bool:
        return any(lake.glob("silver/source=stripe/entity=*/dt=*/*.parquet"))

    crash_chain(str(lake), mock.url, silver_written)
    assert content_digest(lake) == baseline


def test_crash_at_every_step_then_rerun_equals_the_baseline_on_s3(
    mock, baseline, s3_lake: dict[str, str], tmp_path: Path
) -> None:
    import boto3

    bucket, _, root = s3_lake["LAKE_ROOT"].removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=s3_lake["AWS_ENDPOINT_URL"])

    def silver_written() -> bool:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}/silver/")
        return any(item["Key"].endswith(".parquet") for item in listed.get("Contents", []))

    # The storage-facing steps (parts written, manifest, watermarks) plus dbt; the local
    # chain covers every failpoint.
    kills = [k for k in EXTRACT_KILLS if not k[0].startswith("extract.page_fetched")]
    crash_chain(s3_lake["LAKE_ROOT"], mock.url, silver_written, kills)
    assert s3_digest(s3, bucket, root, tmp_path) == baseline


def s3_digest(s3, bucket: str, root: str, into: Path) -> dict[str, str]:
    """Download Silver and Gold and digest them like a local lake."""
    paginator = s3.get_paginator("list_objects_v2")
    for layer in ("silver/", "gold/"):
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{root}/{layer}"):
            for item in page.get("Contents", []):
                target = into / item["Key"][len(root) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(target))
    return content_digest(into)
