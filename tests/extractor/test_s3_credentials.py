"""DuckDB on an S3 lake gets the credentials boto3's chain finds (lake/storage/s3.py).

DuckDB's S3 secret reads a key pair, a session token and a region, no profile or role.
Without AWS_ACCESS_KEY_ID the CLI hands dbt and the warehouse's readers what boto3 found,
so temporary credentials from a profile (as SSO or a role leave them) read the lake too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from extractor.lake.storage.s3 import S3Storage, duckdb_credentials
from extractor.settings import Settings
from extractor.transform.dbt import dbt_env
from extractor.transform.warehouse import connect_with_httpfs, s3_secret_sql
from tests.support.servers import REPO_ROOT

PROFILE = """\
[default]
aws_access_key_id = ASIAPROFILEKEY
aws_secret_access_key = profile-secret
aws_session_token = profile-session-token
"""


@pytest.fixture
def profile_only(tmp_path: Path, monkeypatch) -> None:
    """Credentials in a shared credentials file only, as `aws sso login` or a role leaves
    them; nothing in the environment, and no instance metadata to ask."""
    (tmp_path / "credentials").write_text(PROFILE)
    (tmp_path / "config").write_text("[default]\nregion = eu-west-3\n")
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_without_keys_duckdb_gets_the_chains_credentials(profile_only) -> None:
    assert duckdb_credentials({}) == {
        "AWS_ACCESS_KEY_ID": "ASIAPROFILEKEY",
        "AWS_SECRET_ACCESS_KEY": "profile-secret",
        "AWS_SESSION_TOKEN": "profile-session-token",
        "AWS_REGION": "eu-west-3",
    }
    # A region the caller set stays the caller's.
    assert "AWS_REGION" not in duckdb_credentials({"AWS_DEFAULT_REGION": "us-east-2"})


def test_keys_in_the_environment_are_used_as_they_are(profile_only) -> None:
    assert duckdb_credentials({"AWS_ACCESS_KEY_ID": "AKIAENV"}) == {}


def test_dbt_on_an_s3_lake_runs_with_the_chains_credentials(profile_only, tmp_path) -> None:
    storage = S3Storage("s3://bucket/lake", client=object())
    env = dbt_env(Settings(lake_root="s3://bucket/lake"), storage, "r1")
    assert env["AWS_ACCESS_KEY_ID"] == "ASIAPROFILEKEY"
    assert env["AWS_SESSION_TOKEN"] == "profile-session-token"
    # A local lake's dbt never asks for them.
    local = dbt_env(Settings(lake_root=str(tmp_path)), _local(tmp_path), "r1")
    assert "AWS_ACCESS_KEY_ID" not in local


def test_the_warehouse_secret_carries_the_session_token(profile_only) -> None:
    """DuckDB accepts the secret with the chain's key, token and region (it shows the token
    only redacted, so the statement is checked for it)."""
    sql = s3_secret_sql(Settings(lake_root="s3://bucket/lake"), {})
    assert "session_token 'profile-session-token'" in sql
    con = connect_with_httpfs(":memory:")
    con.execute(sql)
    (secret,) = con.sql("select secret_string from duckdb_secrets()").fetchone()
    assert "key_id=ASIAPROFILEKEY" in secret
    assert "region=eu-west-3" in secret
    assert "session_token=redacted" in secret


def _local(path: Path):
    from extractor.lake.storage import LocalStorage

    return LocalStorage(path)


def test_the_s3_target_passes_the_session_token_to_duckdb() -> None:
    """profiles.yml's `s3` secret carries the token (dbt-duckdb passes the secret's keys to
    DuckDB's CREATE SECRET as they are)."""
    profiles = yaml.safe_load((REPO_ROOT / "profiles.yml").read_text())
    (secret,) = profiles["payments_pipeline"]["outputs"]["s3"]["secrets"]
    assert secret["type"] == "s3"
    assert "env_var('AWS_SESSION_TOKEN'" in secret["session_token"]
    assert "env_var('AWS_ACCESS_KEY_ID'" in secret["key_id"]
