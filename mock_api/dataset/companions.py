"""Objects born of subscriptions' changes, listed with a resource's own objects.

A subscription's invoices, and the charges and payment intents that pay them, are not on
their resource's timeline: object `s * PER_SUBSCRIPTION + slot` is born of one of
subscription s's changes, an event kind whose stream is monotone in s like every event
stream. `/v1/invoices`, `/v1/charges` and `/v1/payment_intents` page both as one list,
newest first by the key (created, group, n): group 0 the resource's own objects (n: the
index, creation is monotone in it), group 1 these companions (n: the birth event's seq). Ids
sort the same way (in_1... before in_2..., ch_3... before ch_4...).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mock_api.dataset.errors import MockError
from mock_api.dataset.paging import (
    ALL_TIME,
    CreatedFilter,
    Page,
    cursor_page,
    every_item,
    index_range,
)
from mock_api.dataset.registry import SPEC_BY_NAME
from mock_api.dataset.schedule import EventKind

if TYPE_CHECKING:
    from mock_api.dataset.events import EventRef
    from mock_api.dataset.facade import Dataset

Key = tuple[int, int, int]


@dataclass(frozen=True)
class Companion:
    """How a resource's list takes in the objects subscriptions' changes create."""

    resource: str  # the list: "invoices", "charges", "payment_intents"
    own: str  # the companions' id resource, e.g. "subscription_charges"
    kinds: tuple[EventKind, ...]  # the subscriptions' changes that create one
    index_of: Callable[[Dataset, EventRef], int]  # the companion's index from its birth
    birth: Callable[[Dataset, int], tuple[int, int] | None]  # (created, seq), None: never
    customer: Callable[[Dataset, int], int]  # subscription s -> its customer's index
    render: Callable[[Dataset, int, int, str | None], dict]  # (index, now, version)


def exists(ds: Dataset, companion: Companion, index: int, now: int) -> bool:
    born = companion.birth(ds, index) if index >= 0 else None
    return born is not None and born[0] <= now


def resolve(ds: Dataset, companion: Companion, object_id: str, now: int) -> tuple[str, int] | None:
    """(resource, index) of an id of either kind that exists at `now`."""
    decoded = ds.ids.decode(object_id)
    if decoded is None:
        return None
    resource, index = decoded
    if resource == companion.resource and ds.exists(resource, index, now):
        return decoded
    if resource == companion.own and exists(ds, companion, index, now):
        return decoded
    return None


def render(
    ds: Dataset, companion: Companion, resource: str, index: int, now: int, version: str | None
) -> dict:
    if resource == companion.resource:
        return ds.state(resource, index, now, version)
    return companion.render(ds, index, now, version)


def _key(ds: Dataset, companion: Companion, resource: str, index: int) -> Key:
    if resource == companion.resource:
        return ds.created(resource, index), 0, index
    born = companion.birth(ds, index)
    assert born is not None
    return born[0], 1, born[1]


def _own(
    ds: Dataset,
    resource: str,
    now: int,
    created: CreatedFilter,
    bound: Key | None,
    ascending: bool,
    customer: int | None,
) -> Iterator[tuple[Key, str, int]]:
    line = ds.timelines[resource]
    # Intent i is charge i's: its customer is the charge's (`charges.payment_facts`).
    owner = SPEC_BY_NAME[resource].timeline_of or resource
    low, high = index_range(ds, resource, now, created)
    if customer is not None:
        c_low, c_high = ds.customer_candidates(resource, customer)
        low, high = max(low, c_low), min(high, c_high)
    if bound is not None:
        at, group, n = bound
        if group == 0:
            low, high = (max(low, n + 1), high) if ascending else (low, min(high, n - 1))
        elif ascending:
            low = max(low, line.first_at_or_after(at + 1))
        else:
            high = min(high, line.last_at_or_before(at))
    for index in range(low, high + 1) if ascending else range(high, low - 1, -1):
        if not ds.listable(resource, index, now):
            continue
        if customer is not None and ds.customer_of(owner, index) != customer:
            continue
        yield (line.created(index), 0, index), resource, index


def _companions(
    ds: Dataset,
    companion: Companion,
    now: int,
    created: CreatedFilter,
    bound: Key | None,
    ascending: bool,
    customer: int | None,
) -> Iterator[tuple[Key, str, int]]:
    from mock_api.dataset.events import merged_events  # events imports paging, as we do

    low_t = 0 if created.gte is None else created.gte
    high_t = now if created.lte is None else min(now, created.lte)
    event_bound = None
    if bound is not None:
        at, group, n = bound
        event_bound = (at, n) if group == 1 else (at, -1)
    for ref in merged_events(ds, companion.kinds, low_t, high_t, event_bound, ascending):
        if customer is not None and companion.customer(ds, ref.index) != customer:
            continue
        yield (ref.created, 1, ref.seq), companion.own, companion.index_of(ds, ref)


def list_page(
    ds: Dataset,
    companion: Companion,
    now: int,
    *,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    created: CreatedFilter,
    customer: str | None,
    version: str | None = None,
) -> Page:
    """A page of the resource's list: its own objects and the companions merged newest first
    (the cursor window is `paging.cursor_page`'s)."""
    customer_index = None
    if customer is not None:
        decoded = ds.ids.decode(customer)
        customer_index = decoded[1] if decoded and decoded[0] == "customers" else -1
    noun = companion.resource[:-1]

    def locate(cursor: str, param: str) -> Key:
        found = resolve(ds, companion, cursor, now)
        if found is None:
            raise MockError(
                400, f"No such {noun}: '{cursor}'", code="resource_missing", param=param
            )
        return _key(ds, companion, *found)

    def walk(bound: Key | None, ascending: bool) -> Iterator[tuple[Key, str, int]]:
        streams = [
            _own(ds, companion.resource, now, created, bound, ascending, customer_index),
            _companions(ds, companion, now, created, bound, ascending, customer_index),
        ]
        return heapq.merge(*streams, reverse=not ascending)

    return cursor_page(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        locate=locate,
        walk=walk,
        render=lambda entry: render(ds, companion, entry[1], entry[2], now, version),
    )


def all_objects(
    ds: Dataset, companion: Companion, now: int, version: str | None = None
) -> list[dict]:
    """Every object the list shows at `now`, newest first (materialises)."""
    return every_item(
        lambda cursor: list_page(
            ds,
            companion,
            now,
            limit=100,
            starting_after=cursor,
            ending_before=None,
            created=ALL_TIME,
            customer=None,
            version=version,
        )
    )
