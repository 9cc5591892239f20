"""`/v1/events`: pages as a lazy merge of per-(kind, variant) streams, and event rendering.

An event's seq is index * SEQ_STRIDE + kind code (`schedule.seq_of`; its id encodes the
seq), and its key is (created, seq). Within one (kind, variant) the event of object i happens
at created(i) + an offset, non-decreasing in i, so each stream is already sorted and a page
merges the streams newest first: cost proportional to the page, not the history.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from mock_api.dataset.config import EVENT_RETENTION_SECONDS
from mock_api.dataset.paging import (
    ALL_TIME,
    CreatedFilter,
    Page,
    clip_times,
    cursor_index,
    cursor_page,
    every_item,
)
from mock_api.dataset.registry import KIND_BY_CODE, KINDS, SPEC_BY_NAME
from mock_api.dataset.schedule import EventKind, offset_bounds, offset_time, seq_of, split_seq

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset


class EventRef(NamedTuple):
    """Sort key (created, seq) plus what is needed to render the event. A tuple, so a page's
    merge compares refs in C; seq is unique per event (it encodes the index and the kind), so
    comparisons never reach `kind`."""

    created: int
    seq: int
    kind: EventKind
    index: int


def event_ref(ds: Dataset, seq: int, now: int) -> EventRef | None:
    """The event with this seq if it happened by `now` and is still retained (30 days)."""
    index, code = split_seq(seq)
    kind = KIND_BY_CODE.get(code)
    if kind is None:
        return None
    when = ds.change_time(kind, index)
    if when is None or when > now or when < now - EVENT_RETENTION_SECONDS:
        return None
    return EventRef(when, seq, kind, index)


def kind_stream(
    ds: Dataset,
    kind: EventKind,
    variant: int,
    low_t: int,
    high_t: int,
    ascending: bool,
    bound: tuple[int, int] | None,
) -> Iterator[EventRef]:
    """Events of one (kind, variant) with low_t <= created <= high_t, in key order.

    Within one stream created = created(i) + offset is non-decreasing in i, so walking the
    index range in one direction yields events already sorted by (created, seq).
    `bound` is an exclusive cursor key: events at or beyond it are skipped.
    """
    offset = kind.offsets[variant]
    shortest, longest = offset_bounds(offset)
    slack = 0 if isinstance(offset, int) else offset.slack
    fixed = offset if isinstance(offset, int) else None
    line = ds.timelines[kind.resource]
    low = line.first_at_or_after(low_t - longest)
    high = line.last_at_or_before(high_t - shortest)
    variant_of = ds.rule(kind)
    created_of = line.created
    code = int(kind)
    indexes = range(low, high + 1) if ascending else range(high, low - 1, -1)
    # Events out of order by up to `slack` wait in a heap until no later index can precede
    # them (keys negated when walking newest first).
    pending: list[tuple[tuple[int, int], EventRef]] = []
    sign = 1 if ascending else -1
    for index in indexes:
        if slack:
            when = offset_time(offset, created_of(index))
            horizon = when - sign * slack
            while pending and sign * pending[0][1].created < sign * horizon:
                yield heapq.heappop(pending)[1]
            if variant_of(index) != variant:
                continue
        else:  # the rule first: most indexes of a stream do not undergo its kind
            if variant_of(index) != variant:
                continue
            created = created_of(index)
            when = created + fixed if fixed is not None else offset_time(offset, created)
        if not low_t <= when <= high_t:  # a Shift's bounds are loose
            continue
        seq = seq_of(code, index)
        if bound is not None and not ((when, seq) > bound if ascending else (when, seq) < bound):
            continue  # at or before the cursor (`paging.beyond`)
        ref = EventRef(when, seq, kind, index)
        if slack:
            heapq.heappush(pending, ((sign * ref.created, sign * ref.seq), ref))
        else:
            yield ref
    while pending:
        yield heapq.heappop(pending)[1]


def merged_events(
    ds: Dataset,
    kinds: Iterable[EventKind],
    low_t: int,
    high_t: int,
    bound: tuple[int, int] | None,
    ascending: bool,
) -> Iterator[EventRef]:
    """Events of `kinds` created in [low_t, high_t] and past the cursor key `bound`, newest
    first (or oldest first): the per-(kind, variant) streams merged lazily."""
    low_t, high_t = clip_times(low_t, high_t, bound, ascending)
    if low_t > high_t:
        return iter(())
    streams = [
        kind_stream(ds, kind, variant, low_t, high_t, ascending, bound)
        for kind in kinds
        for variant in range(len(kind.offsets))
    ]
    return heapq.merge(*streams, reverse=not ascending)


def event_key(ds: Dataset, event_id: str, param: str, now: int) -> tuple[int, int]:
    """The (created, seq) sort key of a cursor naming an event; a 400 if it names none."""
    ref = event_ref(ds, cursor_index(ds, "events", event_id, param, now), now)
    assert ref is not None
    return ref.created, ref.seq


def event_page(
    ds: Dataset,
    now: int,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    created: CreatedFilter,
    types: tuple[str, ...] | None,
) -> Page:
    """One page of `/v1/events`, newest first, as Stripe pages it."""
    low_t = now - EVENT_RETENTION_SECONDS
    high_t = now
    if created.gte is not None:
        low_t = max(low_t, created.gte)
    if created.lte is not None:
        high_t = min(high_t, created.lte)
    kinds = [kind for kind in KINDS if types is None or kind.event_type in types]
    return cursor_page(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        locate=lambda cursor, param: event_key(ds, cursor, param, now),
        walk=lambda bound, ascending: merged_events(ds, kinds, low_t, high_t, bound, ascending),
        render=lambda ref: render_event(ds, ref),
    )


def all_events(ds: Dataset, now: int, types: tuple[str, ...] | None = None) -> list[dict]:
    """Every event retained at `now` (30 days), newest first (materialises)."""
    return every_item(lambda cursor: event_page(ds, now, 100, cursor, None, ALL_TIME, types))


def render_event(ds: Dataset, ref: EventRef) -> dict:
    """The event with data.object as the object's state right after this change."""
    kind = ref.kind
    resource = kind.resource
    # Stripe renders an event in the account's default version at its creation, whatever
    # the reader's Stripe-Version (https://docs.stripe.com/api/events/list).
    version = ds.config.version_at(ref.created)
    data: dict
    other_object = SPEC_BY_NAME[resource].event_objects.get(kind)
    if other_object is not None:
        data = {"object": other_object(ds, ref.index)}
        previous = SPEC_BY_NAME[resource].event_previous.get(kind)
        if previous is not None:
            data["previous_attributes"] = previous(ds, ref.index)
    else:
        schedule = ds.changes(resource, ref.index)
        position = next(n for n, (_, k) in enumerate(schedule) if k == kind)
        mirrored = SPEC_BY_NAME[resource].mirrors.get(kind)
        before = frozenset(k for _, k in schedule[:position] if k != mirrored)
        after = before | {kind}
        obj = ds.render(resource, ref.index, after, version)
        data = {"object": obj}
        if kind.event_type.endswith(".updated"):
            data["previous_attributes"] = _diff(
                ds.render(resource, ref.index, before, version), obj
            )
    request_id = None
    if kind.offsets[0] == 0 or kind.event_type.endswith((".updated", ".deleted", ".canceled")):
        request_id = ds.ids.encode("requests", ref.seq)
    return {
        "id": ds.ids.encode("events", ref.seq),
        "object": "event",
        "api_version": version,
        "created": ref.created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": request_id, "idempotency_key": None},
        "type": kind.event_type,
    }


def _diff(old: dict, new: dict) -> dict:
    """Stripe's previous_attributes: the old values of keys that changed (nested dicts too)."""
    out: dict = {}
    for key in set(old) | set(new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            out[key] = _diff(before, after)
        else:
            out[key] = before
    return dict(sorted(out.items()))
