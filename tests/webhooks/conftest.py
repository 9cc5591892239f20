"""Fixtures for the webhook receiver: a frozen clock, a temporary lake, app/client per test,
signed Stripe-shaped bodies, and the real `run-webhooks` server on a free loopback port."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from extractor.lake.layout import WEBHOOK_ENTITY, bronze_entity
from extractor.lake.storage import LocalStorage
from tests.support.cli import cli_command
from tests.support.servers import REPO_ROOT, ServerProcess, free_port, start_server
from webhook_app.app import create_app

SECRET = "whsec_test_primary_0123456789"
OTHER_SECRET = "whsec_test_rotated_9876543210"
NOW = 1_795_000_000  # 2026-11-18T11:06:40Z, a frozen clock for every unit test


def make_event(event_id: str = "evt_1Test", created: int = NOW - 5, **overrides: Any) -> dict:
    event = {
        "id": event_id,
        "object": "event",
        "type": "charge.succeeded",
        "created": created,
        "livemode": False,
        "data": {
            "object": {
                "id": "ch_1Test",
                "object": "charge",
                "amount": 2000,
                "currency": "usd",
                "status": "succeeded",
                "created": created - 1,
            }
        },
    }
    event.update(overrides)
    return event


def body_of(event: dict) -> bytes:
    """Pretty-printed like Stripe's own deliveries."""
    return json.dumps(event, indent=2).encode()


def stored_keys(lake: Path) -> list[str]:
    return list(LocalStorage(lake).list(bronze_entity(WEBHOOK_ENTITY)))


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def app_config(lake: Path) -> dict[str, Any]:
    return {
        "STORAGE": LocalStorage(lake),
        "WEBHOOK_SECRETS": (SECRET,),
        "CLOCK": lambda: float(NOW),
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Flask:
    return create_app(app_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def run_webhooks_cmd(*extra: str) -> list[str]:
    return cli_command("run-webhooks", *extra)


def server_env(lake_root: str, secret: str | None = SECRET, **extra: str) -> dict[str, str]:
    # start_server layers this over os.environ, so "no secret" must be an explicit "".
    env = {"LAKE_ROOT": lake_root, "PYTHONPATH": str(REPO_ROOT)}
    env["STRIPE_WEBHOOK_SECRET"] = secret or ""
    env.update(extra)
    return env


@pytest.fixture
def start_webhook_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start the real `run-webhooks` command (waitress) on a free port; stopped after the test."""
    started: list[ServerProcess] = []

    def start(lake_root: str, *extra_args: str, **env: str) -> ServerProcess:
        port = free_port()
        secret = env.pop("secret", SECRET)
        server = start_server(
            "webhooks",
            run_webhooks_cmd("--port", str(port), *extra_args),
            port,
            env=server_env(lake_root, secret, **env),
            log_dir=tmp_path,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
