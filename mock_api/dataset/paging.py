"""List paging for the object resources: `created` filters, cursors, newest-first pages.

Object i of a resource is created at a time monotone in i, so a `created` window is an index
range and a cursor is an index bound; a page walks that range from the top (or, with
`ending_before`, from the bottom) skipping what is not listable yet or any more.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mock_api.dataset.errors import MockError
from mock_api.dataset.registry import OBJECT_NAME, SPEC_BY_NAME
from mock_api.dataset.schedule import SEQ_STRIDE

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


@dataclass(frozen=True)
class CreatedFilter:
    """`created` bounds as inclusive [gte, lte] unix seconds (None = open)."""

    gte: int | None = None
    lte: int | None = None


# No bounds: the default of list calls (frozen, so one shared instance is safe).
ALL_TIME = CreatedFilter()


@dataclass
class Page:
    data: list[dict]
    has_more: bool


def index_range(ds: Dataset, resource: str, now: int, created: CreatedFilter) -> tuple[int, int]:
    """[low, high] indexes of `resource` created within the filter and by `now`."""
    line = ds.timelines[resource]
    upper = now if created.lte is None else min(now, created.lte)
    high = line.last_at_or_before(upper)
    low = 0 if created.gte is None else line.first_at_or_after(created.gte)
    return low, high


def cursor_index(
    ds: Dataset, resource: str, object_id: str | None, param: str, now: int
) -> int | None:
    """The index a `starting_after`/`ending_before` id names; a 400 if it names nothing."""
    if object_id is None:
        return None
    try:
        return ds.resolve(object_id, now, resource)[1]
    except MockError:
        noun = "event" if resource == "events" else OBJECT_NAME[resource]
        raise MockError(
            400,
            f"No such {noun}: '{object_id}'",
            code="resource_missing",
            param=param,
        ) from None


def list_objects(
    ds: Dataset,
    resource: str,
    now: int,
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    created: CreatedFilter,
    customer: str | None,
    version: str | None = None,
) -> Page:
    """One page of a resource's list (not events: see `mock_api.dataset.events`)."""
    after = cursor_index(ds, resource, starting_after, "starting_after", now)
    before = cursor_index(ds, resource, ending_before, "ending_before", now)
    low, high = index_range(ds, resource, now, created)
    customer_index = None
    if customer is not None:
        decoded = ds.ids.decode(customer)
        if decoded is None or decoded[0] != "customers":
            return Page([], False)
        customer_index = decoded[1]
        c_low, c_high = ds.customer_candidates(resource, customer_index)
        low, high = max(low, c_low), min(high, c_high)
    if after is not None:
        high = min(high, after - 1)
    if before is not None:
        low = max(low, before + 1)
    indexes = range(low, high + 1) if before is not None else range(high, low - 1, -1)
    picked: list[int] = []
    for index in indexes:
        if not ds.listable(resource, index, now):
            continue
        if customer_index is not None and ds.customer_of(resource, index) != customer_index:
            continue
        picked.append(index)
        if len(picked) > limit:
            break
    has_more = len(picked) > limit
    picked = picked[:limit]
    if before is not None:
        picked.reverse()
    return Page([ds.state(resource, index, now, version) for index in picked], has_more)


def all_objects(ds: Dataset, resource: str, now: int, version: str | None = None) -> list[dict]:
    """Every object a list would return at `now`, newest first (materialises)."""
    low, high = index_range(ds, resource, now, ALL_TIME)
    return [
        ds.state(resource, index, now, version)
        for index in range(high, low - 1, -1)
        if ds.listable(resource, index, now)
    ]


def list_born(
    ds: Dataset,
    resource: str,
    now: int,
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    created: CreatedFilter,
) -> Page:
    """A page of a resource born of a change (refunds, disputes, payouts): its birth kind's
    streams merged newest first, as `/v1/events` pages (key: created, then id)."""
    from mock_api.dataset.events import _stream  # events imports this module

    born = SPEC_BY_NAME[resource].born
    assert born is not None
    low_t = 0 if created.gte is None else created.gte
    high_t = now if created.lte is None else min(now, created.lte)
    bound, ascending = None, False
    for param, cursor in (("starting_after", starting_after), ("ending_before", ending_before)):
        index = cursor_index(ds, resource, cursor, param, now)
        if index is None:
            continue
        at = ds.change_time(born, index)
        assert at is not None
        bound = (at, index * SEQ_STRIDE + int(born))
        ascending = param == "ending_before"
        if ascending:
            low_t = max(low_t, at)
        else:
            high_t = min(high_t, at)
    streams = [
        _stream(ds, born, variant, low_t, high_t, ascending, bound)
        for variant in range(len(born.offsets))
    ]
    picked = []
    if low_t <= high_t:
        for ref in heapq.merge(*streams, reverse=not ascending):
            picked.append(ref.index)
            if len(picked) > limit:
                break
    has_more = len(picked) > limit
    picked = picked[:limit]
    if ascending:
        picked.reverse()
    return Page([ds.state(resource, index, now) for index in picked], has_more)


def all_born(ds: Dataset, resource: str, now: int) -> list[dict]:
    """Every object of a born resource at `now`, newest first (materialises)."""
    out: list[dict] = []
    cursor = None
    while True:
        page = list_born(
            ds, resource, now, limit=100, starting_after=cursor, ending_before=None,
            created=ALL_TIME,
        )  # fmt: skip
        out.extend(page.data)
        if not page.has_more:
            return out
        cursor = page.data[-1]["id"]
