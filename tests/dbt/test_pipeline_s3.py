"""run-pipeline end to end on an S3 lake (moto_server on loopback), httpfs loaded offline.

Gold is downloaded with boto3 and read locally, so the check does not go through the code
under test; it must equal the mock's own figures, as on local disk. (Rewrites over existing
S3 objects are proven by the S3 crash chain in tests/reliability/.) A second run-pipeline,
its re-read versions file deleted first (ADR 0057: so it writes its safety window again,
as a lake that lost the file would), folds those copies into the S3 Silver incrementally: no
table changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import duckdb
import pytest

from mock_api.dataset import Dataset, MockConfig, parse_time
from tests.dbt.expected import expected_after_first_run, major
from tests.support.cli import child_env, run_cli
from tests.support.servers import start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
DAYS = 3


def download(env: dict[str, str], prefix: str, into: Path) -> list[str]:
    bucket, _, root = env["LAKE_ROOT"].removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    keys = []
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{root}/{prefix}")
    for page in pages:
        for item in page.get("Contents", []):
            relative = item["Key"][len(root) + 1 :]
            keys.append(relative)
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
    return sorted(keys)


def delete_prefix(env: dict[str, str], prefix: str) -> int:
    """Delete every object under `prefix` of the lake; returns how many."""
    bucket, _, root = env["LAKE_ROOT"].removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}/{prefix}").get("Contents", [])
    for item in listed:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    return len(listed)


def silver_and_gold(s3_lake: dict[str, str], folder: Path) -> dict[str, list[tuple]]:
    """Every Silver and Gold table's rows, sorted, from a download of the S3 lake."""
    download(s3_lake, "silver/", folder)
    download(s3_lake, "gold/", folder)
    tables = sorted(folder.glob("silver/source=stripe/entity=*")) + sorted(
        folder.glob("gold/model=*")
    )
    return {
        table.name: duckdb.sql(
            f"select * from read_parquet('{table}/*/*.parquet', hive_partitioning = false) "
            "order by all"
        ).fetchall()
        for table in tables
    }


def test_pipeline_on_s3_matches_the_mock(s3_lake: dict[str, str], tmp_path: Path) -> None:
    mock = start_mock_api({"MOCK_NOW": str(NOW)}, tmp_path / "mock")
    env = child_env(api=mock.url, **s3_lake)
    try:
        result = run_cli("run-pipeline", "--days", str(DAYS), "--run-id", "s3run", env=env)
        assert result.returncode == 0, result.stderr[-4000:]
        assert "quality gate passed" in result.stdout
        silver_first = silver_and_gold(s3_lake, tmp_path / "silver_first")
        # The clock has not moved: without its versions file the second run writes the safety
        # window it re-reads into its own Bronze run, which the build folds into the S3
        # Silver incrementally (ADR 0040).
        assert delete_prefix(s3_lake, "_state/rereads/") > 0
        again = run_cli("run-pipeline", "--days", str(DAYS), "--run-id", "s3again", env=env)
    finally:
        mock.stop()
    assert again.returncode == 0, again.stderr[-4000:]
    assert "quality gate passed" in again.stdout
    download(s3_lake, "_state/", tmp_path / "state")
    manifest = json.loads((tmp_path / "state/_state/manifests/run_s3again.json").read_text())
    assert manifest["transform"]["fold"]["mode"] == "incremental"
    assert manifest["transform"]["fold"]["bronze_run_ids"] == ["s3again"]
    assert (tmp_path / "state/_state/transforms/folded_bronze.json").exists()
    again_tables = silver_and_gold(s3_lake, tmp_path / "silver_again")
    # Every run reads /v1/balance once: the rerun adds its snapshot, and nothing else moves.
    assert len(again_tables.pop("entity=balance")) == len(silver_first.pop("entity=balance")) + 1
    assert again_tables == silver_first

    first = tmp_path / "first"
    keys = download(s3_lake, "gold/", first)
    assert keys and all(
        k.startswith("gold/model=") and "/dt=" in k and k.endswith("/data_0.parquet") for k in keys
    )
    assert {k.split("/")[1] for k in keys} == {
        "model=agg_daily_balance",
        "model=agg_daily_revenue",
        "model=agg_monthly_mrr",
        "model=dim_customers",
        "model=dim_prices",
        "model=dim_products",
        "model=dim_subscription_history",
        "model=dim_subscriptions",
        "model=fct_balance_transactions",
        "model=fct_disputes",
        "model=fct_invoice_line_items",
        "model=fct_invoices",
        "model=fct_mrr_movements",
        "model=fct_payments",
        "model=fct_payouts",
        "model=fct_refunds",
        "model=rpt_payout_reconciliation",
        "model=rpt_webhook_reconciliation",
    }

    expected = expected_after_first_run(Dataset(MockConfig()), NOW, DAYS)
    got = duckdb.sql(
        f"""
        select currency, sum(gross_minor)::bigint, sum(cohort_refunded_minor)::bigint,
               sum(gross) - sum(cohort_refunded)
        from read_parquet('{first}/gold/model=agg_daily_revenue/*/*.parquet',
                          hive_partitioning = false)
        group by 1 order by 1
        """
    ).fetchall()
    want = [
        (c, t["gross"], t["refunded"], major(t["gross"] - t["refunded"], c))
        for c, t in sorted(expected.revenue.items())
    ]
    assert got == want

    queried = run_cli("query", "select count(*) as charges from fct_payments", env=env)
    assert queried.returncode == 0, queried.stderr
    assert str(len(expected.ids["charges"])) in queried.stdout
