"""The mock's data: a pure function of (seed, start date, volume), computed per index.

Nothing is materialised. Object `i` of a resource is created at a time computed from `i`
(monotone in `i`, so "everything created up to t" is an index prefix found by binary search),
and every later change (refund, dispute, invoice payment, customer update, ...) happens at a
fixed offset from creation, chosen per object among a few variants. Each (change kind, variant)
is therefore a stream of events that is also monotone in `i`, and a page of `/v1/events` is a
lazy newest-first merge of those streams: cost proportional to the page, not the history.

Ordering everywhere is newest first by `created`, ties broken by id descending; ids encode the
index in a fixed-width field so id order equals index order (see `mock_api.ids`).

Lifecycle schedule (offsets from the object's `created`; `a|b` = one of the variants):

- customers: `customer.created` +0; `customer.updated` (30%) +6h|3d|10d (email and address);
  `customer.deleted` (4%) +40d|75d. Deleted customers leave the list; retrieve gives a stub.
- charges, by flow (`payment_flows`): automatic card (8% declined): `charge.succeeded` or
  `charge.failed` +0; manual capture: `charge.succeeded` +0 (authorised), then
  `charge.captured` +2h|1d|3d or `charge.expired` +7d; bank debit: `charge.pending` +0, then
  `charge.succeeded` or `charge.failed` +4d. Automatic payments only: `charge.refunded` (8% of
  succeeded; 60% of those full) +1d|4d|9d; `charge.updated` (`disputed` true) (1.5% of
  succeeded, not refunded) +6d|14d. Any: `charge.updated` (5%) +2h (metadata).
- refunds (refund i of charge i; `refunds`): `refund.created` with its charge's refund (a
  customer's, a partial capture's rest, an expired authorisation); a customer's:
  `refund.updated` + `charge.refund.updated` (succeeded) +1d after it, or (5%)
  `refund.failed` + `charge.refund.updated` (failed; the charge's kind) +1d after it.
- disputes (dispute i on charge i; `disputes`): `charge.dispute.created` +
  `charge.dispute.funds_withdrawn` +6d|14d after the charge; `charge.dispute.updated`
  (under review) +3d after that; `charge.dispute.closed` (+ `charge.dispute.funds_reinstated`
  when won) +35d after it.
- payouts (one per settlement currency per business day, 02:00 UTC; `payouts`):
  `payout.created`, `payout.updated` +1h (in transit), `payout.paid` or `payout.failed` at
  (+1h) the arrival date; `balance.available` at midnight of each business day.
- payment_intents (index i pairs with charge i): `payment_intent.created` +0, then as its
  charge: `payment_intent.succeeded` +0 (automatic), at the capture (manual) or +4d (bank);
  `payment_intent.amount_capturable_updated` +0 (manual) or `payment_intent.processing` +0
  (bank); `payment_intent.payment_failed` +0 or +4d; `payment_intent.canceled` +1h|1d after
  a decline, +7d for an authorisation never captured.
- invoices (none created on Sundays): `invoice.created` +0 (draft); `invoice.updated` (40%)
  +30min (description); `invoice.finalized` +1h (open); then `invoice.paid` (75%) +1h10m|2d|7d,
  `invoice.voided` (10%) +5d, `invoice.marked_uncollectible` (8%) +30d, or stays open (7%).
- products, prices, coupons (a fixed catalog, `catalog`): `*.created` +0; `product.updated`,
  `price.updated` +70d for a few.
- subscriptions (`subscriptions`): `customer.subscription.created` +0, then per scenario
  trial end, item changes, cancellations, past_due/unpaid and each renewal, at offsets counted
  in billing periods (calendar months from the anchor: `Shift`s, one variant per interval and
  trial); the table is in docs/mock_api.md#billing. Their kinds have codes >= 64 (`seq_of`).

Each resource's module holds its part of this table as code: an `EventKind` enum (codes,
event types, offsets) and its rules (which objects undergo a kind, in which variant), e.g.
`ChargeEvent` and the rules of `CHARGES` in `mock_api/dataset/charges.py`.

- subscription payments (`subscription_payments`): a subscription invoice that is paid with
  an amount due is paid by one automatic card payment (charge and payment intent of the
  invoice's index) when it is paid: `payment_intent.created`, `charge.succeeded`,
  `payment_intent.succeeded` at the invoice's birth, or at the recovery for the renewal whose
  payment failed. Codes from PAY_CODE (`seq_of`); after them, one `invoice.paid` kind per
  invoice slot (`subscription_invoice_events`). The account's other invoices
  (`invoices`) are still settled out of band: their `charge` is null.

Schema drift (off by default): with `schema_drift_at` set (env `MOCK_SCHEMA_DRIFT_AT`), every
customer, charge, payment intent and invoice *created* at or after that time is rendered, in
lists, retrieves and event payloads alike, with one field the extractor has never seen
(`risk_insights`, deterministic per object) and without two optional ones (`description` and,
on charges, `failure_message`), the way a new API version changes a payload mid-history.

This module holds the machinery the table runs on: `EventKind`, `Timeline` (creation times)
and the per-day volumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from mock_api.dataset.config import DAY
from mock_api.ids import mix64
from mock_api.memo import keep

if TYPE_CHECKING:
    from mock_api.dataset.facade import Dataset

# An event's seq (and so its id) is index * SEQ_STRIDE + kind code: codes must stay < 64 and
# never be renumbered, or every event id changes.
SEQ_STRIDE = 64
# The billing resources needed more codes than the 64 fit: codes from EXT_CODE on number
# their events in a separate seq range above EXT_BASE (ids of the older kinds stay as they
# were). An event id's index field (11 base62 digits) holds seqs far beyond it.
EXT_CODE = 64
EXT_STRIDE = 256
EXT_BASE = 1 << 58  # request ids hold 10 base62 digits (8.4e17)
# The payments of subscription invoices (a charge and an intent per invoice, three events
# each: `subscription_payments`) take codes from PAY_CODE, in a third seq range.
PAY_CODE = EXT_CODE + EXT_STRIDE
PAY_STRIDE = 256
PAY_BASE = 1 << 59
CODE_END = PAY_CODE + PAY_STRIDE  # every kind's code is below it


def seq_of(code: int, index: int) -> int:
    """The seq (and so the event id) of object `index`'s change of kind `code`."""
    if code < EXT_CODE:
        return index * SEQ_STRIDE + code
    if code < PAY_CODE:
        return EXT_BASE + index * EXT_STRIDE + code - EXT_CODE
    return PAY_BASE + index * PAY_STRIDE + code - PAY_CODE


def split_seq(seq: int) -> tuple[int, int]:
    """(index, code) of a seq: seq_of's inverse."""
    if seq < EXT_BASE:
        return divmod(seq, SEQ_STRIDE)
    if seq < PAY_BASE:
        index, code = divmod(seq - EXT_BASE, EXT_STRIDE)
        return index, code + EXT_CODE
    index, code = divmod(seq - PAY_BASE, PAY_STRIDE)
    return index, code + PAY_CODE


@dataclass(frozen=True)
class Shift:
    """An offset that is not a fixed number of seconds: `at(created)`, always within
    [low, high] seconds after `created`, non-decreasing in `created` up to `slack` seconds
    (a (kind, variant) stream reorders that much, see `events._stream`). A subscription's
    n-th renewal is n calendar months after its anchor."""

    at: Callable[[int], int]
    low: int
    high: int
    # How far `at` may run backwards: a month's clamped day keeps each object's time of day,
    # so Jan 30 03:00 -> Feb 28 03:00 comes before Jan 29 20:00 -> Feb 28 20:00 (< a day).
    slack: int = 0


def offset_time(offset: int | Shift, created: int) -> int:
    """When a change at `offset` happens to an object created at `created`."""
    return created + offset if isinstance(offset, int) else offset.at(created)


def offset_bounds(offset: int | Shift) -> tuple[int, int]:
    return (offset, offset) if isinstance(offset, int) else (offset.low, offset.high)


# A rule says whether object `index` undergoes a kind, and at which of its offsets:
# the variant (an index into `EventKind.offsets`), or None for never.
Rule = Callable[["Dataset", int], "int | None"]


class EventKind(IntEnum):
    """Base of each resource's event kinds: one kind of change to an object.

    The member's int value is its code (unique across resources, < SEQ_STRIDE, increasing in
    the order changes apply to one object); `event_type` is the Stripe event type and
    `offsets` the seconds after creation at which it may happen (one per variant; a `Shift`
    where that is not a fixed number of seconds). Subclasses
    declare `resource = nonmember("<resource>")` and members as `NAME = code, type, offsets`.
    """

    event_type: str
    offsets: tuple[int | Shift, ...]
    resource: str

    def __new__(cls, code: int, event_type: str, offsets: tuple[int | Shift, ...]) -> EventKind:
        member = int.__new__(cls, code)
        member._value_ = code
        member.event_type = event_type
        member.offsets = offsets
        return member


def always(dataset: Dataset, index: int) -> int:
    """The rule of a kind every object undergoes, at its only offset."""
    return 0


def full_volume(volume: int) -> int:
    """Objects per day for the main resources: MockConfig.volume (charges per day)."""
    return volume


def minor_volume(volume: int) -> int:
    """Objects per day for the minor resources (customers, invoices): a tenth, at least 1."""
    return max(1, volume // 10)


# Days since 1970-01-01 (a Thursday) of a weekday: (day + EPOCH_WEEKDAY) % 7, Monday = 0.
EPOCH_WEEKDAY = 3
SUNDAY = 6


CREATED_MEMO_MAX = 1 << 18


@dataclass
class Timeline:
    """Creation times of one resource: index i lands in day-slot i at a keyed offset.

    created(i) = start + (i * 86400 + u_i) // per_day with 0 <= u_i < 86400, so it is
    non-decreasing in i and both directions (time -> index) are a short binary search.

    With `closed_weekday` set, that weekday has no objects at all (an invoicing team that
    does not work on Sundays): the formula runs on "open time", a clock that stands still on
    closed days, and open time maps to real time by skipping them. So a window that covers
    only a closed day lists nothing, the way a real account has empty days.
    """

    start: int
    per_day: int
    key: int
    closed_weekday: int | None = None

    def __post_init__(self) -> None:
        # A start on a closed day opens at the next open midnight.
        self._open_start = self._to_open(self.start) + self._is_closed(self.start // DAY)
        # created(i), kept (bounded): a page asks it of one object many times.
        self._created: dict[int, int] = {}

    def created(self, index: int) -> int:
        found = self._created.get(index)
        if found is None:
            jitter = 0 if index == 0 else mix64(self.key ^ mix64(index)) % DAY
            found = self._to_real(self._open_start + (index * DAY + jitter) // self.per_day)
            keep(self._created, index, found, CREATED_MEMO_MAX)
        return found

    def last_at_or_before(self, t: int) -> int:
        """The greatest index created at or before t, or -1."""
        if t < self.start:
            return -1
        offset = self._to_open(t) - self._open_start
        low = (offset + 1) * self.per_day // DAY - 1  # created(low) <= t, or low == -1
        high = ((offset + 1) * self.per_day + DAY - 1) // DAY  # created(high) > t
        low = max(low, -1)
        while high - low > 1:
            mid = (low + high) // 2
            if self.created(mid) <= t:
                low = mid
            else:
                high = mid
        return low

    def first_at_or_after(self, t: int) -> int:
        return self.last_at_or_before(t - 1) + 1

    # Open time: seconds on a clock that does not run on closed days. Day d (since the
    # epoch) is open day d - closed_before(d); a time on a closed day maps to the last
    # second of the open day before it, so the mapping stays monotone.

    def _closed_before(self, day: int) -> int:
        """How many closed days lie in [0, day)."""
        if self.closed_weekday is None:
            return 0
        first = (self.closed_weekday - EPOCH_WEEKDAY) % 7  # the first closed day >= 0
        return 0 if day <= first else (day - first + 6) // 7

    def _is_closed(self, day: int) -> bool:
        return self.closed_weekday is not None and (day + EPOCH_WEEKDAY) % 7 == self.closed_weekday

    def _to_open(self, t: int) -> int:
        day, second = divmod(t, DAY)
        open_day = day - self._closed_before(day)
        if self._is_closed(day):
            return open_day * DAY - 1
        return open_day * DAY + second

    def _to_real(self, open_t: int) -> int:
        if self.closed_weekday is None:
            return open_t
        open_day, second = divmod(open_t, DAY)
        day = max(0, open_day + open_day // 6 - 7)  # at or just before the answer
        while day > 0 and day - self._closed_before(day) > open_day:
            day = max(0, day - 7)
        while day - self._closed_before(day) < open_day or self._is_closed(day):
            day += 1
        return day * DAY + second
