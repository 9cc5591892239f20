"""Settings: one typed object from the environment; bad values fail with the variable's name."""

from __future__ import annotations

import pytest

from extractor.settings import DEFAULT_API_BASE, ConfigError, Secret, Settings


def test_defaults_work_with_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.api_base == DEFAULT_API_BASE
    assert settings.lake_root == "./_local_data"
    assert settings.safety_window_seconds == 600
    assert settings.api_key.reveal().startswith("sk_test_")
    assert not settings.is_s3


def test_s3_lake_root_is_recognised_and_trailing_slash_dropped() -> None:
    settings = Settings.from_env({"LAKE_ROOT": "s3://bucket/prefix/"})
    assert settings.is_s3
    assert settings.lake_root == "s3://bucket/prefix"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAKE_ROOT": "s3://"}, "has no bucket"),
        ({"LAKE_ROOT": "gs://bucket"}, "only a local path or s3://"),
        ({"STRIPE_API_BASE": "127.0.0.1:8000"}, "must start with http"),
        ({"STRIPE_API_KEY": "pk_test_123"}, "STRIPE_API_KEY must be a secret"),
        ({"SAFETY_WINDOW_SECONDS": "ten"}, "SAFETY_WINDOW_SECONDS='ten' is not an integer"),
        ({"SAFETY_WINDOW_SECONDS": "-1"}, "SAFETY_WINDOW_SECONDS=-1 must be >= 0"),
        ({"STRIPE_RATE_LIMIT_RPS": "0"}, "STRIPE_RATE_LIMIT_RPS=0.0 must be >= 0.1"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_secrets_never_render() -> None:
    key = "sk_test_supersecretvalue123"
    settings = Settings.from_env({"STRIPE_API_KEY": key, "STRIPE_WEBHOOK_SECRET": "whsec_abc"})
    rendered = repr(settings) + str(settings)
    assert key not in rendered
    assert "whsec_abc" not in rendered
    assert settings.api_key.reveal() == key
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
