"""The streams we extract, declared as data; `extractor.extract` serves all of them with one loop.

Each entity stream is a Stripe list endpoint filtered by `created`. The `events` stream is
the change feed: every event lands in `entity=events`, and the object inside it is routed
to the entity whose `object_type` equals `event.data.object.object` (never guessed from
the event type: `charge.dispute.created` carries a dispute, which stays in events only).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stream:
    name: str  # the lake entity, `entity=<name>`
    path: str  # list endpoint
    object_type: str  # value of the Stripe object's "object" field
    key: str = "id"
    cursor: str = "created"
    # Event type filters this entity's updates arrive under (Stripe `type` wildcards).
    event_types: tuple[str, ...] = ()
    is_change_feed: bool = False


CUSTOMERS = Stream("customers", "/v1/customers", "customer", event_types=("customer.*",))
CHARGES = Stream("charges", "/v1/charges", "charge", event_types=("charge.*",))
PAYMENT_INTENTS = Stream(
    "payment_intents", "/v1/payment_intents", "payment_intent", event_types=("payment_intent.*",)
)
INVOICES = Stream("invoices", "/v1/invoices", "invoice", event_types=("invoice.*",))
EVENTS = Stream("events", "/v1/events", "event", is_change_feed=True)

ENTITY_STREAMS: tuple[Stream, ...] = (CUSTOMERS, CHARGES, PAYMENT_INTENTS, INVOICES)
ALL_STREAMS: tuple[Stream, ...] = (*ENTITY_STREAMS, EVENTS)
# Every batch entity, in declaration order: the one entity list the Python code uses.
ENTITY_NAMES: tuple[str, ...] = tuple(s.name for s in ALL_STREAMS)
BY_NAME: dict[str, Stream] = {s.name: s for s in ALL_STREAMS}
BY_OBJECT_TYPE: dict[str, Stream] = {s.object_type: s for s in ENTITY_STREAMS}

# Stripe keeps events for 30 days; an events watermark older than this cannot be resumed.
EVENTS_RETENTION_SECONDS = 30 * 86400


def event_type_filters() -> tuple[str, ...]:
    """The `type` filters the change feed is read with: one per entity, disjoint."""
    return tuple(t for s in ENTITY_STREAMS for t in s.event_types)
