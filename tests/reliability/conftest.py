"""Fixtures shared by the reliability suites: one fault-free mock and one baseline lake."""

from __future__ import annotations

import pytest

from tests.reliability.pipeline_support import NOW, build_baseline
from tests.support.servers import start_mock_api


@pytest.fixture(scope="session")
def clean_mock(tmp_path_factory):
    """The mock with a frozen clock and no faults."""
    server = start_mock_api({"MOCK_NOW": str(NOW)}, tmp_path_factory.mktemp("clean_mock"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def baseline(clean_mock, tmp_path_factory) -> dict[str, str]:
    """Content digest of Silver and Gold after one fault-free run-pipeline."""
    return build_baseline(tmp_path_factory.mktemp("baseline") / "lake", clean_mock.url)
