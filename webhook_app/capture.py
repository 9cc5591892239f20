"""Durable, de-duplicated capture of one webhook event into Bronze (docs/architecture.md#the-lake).

Each event becomes one immutable object at
`bronze/source=stripe/entity=webhook_events/dt=<event created date>/<event_id>.json`, created
exclusively through `Storage.put_if_absent` (local: temp file + fsync + hard link; S3: a put
with `If-None-Match: *`). Two deliveries of the same event race on that one create, so exactly
one wins and the others learn they were duplicates; there is no check-then-write window.

The object holds the Bronze envelope; `data` is the request body spliced in verbatim, so the
event is kept byte-for-byte as Stripe signed it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extractor.lake import layout
from extractor.lake.storage import Storage

# Stripe ids are a short prefix, '_' and alphanumerics. Anything else (dots, slashes, '..',
# control characters, absurd lengths) could steer the write outside its folder: refuse it.
# 250 characters: `<id>.json` must fit a file name (255 bytes), or the write fails with a 503
# that Stripe retries forever.
MAX_EVENT_ID = 250
EVENT_ID_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_\-]{{0,{MAX_EVENT_ID - 1}}}")
# A JSON escape of half a surrogate pair with no other half: Python decodes it, DuckDB (and
# every UTF-8 reader) refuses it, and one such capture would break every later build.
LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
EVENT_TYPE_RE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
# Year 9999 is the last date a partition folder can name.
MAX_CREATED = 253402300799


class InvalidEvent(ValueError):
    """The body is not a usable Stripe event; `code` names why, the message says what."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Event:
    """What capture needs from a verified body: identity, type, creation time, raw text."""

    id: str
    type: str
    created: int
    raw: str
    # The version `data.object` is rendered in; kept as sent (dbt's contract test judges it).
    api_version: str | None = None

    @property
    def created_date(self) -> str:
        return datetime.fromtimestamp(self.created, UTC).date().isoformat()


def parse_event(body: bytes) -> Event:
    """Decode and check a webhook body; raise InvalidEvent naming the first problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent("invalid_json", "body is not UTF-8 encoded JSON") from None
    try:
        event: Any = json.loads(text, object_pairs_hook=_unique_keys)
    except DuplicateKey as exc:
        raise InvalidEvent("invalid_json", f"body repeats the key {exc} in one object") from None
    except ValueError as exc:
        raise InvalidEvent("invalid_json", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidEvent("invalid_json", "body is nested too deeply to be an event") from None
    if LONE_SURROGATE.search(text):
        raise InvalidEvent("invalid_json", "body escapes half a UTF-16 surrogate pair (\\ud800)")
    if not isinstance(event, dict):
        raise InvalidEvent("invalid_event", "body is JSON but not an object")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEvent("missing_event_id", "event has no string 'id'")
    if not EVENT_ID_RE.fullmatch(event_id):
        raise InvalidEvent(
            "invalid_event_id",
            f"event id {event_id[:60]!r} must be 1-{MAX_EVENT_ID} letters, digits, '_' or '-'",
        )
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent("missing_event_type", "event has no string 'type'")
    if not EVENT_TYPE_RE.fullmatch(event_type):
        raise InvalidEvent(
            "invalid_event_type", f"event type {event_type[:60]!r} is not like 'charge.succeeded'"
        )
    created = event.get("created")
    if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created <= MAX_CREATED:
        raise InvalidEvent("invalid_created", "event has no integer 'created' unix timestamp")
    api_version = event.get("api_version")
    return Event(
        event_id, event_type, created, text, api_version if isinstance(api_version, str) else None
    )


class DuplicateKey(ValueError):
    """A JSON object names one key twice (Python keeps the last, DuckDB refuses the file)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(repr(key[:60]))
            seen.add(key)
    return result


def object_key(event: Event) -> str:
    return layout.webhook_event_key(event.created_date, event.id)


def _iso(ts: float) -> str:
    # isoformat is about twice as fast as strftime; same text ("2026-11-18T11:06:40.123456Z").
    naive = datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


def envelope(event: Event, received_at: float, loaded_at: float) -> bytes:
    """The Bronze envelope with `data` = the raw body, unchanged."""
    head = {
        "_run_id": None,
        "_loaded_at": _iso(loaded_at),
        "_received_at": _iso(received_at),
        "_observed_at": event.created,
        "_source": "webhook",
        "_event_id": event.id,
        "_event_type": event.type,
        "_api_version": event.api_version,
    }
    # Splice rather than re-serialise: the body parsed as a JSON object, so this is valid JSON.
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"data":' + event.raw.strip() + "}\n"
    return text.encode("utf-8")


@dataclass(frozen=True)
class CaptureResult:
    key: str
    duplicate: bool


def capture(storage: Storage, event: Event, received_at: float, loaded_at: float) -> CaptureResult:
    """Create the event's object once; a second delivery is reported as a duplicate.

    Raises StorageError if the write could not be made durable (the caller answers 5xx).
    """
    key = object_key(event)
    created = storage.put_if_absent(key, envelope(event, received_at, loaded_at))
    return CaptureResult(key=key, duplicate=not created)
