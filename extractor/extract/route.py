"""Turning a fetched page into Bronze lines, and routing the events feed.

A list page becomes one envelope line per object. An events page becomes one line per event
in `entity=events`, plus, for each event whose `data.object` is an object some stream
declares (`object_type`), a line in that object's entity, observed at the event's
`created`. The object is cut out of the page's own text (`extractor.api.rawjson`), so Bronze
keeps Stripe's bytes; a `*.deleted` event's object is marked `"deleted": true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from extractor.api.client import Page
from extractor.api.errors import ExtractError
from extractor.api.rawjson import RawJsonError, one_line, path_span, with_member_true
from extractor.extract.bronze import SOURCE_EVENT, SOURCE_LIST, envelope_head, envelope_line
from extractor.streams import BY_OBJECT_TYPE, EVENTS
from extractor.versions import is_supported, supported_list

# Where an event holds its object: events pages are parsed with this `capture` path
# (`StripeClient.iter_pages`), so the object's text is located while the event is decoded.
EVENT_OBJECT = ("data", "object")


class UnsupportedApiVersion(ExtractError):
    """An event rendered in an API version the staging models cannot read: stop, commit nothing."""


@dataclass
class RoutedEvents:
    """One events page as Bronze lines: the events, and the objects inside them by entity."""

    events: list[str] = field(default_factory=list)
    objects: dict[str, list[str]] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)
    # The routed objects parsed, for child streams' conditions (an invoice's `lines`).
    object_values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def object_lines(
    page: Page, run_id: str, loaded_at: str, api_version: str, parent_id: str | None = None
) -> list[str]:
    """A list page: one line per object, observed when the page was served, in the
    request's pinned `api_version` (Settings refuses one the pipeline does not read)."""
    head = envelope_head(  # every line of a list page has the same envelope
        run_id=run_id,
        loaded_at=loaded_at,
        observed_at=page.served_at,
        source=SOURCE_LIST,
        api_version=api_version,
        parent_id=parent_id,
    )
    return [f"{head}{one_line(item.raw)}}}\n" for item in page.items]


def route_events(page: Page, run_id: str, loaded_at: str) -> RoutedEvents:
    """An events page: every event, and each object inside one routed to its entity."""
    routed = RoutedEvents()
    for item in page.items:
        event = item.value
        data = event.get("data")
        if data is not None and not isinstance(data, dict):
            raise ExtractError(
                f"GET {EVENTS.path}: event {item.id} has a data that is not an object"
            )
        event_type = event.get("type")
        created = event.get("created")
        if not isinstance(event_type, str) or not isinstance(created, int):
            raise ExtractError(
                f"GET {EVENTS.path}: event {item.id} has no string type or integer created"
            )
        # Stripe renders an event's object in the version of its creation, not the request's
        # (https://docs.stripe.com/api/events/list): checked before any line of the page is kept.
        api_version = event.get("api_version")
        if not isinstance(api_version, str) or not is_supported(api_version):
            obj = (data or {}).get("object")
            object_id = obj.get("id") if isinstance(obj, dict) else None
            raise UnsupportedApiVersion(
                f"GET {EVENTS.path}: event {item.id} ({event_type}, object {object_id}) is "
                f"rendered in API version {api_version!r}, which this pipeline does not read "
                f"(supported: {supported_list()}); nothing of this run is committed, see "
                "docs/runbook.md"
            )
        routed.events.append(
            envelope_line(
                one_line(item.raw),
                run_id=run_id,
                loaded_at=loaded_at,
                observed_at=page.served_at,
                source=SOURCE_LIST,
                event_id=item.id,
                event_type=event_type,
                api_version=api_version,
            )
        )
        obj = (data or {}).get("object")
        target = BY_OBJECT_TYPE.get(obj.get("object")) if isinstance(obj, dict) else None
        if target is None:
            continue  # an object no stream declares (e.g. a balance): kept in events only
        obj_span = item.span.inner
        if obj_span is None:  # a page parsed without the capture: find it (decoding it again)
            try:
                obj_span = path_span(page.text, item.span, EVENT_OBJECT)
            except RawJsonError as exc:
                raise ExtractError(f"GET {EVENTS.path}: event {item.id}: {exc}") from None
        if obj_span is None:
            continue
        raw = one_line(page.text[obj_span.start : obj_span.end])
        if event_type.endswith(".deleted"):
            raw = with_member_true(raw, "deleted")
            routed.tombstones[target.name] = routed.tombstones.get(target.name, 0) + 1
        elif isinstance(obj.get("id"), str):  # a deleted object has no children to list
            routed.object_values.setdefault(target.name, []).append(obj)
        routed.objects.setdefault(target.name, []).append(
            envelope_line(
                raw,
                run_id=run_id,
                loaded_at=loaded_at,
                observed_at=created,
                source=SOURCE_EVENT,
                event_id=item.id,
                event_type=event_type,
                api_version=api_version,
            )
        )
    return routed
