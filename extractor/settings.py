"""Settings are read once from the environment into one typed object and passed down.

The API key and webhook secret are wrapped in `Secret` so that printing, logging or
serialising a `Settings` never reveals them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from extractor import versions

# The checkout: dbt_project.yml and profiles.yml live here, and dbt runs from here.
REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_API_BASE = "http://127.0.0.1:8000"
# The mock accepts any sk_test_ key; this default lets a newcomer run with no setup.
DEFAULT_API_KEY = "sk_test_mock_payments_pipeline"
DEFAULT_LAKE_ROOT = "./_local_data"
DEFAULT_STRIPE_VERSION = "2024-06-20"

# From this many bytes of batch Bronze (JSON lines) a build runs with a large lake's
# settings, one dbt node at a time (extractor/transform/build_resources.py, ADR 0058).
LARGE_BRONZE_BYTES = 4 * 1024**3

# Every environment setting: (name, default as shown, what it does), printed by `--help`;
# a test checks each shown default against what from_env really uses. Some are read only by
# dbt, DuckDB or boto3, not by from_env (docs/architecture.md#environment).
ENVIRONMENT_HELP: tuple[tuple[str, str, str], ...] = (
    ("STRIPE_API_BASE", DEFAULT_API_BASE, "the mock, or https://api.stripe.com"),
    ("STRIPE_API_KEY", "a mock test key", "sk_... or a read-only rk_... key"),
    ("STRIPE_VERSION", DEFAULT_STRIPE_VERSION, "Stripe-Version sent on every request"),
    ("LAKE_ROOT", DEFAULT_LAKE_ROOT, "local folder or s3://bucket/prefix"),
    ("AWS_ENDPOINT_URL", "AWS", "an S3-compatible endpoint (MinIO, moto)"),
    ("AWS_ACCESS_KEY_ID", "none", "S3 key; unset: dbt gets what boto3 finds (profile, SSO, role)"),
    ("AWS_SECRET_ACCESS_KEY", "none", "S3 secret key"),
    ("AWS_SESSION_TOKEN", "none", "S3 session token (temporary credentials)"),
    ("AWS_REGION", "AWS_DEFAULT_REGION, else us-east-1", "the bucket's region, for DuckDB"),
    ("S3_URL_STYLE", "path", "DuckDB's S3 URL style (path or vhost)"),
    ("SAFETY_WINDOW_SECONDS", "600", "overlap re-read before each watermark (late arrivals)"),
    ("STRIPE_RATE_LIMIT_RPS", "20", "requests/s ceiling (Stripe test mode allows 25)"),
    ("EXTRACT_MAX_WORKERS", "4", "parallel time slices per entity"),
    ("STRIPE_TIMEOUT_SECONDS", "30", "per-request timeout"),
    ("STRIPE_MAX_RETRIES", "8", "retries of 429/5xx/connection errors"),
    ("STRIPE_PAGE_LIMIT", "100", "objects per page"),
    ("BRONZE_GZIP", "0", "1 writes part-*.jsonl.gz"),
    ("BRONZE_PART_MAX_RECORDS", "50000", "records per Bronze part file"),
    (
        "PIPELINE_LARGE_BRONZE_BYTES",
        str(LARGE_BRONZE_BYTES),
        "batch Bronze (JSON bytes) from which a build uses a large lake's settings (ADR 0058)",
    ),
    ("DBT_THREADS", "2; 1 on a large lake", "dbt nodes at once, sharing one DuckDB"),
    ("DUCKDB_MEMORY_LIMIT", "600MB", "DuckDB's memory limit under dbt"),
    ("DUCKDB_THREADS", "2", "DuckDB's threads under dbt"),
    ("DUCKDB_PRESERVE_INSERTION_ORDER", "true; false on a large lake", "DuckDB keeps row order"),
    (
        "DUCKDB_JE_MALLOC_CONF",
        "none; dirty_decay_ms:0,muzzy_decay_ms:0 on a large lake",
        "DuckDB's jemalloc, read at load",
    ),
    ("PIPELINE_PARSE_CACHE", "target/parse", "where the dbt parse every lake shares lives"),
    (
        "PIPELINE_UNIT_TEST_RECORD",
        "target/unit-tests-passed",
        "absolute folder: project versions whose dbt unit tests passed here (ADR 0059)",
    ),
    ("LEDGER_WHOLE_HISTORY", "false", "true: the ledger must sum to /v1/balance"),
    ("STRIPE_WEBHOOK_SECRET", "none", "whsec_... for run-webhooks (required unless insecure)"),
    ("RUN_ID", "generated", "fixes the run id"),
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and what to do."""


class Secret:
    """A string that never shows itself in repr/str/logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def absolute_path(env: Mapping[str, str], name: str) -> Path | None:
    """The setting `name` as a path, None when unset; a relative path would depend on the
    directory the command runs in, so it is refused."""
    value = env.get(name)
    if not value:
        return None
    if not Path(value).is_absolute():
        raise ConfigError(f"{name}={value!r} must be an absolute path")
    return Path(value)


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be >= {minimum}")
    return value


def _float(env: dict[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be >= {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    api_base: str = DEFAULT_API_BASE
    api_key: Secret = field(default_factory=lambda: Secret(DEFAULT_API_KEY))
    stripe_version: str = DEFAULT_STRIPE_VERSION
    lake_root: str = DEFAULT_LAKE_ROOT
    aws_endpoint_url: str | None = None
    safety_window_seconds: int = 600
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    run_id: str | None = None
    # Client tuning. 20 req/s sits under Stripe test mode's 25 req/s with headroom.
    rate_limit_rps: float = 20.0
    max_workers: int = 4
    request_timeout_seconds: float = 30.0
    max_retries: int = 8
    page_limit: int = 100
    part_max_records: int = 50_000
    part_max_bytes: int = 64 * 1024 * 1024
    compress_parts: bool = False
    # From this much batch Bronze a build uses a large lake's settings (ADR 0058).
    large_bronze_bytes: int = LARGE_BRONZE_BYTES

    def secrets(self) -> list[str]:
        """Every secret value the logs must never show: the API key and the webhook secret."""
        values = [self.api_key.reveal(), self.webhook_secret.reveal()]
        return [value for value in values if value]

    @property
    def is_s3(self) -> bool:
        return self.lake_root.startswith("s3://")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        lake_root = env.get("LAKE_ROOT") or DEFAULT_LAKE_ROOT
        if lake_root.startswith("s3://"):
            bucket = lake_root[len("s3://") :].split("/", 1)[0]
            if not bucket:
                raise ConfigError(f"LAKE_ROOT={lake_root!r} has no bucket: use s3://bucket/prefix")
            lake_root = lake_root.rstrip("/")
        elif "://" in lake_root:
            raise ConfigError(
                f"LAKE_ROOT={lake_root!r}: only a local path or s3://bucket/prefix is supported"
            )
        api_base = (env.get("STRIPE_API_BASE") or DEFAULT_API_BASE).rstrip("/")
        if not api_base.startswith(("http://", "https://")):
            raise ConfigError(f"STRIPE_API_BASE={api_base!r} must start with http:// or https://")
        api_key = env.get("STRIPE_API_KEY") or DEFAULT_API_KEY
        if not api_key.startswith(("sk_", "rk_")):
            raise ConfigError("STRIPE_API_KEY must be a secret (sk_...) or restricted (rk_...) key")
        stripe_version = env.get("STRIPE_VERSION") or DEFAULT_STRIPE_VERSION
        if not versions.is_supported(stripe_version):
            # List pages come back in this version: one Silver cannot read is refused up front.
            raise ConfigError(
                f"STRIPE_VERSION={stripe_version!r} is not an API version this pipeline reads "
                f"(supported: {versions.supported_list()}; docs/architecture.md#api-versions)"
            )
        absolute_path(env, "PIPELINE_UNIT_TEST_RECORD")  # refused up front, not mid-build
        return cls(
            api_base=api_base,
            api_key=Secret(api_key),
            stripe_version=stripe_version,
            lake_root=lake_root,
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            safety_window_seconds=_int(env, "SAFETY_WINDOW_SECONDS", 600),
            webhook_secret=Secret(env.get("STRIPE_WEBHOOK_SECRET") or ""),
            run_id=env.get("RUN_ID") or None,
            rate_limit_rps=_float(env, "STRIPE_RATE_LIMIT_RPS", 20.0, minimum=0.1),
            max_workers=_int(env, "EXTRACT_MAX_WORKERS", 4, minimum=1),
            request_timeout_seconds=_float(env, "STRIPE_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            max_retries=_int(env, "STRIPE_MAX_RETRIES", 8),
            page_limit=_int(env, "STRIPE_PAGE_LIMIT", 100, minimum=1),
            compress_parts=env.get("BRONZE_GZIP", "0").lower() in ("1", "true", "yes"),
            part_max_records=_int(env, "BRONZE_PART_MAX_RECORDS", 50_000, minimum=1),
            large_bronze_bytes=_int(env, "PIPELINE_LARGE_BRONZE_BYTES", LARGE_BRONZE_BYTES),
        )
