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


def test_help_lists_every_setting_with_the_default_from_env_uses(capsys) -> None:
    """`payments-pipeline --help` shows each environment setting and its real default."""
    import re
    from pathlib import Path

    from extractor import settings as settings_module
    from extractor.cli import main
    from extractor.settings import ENVIRONMENT_HELP

    source = Path(settings_module.__file__).read_text()
    read = set(re.findall(r'env(?:\.get\(|, )"([A-Z_]+)"', source))
    shown = {name for name, _, _ in ENVIRONMENT_HELP}
    assert read <= shown, f"settings missing from --help: {read - shown}"

    defaults = Settings.from_env({})
    numeric = {
        "SAFETY_WINDOW_SECONDS": defaults.safety_window_seconds,
        "STRIPE_RATE_LIMIT_RPS": defaults.rate_limit_rps,
        "EXTRACT_MAX_WORKERS": defaults.max_workers,
        "STRIPE_TIMEOUT_SECONDS": defaults.request_timeout_seconds,
        "STRIPE_MAX_RETRIES": defaults.max_retries,
        "STRIPE_PAGE_LIMIT": defaults.page_limit,
        "BRONZE_PART_MAX_RECORDS": defaults.part_max_records,
        "PIPELINE_LARGE_BRONZE_BYTES": defaults.large_bronze_bytes,
    }
    help_defaults = {name: default for name, default, _ in ENVIRONMENT_HELP}
    for name, value in numeric.items():
        assert float(help_defaults[name]) == value, name
    assert help_defaults["STRIPE_API_BASE"] == defaults.api_base
    assert help_defaults["LAKE_ROOT"] == defaults.lake_root
    assert help_defaults["STRIPE_VERSION"] == defaults.stripe_version
    assert help_defaults["BRONZE_GZIP"] == "0" and not defaults.compress_parts

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name, default, _ in ENVIRONMENT_HELP:
        assert re.search(rf"^  {name} +.*\(default: {re.escape(default)}\)$", out, re.M), name
    assert "first time: `make demo`" in out
