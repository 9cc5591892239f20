"""The connection budget fits the process's open-file limit (webhook_app/connections.py)."""

from __future__ import annotations

import resource

import pytest

from webhook_app import connections


@pytest.fixture
def rlimit(monkeypatch) -> dict:
    """A fake RLIMIT_NOFILE: `soft`, `hard`, and what setrlimit was asked for."""
    state: dict = {"soft": 1024, "hard": 1024, "set": None}

    def getrlimit(which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return state["soft"], state["hard"]

    def setrlimit(which: int, limits: tuple[int, int]) -> None:
        state["set"] = limits
        state["soft"] = limits[0]

    monkeypatch.setattr(connections.resource, "getrlimit", getrlimit)
    monkeypatch.setattr(connections.resource, "setrlimit", setrlimit)
    return state


def test_the_soft_limit_is_raised_to_fit(rlimit: dict) -> None:
    rlimit.update(soft=1024, hard=65536)
    assert connections.fit_connection_limit(1000) == 1000
    assert rlimit["set"] == (1000 * 2 + 64, 65536)


def test_a_hard_limit_too_low_lowers_the_connection_limit(rlimit: dict) -> None:
    rlimit.update(soft=256, hard=1024)
    assert connections.fit_connection_limit(1000) == (1024 - 64) // 2
    assert rlimit["set"] == (1024, 1024)


def test_enough_already_changes_nothing(rlimit: dict) -> None:
    rlimit.update(soft=20000, hard=20000)
    assert connections.fit_connection_limit(1000) == 1000
    assert rlimit["set"] is None
