"""Fixtures shared by the reliability suites: one fault-free mock and one baseline lake."""

from __future__ import annotations

from pathlib import Path

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
def baseline_lake(clean_mock, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The lake of one fault-free run-pipeline, and the content digest of its Silver and Gold."""
    lake = tmp_path_factory.mktemp("baseline") / "lake"
    return lake, build_baseline(lake, clean_mock.url)


@pytest.fixture(scope="session")
def baseline(baseline_lake) -> dict[str, str]:
    """Content digest of Silver and Gold after one fault-free run-pipeline."""
    return baseline_lake[1]
