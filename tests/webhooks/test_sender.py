"""The sender's delivery plan: reproducible from its seed, and honest about what it dropped."""

from __future__ import annotations

from collections import Counter

import pytest

from mock_api.send_webhooks import main, plan_deliveries
from tests.webhooks.conftest import make_event

EVENTS = [make_event(f"evt_{i:03d}", created=1_000 + i) for i in range(200)]


def test_plain_plan_sends_each_event_once_oldest_first() -> None:
    plan = plan_deliveries(
        list(reversed(EVENTS)), duplicate_rate=0, drop_rate=0, reorder=False, seed=1
    )
    assert [d.event_id for d in plan.deliveries] == [e["id"] for e in EVENTS]
    assert (plan.events, plan.duplicated, plan.dropped) == (200, [], [])


def test_duplicates_drops_and_reordering_are_reproducible_and_accounted_for() -> None:
    def plan():
        return plan_deliveries(EVENTS, duplicate_rate=0.3, drop_rate=0.1, reorder=True, seed=7)

    first, second = plan(), plan()
    assert [d.event_id for d in first.deliveries] == [d.event_id for d in second.deliveries]
    counts = Counter(d.event_id for d in first.deliveries)
    assert set(counts) == {e["id"] for e in EVENTS} - set(first.dropped)
    assert sorted(k for k, n in counts.items() if n == 2) == sorted(first.duplicated)
    assert max(counts.values()) == 2
    assert 30 <= len(first.duplicated) <= 80 and 8 <= len(first.dropped) <= 35
    in_order = sorted(first.deliveries, key=lambda d: d.event_id)
    assert [d.event_id for d in first.deliveries] != [d.event_id for d in in_order]


def test_sender_without_a_secret_says_how_to_fix_it(monkeypatch, capsys) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    assert main(["--to", "http://127.0.0.1:9/webhooks/stripe"]) == 2
    assert "no signing secret: pass --secret" in capsys.readouterr().err


def test_rates_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(SystemExit, match="--drop-rate=1.5 must be between 0 and 1"):
        main(["--to", "http://127.0.0.1:9/x", "--secret", "s", "--drop-rate", "1.5", "--limit", "1",
              "--now", "2026-01-02", "--volume", "5"])  # fmt: skip
