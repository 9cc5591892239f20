"""Planning windows from watermarks and the API's clock (extractor.extract.plan), in-process."""

from __future__ import annotations

from datetime import date

import pytest

from extractor.extract.plan import Plan, WatermarkAhead, plan_windows
from extractor.extract.windows import DAY, Window
from extractor.lake.watermarks import Watermark, iso
from extractor.streams import ENTITY_NAMES

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def mark(entity: str, at: int) -> Watermark:
    return Watermark(entity, at, iso(at), at - DAY, "earlier", iso(at))


def test_incremental_windows_run_from_watermark_less_overlap_to_the_clock() -> None:
    marks = {name: mark(name, NOW - 3600) for name in ENTITY_NAMES}
    windows = plan_windows(Plan("run-all", ("charges",), True), NOW, marks, 600)
    assert windows["charges"].window == Window(NOW - 3600 - 600, NOW)
    assert windows["events"].window == Window(NOW - 3600 - 600, NOW)
    assert windows["charges"].commit_watermark and windows["events"].commit_watermark
    assert set(windows) == {"charges", "events"}  # others only receive routed objects


def test_a_watermark_equal_to_the_clock_is_an_empty_window_not_an_error() -> None:
    marks = {"charges": mark("charges", NOW), "events": mark("events", NOW)}
    windows = plan_windows(Plan("run-all", ("charges",), True), NOW, marks, 0)
    assert windows["charges"].window == Window(NOW, NOW)


@pytest.mark.parametrize("entity", ["charges", "events"])
def test_a_watermark_later_than_the_api_clock_stops_the_plan_naming_both(entity: str) -> None:
    marks = {"charges": mark("charges", NOW - 60), "events": mark("events", NOW - 60)}
    marks[entity] = mark(entity, NOW + 7200)
    with pytest.raises(WatermarkAhead) as caught:
        plan_windows(Plan("run-all", ("charges",), True), NOW, marks, 600)
    message = str(caught.value)
    assert message.startswith(f"{entity}: the watermark 2026-01-01T02:00:00Z is 7200 s later")
    assert "the API's clock 2026-01-01T00:00:00Z" in message
    assert "Nothing was read or committed" in message


def test_a_backfill_ignores_a_watermark_ahead_and_never_advances_it() -> None:
    marks = {"charges": mark("charges", NOW + 7200)}
    plan = Plan("backfill", ("charges",), False, backfill=(date(2025, 12, 30), date(2025, 12, 30)))
    windows = plan_windows(plan, NOW, marks, 600)
    assert windows["charges"].window == Window(NOW - 2 * DAY, NOW - DAY)
    assert windows["charges"].commit_watermark is False


def test_a_catalogs_first_run_lists_all_of_it_and_later_runs_read_windows() -> None:
    """A price created long before `--days` is still what new subscriptions name, and an old
    subscription still counts in MRR: a first run lists the whole catalog and every
    subscription; the other streams' first runs look back `--days`; once a stream has a
    watermark it reads windows like the rest."""
    entities = ("products", "prices", "coupons", "subscriptions", "charges")
    first = plan_windows(Plan("run-all", entities, True, days=3), NOW, {}, 600)
    for catalog in ("products", "prices", "coupons", "subscriptions"):
        assert first[catalog].window == Window(0, NOW), catalog
        assert first[catalog].commit_watermark
    assert first["charges"].window == Window(NOW - 3 * DAY, NOW)
    marks = {name: mark(name, NOW - 3600) for name in ENTITY_NAMES}
    later = plan_windows(Plan("run-all", entities, True, days=3), NOW, marks, 600)
    assert later["prices"].window == Window(NOW - 3600 - 600, NOW)
