"""The API version contract is one contract: extractor/versions.py and dbt's var agree."""

from __future__ import annotations

import pytest
import yaml

from extractor import versions
from extractor.settings import REPO_ROOT, ConfigError, Settings

DBT = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]["stripe_api_versions"]


def test_python_and_dbt_name_the_same_versions_and_fields() -> None:
    assert {key: {e: tuple(f) for e, f in ents.items()} for key, ents in DBT.items()} == (
        versions.SUPPORTED
    )


def test_the_pinned_version_and_the_current_shape_are_supported() -> None:
    assert versions.is_supported(Settings.from_env({}).stripe_version)
    # The basil release and its monthly versions share one shape.
    for version in ("2025-03-31.basil", "2025-05-28.basil", "2026-03-25.dahlia"):
        assert versions.is_supported(version), version
    for version in ("2024-04-10", "2024-09-30.acacia", "2026-09-30.endive", "", "basil"):
        assert versions.is_supported(version) == (version == "basil"), version
    # Invoices after basil carry no `paid`; before it they must.
    assert "paid" in versions.SUPPORTED["2024-06-20"]["invoices"]
    assert "paid" not in versions.SUPPORTED["basil"]["invoices"]


@pytest.mark.parametrize("version", ["2024-04-10", "2026-09-30.endive"])
def test_an_unsupported_stripe_version_setting_is_a_configuration_error(version: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"STRIPE_VERSION": version})
    assert str(caught.value).startswith(
        f"STRIPE_VERSION={version!r} is not an API version this pipeline reads (supported: "
        "2024-06-20, basil, clover, dahlia"
    )
    assert Settings.from_env({"STRIPE_VERSION": "2025-03-31.basil"}).stripe_version == (
        "2025-03-31.basil"
    )
