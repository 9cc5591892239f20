"""What a resource module declares (`ResourceSpec`) and the helpers renderers share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mock_api.dataset.schedule import EventKind, Rule, full_volume

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

# (dataset, index, applied kind codes) -> the object after exactly those changes.
Renderer = Callable[["Dataset", int, frozenset[int]], dict]


@dataclass(frozen=True)
class ResourceSpec:
    """One listable, retrievable resource: its lifecycle, its renderer and its quirks."""

    name: str  # the URL segment and `mock_api.ids.ID_LAYOUT` key, e.g. "charges"
    object_name: str  # the `object` field, e.g. "charge"
    kinds: type[EventKind]  # its lifecycle (see `mock_api.dataset.schedule`)
    rules: Mapping[EventKind, Rule]  # exactly one per kind
    render: Renderer
    per_day: Callable[[int], int] = full_volume  # objects per day from MockConfig.volume
    # A weekday (Monday = 0) on which no object is created: real accounts have empty days.
    closed_weekday: int | None = None
    # Share another resource's creation times, so index i of both pairs up (intent i pays
    # charge i).
    timeline_of: str | None = None
    # Fields holding an id that `expand[]` may replace by the object: field -> resource.
    expandable: Mapping[str, str] = field(default_factory=dict)
    # After this change the object leaves lists and a retrieve returns a `deleted` stub.
    gone: EventKind | None = None
    # Kinds whose event carries another object than the resource's (balance.available).
    event_objects: Mapping[EventKind, Callable[[Dataset, int], dict]] = field(default_factory=dict)
    # ... and, for such an `.updated` kind, that object's previous_attributes.
    event_previous: Mapping[EventKind, Callable[[Dataset, int], dict]] = field(default_factory=dict)
    # A kind announcing the same change as another (charge.refund.updated mirrors
    # refund.updated): its event's previous_attributes are taken from before both.
    mirrors: Mapping[EventKind, EventKind] = field(default_factory=dict)
    # A resource born of a change (a refund, a dispute, a payout): the object exists from
    # this kind's time, which is its `created`; it lists newest first by that time.
    born: EventKind | None = None
    # Creation times other than `Timeline`'s, built from the account start (payouts: a fixed
    # time each day).
    timeline: Callable[[int], Any] | None = None
    # Seconds after the resource's start before its first object (subscriptions start an
    # hour in, after the catalog they buy from exists).
    start_delay: int = 0
    # False: a schedule of events only (no list, no retrieve, no OpenAPI path): the
    # payments of subscription invoices, whose objects list with charges and intents.
    listed: bool = True

    def __post_init__(self) -> None:
        if set(self.rules) != set(self.kinds):
            raise ValueError(f"{self.name}: rules must cover exactly {list(self.kinds)}")
        if any(kind.resource != self.name for kind in self.kinds):
            raise ValueError(f"{self.name}: its kinds must declare resource={self.name!r}")


def stripe_list(data: list[dict], url: str) -> dict:
    """A list nested in an object (a charge's refunds, an invoice's lines), complete.

    No `total_count`: Stripe adds it only on request (`include[]=total_count`), and its
    list schemas do not list it."""
    return {"object": "list", "data": data, "has_more": False, "url": url}
