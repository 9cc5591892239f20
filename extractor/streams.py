"""The streams we extract, declared as data; `extractor.extract` serves all of them with one loop.

Each entity stream is a Stripe list endpoint filtered by `created`. The `events` stream is
the change feed: every event lands in `entity=events`, and the object inside it is routed
to the entity whose `object_type` equals `event.data.object.object` (never guessed from
the event type: `charge.dispute.created` carries a dispute, so it lands in `disputes`).

Two more patterns (ADR 0052, 0053):
- a child stream lists the children of each parent object a run sees, either
  `path?<parent_param>=<id>` (a payout's balance transactions) or a path template
  `/v1/invoices/{parent_id}/lines` (an invoice's lines), optionally only for the parents a
  condition picks (`lines.has_more`); its lines carry the parent id in `_parent_id`, and its
  state is the set of parents whose children are final and listed
  (`extractor.extract.children`);
- a snapshot stream reads one object per run (`GET /v1/balance`), which has no id or
  `created` and so no window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ParentTest = Callable[[dict[str, Any]], bool]


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
    # Fixed filters every list request sends (`status=all` for subscriptions).
    list_params: tuple[tuple[str, str], ...] = ()
    # A child stream: the parent entity whose objects it lists for, and how: the list
    # filter `parent_param=<id>` on `path`, or `{parent_id}` in `path` itself.
    parent: str | None = None
    parent_param: str | None = None
    # Which parent versions have children to list (None: every parent), and which say the
    # children are final, so one listing is enough (None: always final).
    parent_when: ParentTest | None = None
    parent_final: ParentTest | None = None
    is_snapshot: bool = False
    # A first run lists the stream's whole history, not `--days`: a catalog object (a price)
    # created long before the window is still what new subscriptions and invoices name; a
    # subscription created long ago still bills and counts in MRR now. Both are small next
    # to payments. Later runs read windows and events like every stream.
    first_run_lists_all: bool = False

    def child_request(self, parent_id: str) -> tuple[str, dict[str, str]]:
        """The list request of one parent's children: (path, params)."""
        if self.parent_param:
            return self.path, {self.parent_param: parent_id}
        return self.path.format(parent_id=parent_id), {}

    def wants(self, parent: dict[str, Any]) -> bool:
        return self.parent_when is None or self.parent_when(parent)

    def is_final(self, parent: dict[str, Any]) -> bool:
        return self.parent_final is None or self.parent_final(parent)


CUSTOMERS = Stream("customers", "/v1/customers", "customer", event_types=("customer.*",))
CHARGES = Stream("charges", "/v1/charges", "charge", event_types=("charge.*",))
PAYMENT_INTENTS = Stream(
    "payment_intents", "/v1/payment_intents", "payment_intent", event_types=("payment_intent.*",)
)
INVOICES = Stream("invoices", "/v1/invoices", "invoice", event_types=("invoice.*",))
# Stripe sends no event for a balance transaction (its status turns `available` silently):
# it is append-only, and its list by `created` is the whole truth.
BALANCE_TRANSACTIONS = Stream(
    "balance_transactions", "/v1/balance_transactions", "balance_transaction"
)
# `charge.refund.updated` carries a refund and `charge.dispute.*` a dispute: both are read by
# the charges filter `charge.*` and routed here by their object.
REFUNDS = Stream("refunds", "/v1/refunds", "refund", event_types=("refund.*",))
DISPUTES = Stream("disputes", "/v1/disputes", "dispute")
PAYOUTS = Stream("payouts", "/v1/payouts", "payout", event_types=("payout.*",))
PRODUCTS = Stream(
    "products", "/v1/products", "product", event_types=("product.*",), first_run_lists_all=True
)
PRICES = Stream("prices", "/v1/prices", "price", event_types=("price.*",), first_run_lists_all=True)
COUPONS = Stream(
    "coupons", "/v1/coupons", "coupon", event_types=("coupon.*",), first_run_lists_all=True
)
# Without `status` Stripe lists only subscriptions that are not canceled
# (https://docs.stripe.com/api/subscriptions/list); `all` lists every status. Their
# `customer.subscription.*` events are read by the customers filter `customer.*` (a wildcard
# covers every type under the prefix) and routed here by their object. From API version
# 2025-03-31.basil a subscription names its coupon only through `discounts`, a list of
# discount ids that Stripe serves by no endpoint of their own, so a list read expands them
# (the discount carries its coupon); Silver lends that coupon to the event versions that
# name the same discount id (docs/architecture.md#api-versions). The first run lists every
# subscription, so each has a line that carries its discount.
SUBSCRIPTIONS = Stream(
    "subscriptions",
    "/v1/subscriptions",
    "subscription",
    list_params=(("status", "all"), ("expand[]", "data.discounts")),
    first_run_lists_all=True,
)
EVENTS = Stream("events", "/v1/events", "event", is_change_feed=True)
# What a payout paid out: `GET /v1/balance_transactions?payout=po_...` (Stripe's payout
# reconciliation), listed once per payout.
PAYOUT_BALANCE_TRANSACTIONS = Stream(
    "payout_balance_transactions",
    "/v1/balance_transactions",
    "balance_transaction",
    parent="payouts",
    parent_param="payout",
)


def _lines_has_more(invoice: dict[str, Any]) -> bool:
    lines = invoice.get("lines")
    return isinstance(lines, dict) and lines.get("has_more") is True


def _not_draft(invoice: dict[str, Any]) -> bool:
    return invoice.get("status") != "draft"


# An invoice embeds its first 10 lines (`lines.has_more` says when there are more): the
# others are only in `GET /v1/invoices/{id}/lines`, listed whole for such an invoice. A
# finalized invoice's lines never change, so it is listed once; a draft's may, so a draft is
# listed again whenever a run sees it.
INVOICE_LINE_ITEMS = Stream(
    "invoice_line_items",
    "/v1/invoices/{parent_id}/lines",
    "line_item",
    parent="invoices",
    parent_when=_lines_has_more,
    parent_final=_not_draft,
)
BALANCE = Stream("balance", "/v1/balance", "balance", is_snapshot=True)

ENTITY_STREAMS: tuple[Stream, ...] = (
    CUSTOMERS,
    CHARGES,
    PAYMENT_INTENTS,
    INVOICES,
    BALANCE_TRANSACTIONS,
    REFUNDS,
    DISPUTES,
    PAYOUTS,
    PRODUCTS,
    PRICES,
    COUPONS,
    SUBSCRIPTIONS,
)
CHILD_STREAMS: tuple[Stream, ...] = (PAYOUT_BALANCE_TRANSACTIONS, INVOICE_LINE_ITEMS)
SNAPSHOT_STREAMS: tuple[Stream, ...] = (BALANCE,)
ALL_STREAMS: tuple[Stream, ...] = (*ENTITY_STREAMS, EVENTS, *CHILD_STREAMS, *SNAPSHOT_STREAMS)
# Every batch entity, in declaration order: the one entity list the Python code uses.
ENTITY_NAMES: tuple[str, ...] = tuple(s.name for s in ALL_STREAMS)
# What `--entity` may name: the listed streams and the feed (a child follows its parent,
# the snapshot is read on every run).
SELECTABLE_NAMES: tuple[str, ...] = (*(s.name for s in ENTITY_STREAMS), EVENTS.name)
# The streams with a `created` watermark (children and snapshots have none).
WATERMARKED_STREAMS: tuple[Stream, ...] = (*ENTITY_STREAMS, EVENTS)
BY_NAME: dict[str, Stream] = {s.name: s for s in ALL_STREAMS}
BY_OBJECT_TYPE: dict[str, Stream] = {s.object_type: s for s in ENTITY_STREAMS}


def children_of(parent: str) -> tuple[Stream, ...]:
    return tuple(s for s in CHILD_STREAMS if s.parent == parent)


# Stripe keeps events for 30 days; an events watermark older than this cannot be resumed.
EVENTS_RETENTION_SECONDS = 30 * 86400


def event_type_filters() -> tuple[str, ...]:
    """The `type` filters the change feed is read with: one per entity, disjoint."""
    return tuple(t for s in ENTITY_STREAMS for t in s.event_types)
