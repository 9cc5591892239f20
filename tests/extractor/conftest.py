"""Fixtures for extractor tests: the fake Stripe server and a lake of either kind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from extractor.api.client import StripeClient
from extractor.extract.plan import Plan
from extractor.extract.run import Extraction
from extractor.lake.storage import Storage, storage_for
from extractor.settings import Secret, Settings
from tests.extractor.fake_stripe import FakeStripe

NOW = 1767916800  # 2026-01-09T00:00:00Z
HOUR = 3600
DAY = 86400
API_KEY = "sk_test_extractor_secret_4242"
ENTITY_PATHS = {
    "customers": "/v1/customers",
    "charges": "/v1/charges",
    "payment_intents": "/v1/payment_intents",
    "invoices": "/v1/invoices",
}


def seed(fake: FakeStripe, start: int, end: int, step: int = HOUR, tag: str = "") -> None:
    """One object per `step` per entity, created in [start, end)."""
    for name, path in ENTITY_PATHS.items():
        for i, created in enumerate(range(start, end, step)):
            fake.add(path, {"id": f"{name[:3]}_{tag}{created}_{i}", "created": created})


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe(NOW)
    seed(server, NOW - 5 * DAY, NOW)
    yield server
    server.close()


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "lake")
    return request.getfixturevalue("s3_lake")["LAKE_ROOT"]


@pytest.fixture
def settings(fake: FakeStripe, lake: str) -> Settings:
    import os

    return Settings(
        api_base=fake.url,
        api_key=Secret(API_KEY),
        lake_root=lake,
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") if lake.startswith("s3://") else None,
        rate_limit_rps=10_000,
        page_limit=10,
        max_workers=4,
        request_timeout_seconds=5,
        max_retries=4,
    )


def extract(settings: Settings, plan: Plan, run_id: str, **overrides: Any) -> dict[str, Any]:
    """Run an extraction in-process with fast retries."""
    settings = replace(settings, **overrides) if overrides else settings
    client = StripeClient(settings, backoff_base=0.01, backoff_cap=0.05)
    return Extraction(settings, storage_for(settings), plan, run_id, client=client).execute()


def run_all(days: int = 3, **kw: Any) -> Plan:
    return Plan("run-all", tuple(ENTITY_PATHS), True, days, **kw)


def landed(storage: Storage, entity: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """Every Bronze line of `entity` (optionally of one run), parsed."""
    rows = []
    for key in storage.list(f"bronze/source=stripe/entity={entity}/"):
        if run_id and f"/run_id={run_id}/" not in key:
            continue
        rows.extend(json.loads(line) for line in storage.get(key).splitlines())
    return rows


def lake_of(settings: Settings) -> Storage:
    return storage_for(settings)
