"""List paging: `created` filters, cursors, newest-first pages, for every list.

`cursor_page` is the one cursor window every list uses (objects, born objects, events,
balance transactions): it checks the cursors, turns one into a bound, walks from the top
(or, with `ending_before`, up from the bound), takes `limit` and says `has_more`. A caller
says only how to find a cursor's sort key and how to enumerate its candidates in order.

Object i of a resource is created at a time monotone in i, so for the object resources a
`created` window is an index range and a cursor an index bound; the walk skips what is not
listable yet or any more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from mock_api.dataset.errors import MockError
from mock_api.dataset.registry import OBJECT_NAME, SPEC_BY_NAME
from mock_api.dataset.schedule import seq_of

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

K = TypeVar("K")  # a cursor's sort key
T = TypeVar("T")  # what a walk yields, before rendering


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


def cursor_index(ds: Dataset, resource: str, object_id: str, param: str, now: int) -> int:
    """The index a `starting_after`/`ending_before` id names; a 400 if it names nothing."""
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


def cursor_page(
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    locate: Callable[[str, str], K],
    walk: Callable[[K | None, bool], Iterable[T]],
    render: Callable[[T], dict],
) -> Page:
    """One page of any list, as Stripe pages: newest first, `limit` items after (or, with
    `ending_before`, before) the cursor, `has_more` if the walk goes on.

    The caller supplies what differs per list: `locate(id, param)` turns a cursor into its
    sort key (or raises the 400), `walk(bound, ascending)` yields the listed items strictly
    beyond `bound` (None: from the top), newest first or, when ascending, oldest first.
    """
    if starting_after and ending_before:
        raise MockError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameter_invalid",
            param="starting_after",
        )
    bound: K | None = None
    ascending = False
    if starting_after:
        bound = locate(starting_after, "starting_after")
    elif ending_before:
        bound, ascending = locate(ending_before, "ending_before"), True
    picked = list(islice(walk(bound, ascending), limit + 1))
    has_more = len(picked) > limit
    picked = picked[:limit]
    if ascending:  # walked up from the cursor; a page still reads newest first
        picked.reverse()
    return Page([render(item) for item in picked], has_more)


def beyond(key: tuple, bound: tuple | None, ascending: bool) -> bool:
    """Whether `key` lies strictly past the cursor key `bound` in the walk's direction."""
    return bound is None or (key > bound if ascending else key < bound)


def clip_times(
    low_t: int, high_t: int, bound: tuple[int, ...] | None, ascending: bool
) -> tuple[int, int]:
    """[low_t, high_t] cut at a (created, ...) cursor key: a walk reads only its side."""
    if bound is None:
        return low_t, high_t
    if ascending:
        return max(low_t, bound[0]), high_t
    return low_t, min(high_t, bound[0])


def every_item(page_after: Callable[[str | None], Page]) -> list[dict]:
    """Every item of a list, newest first, paging with `starting_after` (materialises)."""
    out: list[dict] = []
    cursor = None
    while True:
        page = page_after(cursor)
        out.extend(page.data)
        if not page.has_more:
            return out
        cursor = page.data[-1]["id"]


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
    keep: Callable[[int], bool] | None = None,
) -> Page:
    """One page of a resource's list (not events: see `mock_api.dataset.events`). The sort
    key is the index: creation is monotone in it. `keep(index)`: a filter (a status)."""

    def walk(bound: int | None, ascending: bool) -> Iterator[int]:
        low, high = index_range(ds, resource, now, created)
        customer_index = None
        if customer is not None:
            decoded = ds.ids.decode(customer)
            if decoded is None or decoded[0] != "customers":
                return
            customer_index = decoded[1]
            c_low, c_high = ds.customer_candidates(resource, customer_index)
            low, high = max(low, c_low), min(high, c_high)
        if bound is not None:
            low, high = (max(low, bound + 1), high) if ascending else (low, min(high, bound - 1))
        for index in range(low, high + 1) if ascending else range(high, low - 1, -1):
            if not ds.listable(resource, index, now):
                continue
            if customer_index is not None and ds.customer_of(resource, index) != customer_index:
                continue
            if keep is not None and not keep(index):
                continue
            yield index

    return cursor_page(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        locate=lambda cursor, param: cursor_index(ds, resource, cursor, param, now),
        walk=walk,
        render=lambda index: ds.state(resource, index, now, version),
    )


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
    events, as `/v1/events` pages them (key: created, then the event's seq)."""
    from mock_api.dataset.events import merged_events  # events imports this module

    born = SPEC_BY_NAME[resource].born
    assert born is not None
    low_t = 0 if created.gte is None else created.gte
    high_t = now if created.lte is None else min(now, created.lte)

    def locate(cursor: str, param: str) -> tuple[int, int]:
        index = cursor_index(ds, resource, cursor, param, now)
        at = ds.change_time(born, index)
        assert at is not None
        return at, seq_of(int(born), index)

    return cursor_page(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        locate=locate,
        walk=lambda bound, ascending: merged_events(ds, (born,), low_t, high_t, bound, ascending),
        render=lambda ref: ds.state(resource, ref.index, now),
    )


def all_born(ds: Dataset, resource: str, now: int) -> list[dict]:
    """Every object of a born resource at `now`, newest first (materialises)."""
    return every_item(
        lambda cursor: list_born(
            ds,
            resource,
            now,
            limit=100,
            starting_after=cursor,
            ending_before=None,
            created=ALL_TIME,
        )  # fmt: skip
    )
