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
- charges (8% fail): `charge.succeeded` or `charge.failed` +0; `charge.updated` (5%) +2h
  (metadata); `charge.refunded` (8% of succeeded; 60% of those full) +1d|4d|9d;
  `charge.dispute.created` + `charge.updated` (`disputed` true) (1.5% of succeeded, not
  refunded) +6d|14d.
- payment_intents (index i pairs with charge i): `payment_intent.created` +0, then
  `payment_intent.succeeded` +0, or `payment_intent.payment_failed` +0 and
  `payment_intent.canceled` +1h|1d.
- invoices: `invoice.created` +0 (draft); `invoice.updated` (40%) +30min (description);
  `invoice.finalized` +1h (open); then `invoice.paid` (75%) +1h10m|2d|7d,
  `invoice.voided` (10%) +5d, `invoice.marked_uncollectible` (8%) +30d, or stays open (7%).

`charge.invoice` and `invoice.charge` are always null: invoices are settled out of band in
this mock, which keeps the charge <-> payment_intent pairing 1:1 and simple to predict.

Schema drift (off by default): with `schema_drift_at` set (env `MOCK_SCHEMA_DRIFT_AT`), every
customer, charge, payment intent and invoice *created* at or after that time is rendered, in
lists, retrieves and event payloads alike, with one field the extractor has never seen
(`risk_insights`, deterministic per object) and without two optional ones (`description` and,
on charges, `failure_message`), the way a new API version changes a payload mid-history.
"""

from __future__ import annotations

import datetime as dt
import heapq
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mock_api.ids import IdCodec, Rng, mix64, salt

DAY = 86_400
HOUR = 3_600
EVENT_RETENTION_SECONDS = 30 * DAY
API_VERSION = "2024-06-20"
RESOURCES = ("customers", "charges", "payment_intents", "invoices")
OBJECT_NAME = {
    "customers": "customer",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "invoices": "invoice",
}
# Share of objects whose list visibility lags `created` (Stripe lists are eventually consistent).
LATE_SHARE = 0.03
# How many customers back a charge or invoice may pick its customer from (bounds customer=).
CUSTOMER_LOOKBACK = 100


class MockError(Exception):
    """A Stripe-shaped client error; the app turns it into `{"error": {...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.error_type = error_type

    def body(self) -> dict:
        error: dict = {"type": self.error_type, "code": self.code, "message": self.message}
        error["param"] = self.param
        return {"error": error}


def parse_time(raw: str) -> int:
    """Unix seconds or ISO-8601 (a naive time is UTC) to unix seconds."""
    raw = raw.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return int(float(raw))
    parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


@dataclass(frozen=True)
class MockConfig:
    """What the data depends on. Two datasets with equal configs are identical."""

    seed: int = 42
    start_date: dt.date | str = dt.date(2026, 1, 1)
    volume: int = 200
    late_max_seconds: int = 300
    # Objects created at or after this unix second are rendered drifted (see module doc).
    schema_drift_at: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.start_date, str):
            object.__setattr__(self, "start_date", dt.date.fromisoformat(self.start_date))
        if self.volume < 1:
            raise ValueError("volume must be >= 1 charge per day")
        if self.late_max_seconds < 0:
            raise ValueError("late_max_seconds must be >= 0")

    @property
    def start_ts(self) -> int:
        start = self.start_date
        assert isinstance(start, dt.date)
        return int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MockConfig:
        env = dict(os.environ if env is None else env)

        def integer(name: str, default: int) -> int:
            raw = env.get(name, "")
            try:
                return int(raw) if raw.strip() else default
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not an integer") from None

        return cls(
            seed=integer("MOCK_SEED", 42),
            start_date=env.get("MOCK_START_DATE") or "2026-01-01",
            volume=integer("MOCK_VOLUME", 200),
            late_max_seconds=integer("MOCK_LATE_MAX_SECONDS", 300),
            schema_drift_at=_drift_at(env.get("MOCK_SCHEMA_DRIFT_AT", "")),
        )


def _drift_at(raw: str) -> int | None:
    if not raw.strip():
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise ValueError(
            f"MOCK_SCHEMA_DRIFT_AT={raw!r} is not unix seconds or an ISO-8601 time"
        ) from None


@dataclass(frozen=True)
class Kind:
    """One kind of change to an object: an event type at one of a few offsets from creation."""

    code: int  # unique, < 64, increasing in the order changes apply to one object
    type: str
    resource: str
    offsets: tuple[int, ...]


KINDS: tuple[Kind, ...] = (
    Kind(0, "customer.created", "customers", (0,)),
    Kind(1, "customer.updated", "customers", (6 * HOUR, 3 * DAY, 10 * DAY)),
    Kind(2, "customer.deleted", "customers", (40 * DAY, 75 * DAY)),
    Kind(10, "charge.succeeded", "charges", (0,)),
    Kind(11, "charge.failed", "charges", (0,)),
    Kind(12, "charge.updated", "charges", (2 * HOUR,)),
    Kind(13, "charge.refunded", "charges", (1 * DAY, 4 * DAY, 9 * DAY)),
    Kind(14, "charge.dispute.created", "charges", (6 * DAY, 14 * DAY)),
    Kind(15, "charge.updated", "charges", (6 * DAY, 14 * DAY)),
    Kind(20, "payment_intent.created", "payment_intents", (0,)),
    Kind(21, "payment_intent.succeeded", "payment_intents", (0,)),
    Kind(22, "payment_intent.payment_failed", "payment_intents", (0,)),
    Kind(23, "payment_intent.canceled", "payment_intents", (1 * HOUR, 1 * DAY)),
    Kind(30, "invoice.created", "invoices", (0,)),
    Kind(31, "invoice.updated", "invoices", (30 * 60,)),
    Kind(32, "invoice.finalized", "invoices", (HOUR,)),
    Kind(33, "invoice.paid", "invoices", (HOUR + 600, 2 * DAY, 7 * DAY)),
    Kind(34, "invoice.voided", "invoices", (5 * DAY,)),
    Kind(35, "invoice.marked_uncollectible", "invoices", (30 * DAY,)),
)
KIND_BY_CODE = {kind.code: kind for kind in KINDS}
EVENT_TYPES = tuple(sorted({kind.type for kind in KINDS}))
SEQ_STRIDE = 64  # event seq = index * SEQ_STRIDE + kind code

# currency, exponent, weight, (min, max) amount in minor units, rounding step, countries
CURRENCIES = (
    ("usd", 2, 46, (500, 50_000), 1, ("US",)),
    ("eur", 2, 20, (500, 40_000), 1, ("DE", "FR", "NL", "IE", "ES")),
    ("gbp", 2, 12, (500, 40_000), 1, ("GB",)),
    ("jpy", 0, 9, (500, 60_000), 10, ("JP",)),
    ("krw", 0, 6, (5_000, 600_000), 100, ("KR",)),
    # Stripe requires three-decimal amounts to end in 0.
    ("kwd", 3, 7, (1_500, 150_000), 10, ("KW",)),
)
CURRENCY_EXPONENT = {row[0]: row[1] for row in CURRENCIES}
_CITIES = {
    "US": (
        ("San Francisco", "CA", "94107"),
        ("New York", "NY", "10001"),
        ("Austin", "TX", "78701"),
    ),
    "DE": (("Berlin", None, "10115"), ("Munich", None, "80331")),
    "FR": (("Paris", None, "75001"), ("Lyon", None, "69001")),
    "NL": (("Amsterdam", None, "1011"), ("Utrecht", None, "3511")),
    "IE": (("Dublin", None, "D02"),),
    "ES": (("Madrid", None, "28001"), ("Barcelona", None, "08001")),
    "GB": (("London", None, "EC1A 1BB"), ("Manchester", None, "M1 1AE")),
    "JP": (("Tokyo", "Tokyo", "100-0001"), ("Osaka", "Osaka", "530-0001")),
    "KR": (("Seoul", None, "04524"), ("Busan", None, "48058")),
    "KW": (("Kuwait City", None, "13001"), ("Hawalli", None, "32001")),
}
_FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Edsger",
    "Hedy",
    "Yuki",
    "Min-jun",
    "Fatima",
    "Noor",
    "Lars",
    "Chloe",
    "Mateo",
    "Aiko",
    "Omar",
    "Sofia",
    "Liam",
)
_LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Dijkstra",
    "Lamarr",
    "Tanaka",
    "Kim",
    "Al-Sabah",
    "Haddad",
    "Jensen",
    "Martin",
    "Garcia",
    "Sato",
    "Rahman",
    "Rossi",
    "Murphy",
)
_STREETS = (
    "Market St",
    "High St",
    "Main St",
    "Hauptstrasse",
    "Rue de Rivoli",
    "Gangnam-daero",
    "Chuo-dori",
    "Gulf Rd",
    "Keizersgracht",
    "Gran Via",
)
_PRODUCTS = (
    ("Pro plan (monthly)", 4_900),
    ("Team seats", 1_500),
    ("Usage overage", 750),
    ("Support add-on", 2_500),
    ("Annual licence", 29_900),
    ("Onboarding", 9_900),
)
# failure_code, failure_message, outcome type, network_status, reason, risk_level, seller_message
_FAILURES = (
    (
        "card_declined",
        "Your card was declined.",
        "issuer_declined",
        "declined_by_network",
        "generic_decline",
        "normal",
        "The bank did not return any further details with this decline.",
    ),
    (
        "card_declined",
        "Your card has insufficient funds.",
        "issuer_declined",
        "declined_by_network",
        "insufficient_funds",
        "normal",
        "The bank returned the decline code `insufficient_funds`.",
    ),
    (
        "expired_card",
        "Your card has expired.",
        "issuer_declined",
        "declined_by_network",
        "expired_card",
        "normal",
        "The bank returned the decline code `expired_card`.",
    ),
    (
        "incorrect_cvc",
        "Your card's security code is incorrect.",
        "issuer_declined",
        "declined_by_network",
        "incorrect_cvc",
        "elevated",
        "The bank returned the decline code `incorrect_cvc`.",
    ),
    (
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
        "issuer_declined",
        "declined_by_network",
        "processing_error",
        "normal",
        "The bank returned the decline code `processing_error`.",
    ),
    (
        "card_declined",
        "Your card was declined.",
        "blocked",
        "not_sent_to_network",
        "highest_risk_level",
        "highest",
        "Stripe blocked this payment as too risky.",
    ),
)
_BRANDS = (("visa", 55), ("mastercard", 30), ("amex", 10), ("discover", 5))
_DISPUTE_REASONS = (
    ("fraudulent", 50),
    ("product_not_received", 20),
    ("duplicate", 10),
    ("subscription_canceled", 10),
    ("credit_not_processed", 10),
)

# Salts: each decision draws from its own keyed hash, so deciding "is charge i refunded?" for
# an event stream costs one hash, not a whole object.
_S = {
    name: salt(name)
    for name in (
        "created",
        "late",
        "late_by",
        "customer_back",
        "customer",
        "charge",
        "charge_fail",
        "charge_meta",
        "refund",
        "refund_v",
        "dispute",
        "dispute_v",
        "pi_cancel_v",
        "cust_update",
        "cust_update_v",
        "cust_delete",
        "cust_delete_v",
        "invoice",
        "inv_update",
        "inv_outcome",
        "inv_paid_v",
        "request",
        "drift",
    )
}
_RESOURCE_SALT = {name: salt(f"resource:{name}") for name in RESOURCES}


@dataclass(frozen=True)
class CreatedFilter:
    """`created` bounds as inclusive [gte, lte] unix seconds (None = open)."""

    gte: int | None = None
    lte: int | None = None


@dataclass
class Page:
    data: list[dict]
    has_more: bool


@dataclass
class _Timeline:
    """Creation times of one resource: index i lands in day-slot i at a keyed offset.

    created(i) = start + (i * 86400 + u_i) // per_day with 0 <= u_i < 86400, so it is
    non-decreasing in i and both directions (time -> index) are a short binary search.
    """

    start: int
    per_day: int
    key: int

    def created(self, index: int) -> int:
        jitter = 0 if index == 0 else mix64(self.key ^ mix64(index)) % DAY
        return self.start + (index * DAY + jitter) // self.per_day

    def last_at_or_before(self, t: int) -> int:
        """The greatest index created at or before t, or -1."""
        if t < self.start:
            return -1
        offset = t - self.start
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


@dataclass(order=True)
class _EventRef:
    """Sort key (created, seq) plus what is needed to render the event."""

    created: int
    seq: int
    kind: Kind = field(compare=False)
    index: int = field(compare=False)


class Dataset:
    """Every object and event of the mock, computed on demand from the config."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        seed_key = mix64(self.config.seed ^ salt("seed"))
        self._key = seed_key
        self.ids = IdCodec(self.config.seed)
        volume = self.config.volume
        minor_volume = max(1, volume // 10)
        per_day = {
            "customers": minor_volume,
            "charges": volume,
            "payment_intents": volume,
            "invoices": minor_volume,
        }
        start = self.config.start_ts
        # Charges and payment intents share one timeline: charge i is paid through intent i.
        charge_line = _Timeline(start, volume, self._h_key("created", "charges"))
        self.timelines = {
            "customers": _Timeline(start, minor_volume, self._h_key("created", "customers")),
            "charges": charge_line,
            "payment_intents": charge_line,
            "invoices": _Timeline(start, minor_volume, self._h_key("created", "invoices")),
        }
        self.per_day = per_day
        self._lookback = max(1, min(CUSTOMER_LOOKBACK, 3 * minor_volume))
        self._kind_tests: dict[int, Callable[[int], int | None]] = {
            0: lambda i: 0,
            1: self._customer_update_variant,
            2: self._customer_delete_variant,
            10: lambda i: None if self._charge_failed(i) else 0,
            11: lambda i: 0 if self._charge_failed(i) else None,
            12: self._charge_meta_variant,
            13: self._refund_variant,
            14: self._dispute_variant,
            15: self._dispute_variant,
            20: lambda i: 0,
            21: lambda i: None if self._charge_failed(i) else 0,
            22: lambda i: 0 if self._charge_failed(i) else None,
            23: self._pi_cancel_variant,
            30: lambda i: 0,
            31: self._invoice_update_variant,
            32: lambda i: 0,
            33: lambda i: (
                self._invoice_outcome(i)[1] if self._invoice_outcome(i)[0] == 33 else None
            ),
            34: lambda i: 0 if self._invoice_outcome(i)[0] == 34 else None,
            35: lambda i: 0 if self._invoice_outcome(i)[0] == 35 else None,
        }

    # ------------------------------------------------------------------ hashing helpers

    def _h_key(self, name: str, resource: str) -> int:
        return mix64(self._key ^ _S[name] ^ _RESOURCE_SALT[resource])

    def _h(self, name: str, index: int) -> int:
        return mix64(self._key ^ _S[name] ^ mix64(index))

    def _u(self, name: str, index: int) -> float:
        return (self._h(name, index) >> 11) / 9007199254740992.0

    def _rng(self, name: str, index: int) -> Rng:
        return Rng(self._h(name, index))

    # ------------------------------------------------------------------ cheap facts

    def created(self, resource: str, index: int) -> int:
        return self.timelines[resource].created(index)

    def visible_at(self, resource: str, index: int) -> int:
        """When the object first appears in list results (created + a small lag for a few)."""
        created = self.created(resource, index)
        late_max = self.config.late_max_seconds
        lateness_key = index * 4 + RESOURCES.index(resource)
        if late_max <= 0 or self._u("late", lateness_key) >= LATE_SHARE:
            return created
        return created + 1 + self._h("late_by", lateness_key) % late_max

    def exists(self, resource: str, index: int, now: int) -> bool:
        return index >= 0 and self.created(resource, index) <= now

    def _charge_failed(self, i: int) -> bool:
        return self._u("charge_fail", i) < 0.08

    def _charge_meta_variant(self, i: int) -> int | None:
        return 0 if self._u("charge_meta", i) < 0.05 else None

    def _refund_variant(self, i: int) -> int | None:
        if self._charge_failed(i) or self._u("refund", i) >= 0.08:
            return None
        return self._h("refund_v", i) % 3

    def _dispute_variant(self, i: int) -> int | None:
        if self._charge_failed(i) or self._refund_variant(i) is not None:
            return None
        if self._u("dispute", i) >= 0.015:
            return None
        return self._h("dispute_v", i) % 2

    def _pi_cancel_variant(self, i: int) -> int | None:
        return self._h("pi_cancel_v", i) % 2 if self._charge_failed(i) else None

    def _customer_update_variant(self, k: int) -> int | None:
        return self._h("cust_update_v", k) % 3 if self._u("cust_update", k) < 0.30 else None

    def _customer_delete_variant(self, k: int) -> int | None:
        return self._h("cust_delete_v", k) % 2 if self._u("cust_delete", k) < 0.04 else None

    def _invoice_update_variant(self, k: int) -> int | None:
        return 0 if self._u("inv_update", k) < 0.40 else None

    def _invoice_outcome(self, k: int) -> tuple[int | None, int]:
        """(final kind code or None for 'stays open', variant)."""
        roll = self._u("inv_outcome", k)
        if roll < 0.75:
            return 33, self._h("inv_paid_v", k) % 3
        if roll < 0.85:
            return 34, 0
        if roll < 0.93:
            return 35, 0
        return None, 0

    def change_time(self, kind: Kind, index: int) -> int | None:
        """When object `index` undergoes `kind`, or None if it never does."""
        variant = self._kind_tests[kind.code](index)
        if variant is None:
            return None
        return self.created(kind.resource, index) + kind.offsets[variant]

    def changes(self, resource: str, index: int) -> list[tuple[int, Kind]]:
        """The object's whole schedule, in the order the changes apply."""
        out = []
        for kind in KINDS:
            if kind.resource == resource:
                when = self.change_time(kind, index)
                if when is not None:
                    out.append((when, kind))
        out.sort(key=lambda pair: (pair[0], pair[1].code))
        return out

    def _applied(self, resource: str, index: int, now: int) -> frozenset[int]:
        return frozenset(kind.code for when, kind in self.changes(resource, index) if when <= now)

    def customer_of(self, resource: str, index: int) -> int:
        """The customer of a charge, payment intent or invoice: one created at or before it."""
        created = self.created(resource, index)
        newest = self.timelines["customers"].last_at_or_before(created)
        back = self._h("customer_back", index * 4 + RESOURCES.index(resource)) % self._lookback
        return max(0, newest - back)

    def _customer_candidates(self, resource: str, customer: int) -> tuple[int, int]:
        """Index range of `resource` that may belong to `customer` (see customer_of)."""
        customers = self.timelines["customers"]
        line = self.timelines[resource]
        low = line.first_at_or_after(customers.created(customer))
        high = line.first_at_or_after(customers.created(customer + self._lookback)) - 1
        return low, high

    # ------------------------------------------------------------------ rendering

    def object_id(self, resource: str, index: int) -> str:
        return self.ids.encode(resource, index)

    def render(self, resource: str, index: int, applied: frozenset[int]) -> dict:
        renderer = {
            "customers": self._render_customer,
            "charges": self._render_charge,
            "payment_intents": self._render_payment_intent,
            "invoices": self._render_invoice,
        }[resource]
        obj = renderer(index, applied)
        drift_at = self.config.schema_drift_at
        if drift_at is not None and obj["created"] >= drift_at:
            obj = self._drifted(resource, index, obj)
        return obj

    def _drifted(self, resource: str, index: int, obj: dict) -> dict:
        """The object as a newer API version renders it: one unknown field, two fewer."""
        out = {k: v for k, v in obj.items() if k not in ("description", "failure_message")}
        key = index * 4 + RESOURCES.index(resource)
        out["risk_insights"] = {"model": "v2", "score_v2": self._h("drift", key) % 1000}
        return out

    def state(self, resource: str, index: int, now: int) -> dict:
        """The object as of `now` (the caller checks that it exists)."""
        return self.render(resource, index, self._applied(resource, index, now))

    def _customer_facts(self, k: int) -> dict:
        rng = self._rng("customer", k)
        currency_row = rng.weighted(CURRENCIES, [row[2] for row in CURRENCIES])
        country = rng.choice(currency_row[5])
        city, state, postal = rng.choice(_CITIES[country])
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        number = rng.randint(1, 999)
        return {
            "currency": currency_row[0],
            "country": country,
            "city": city,
            "state": state,
            "postal": postal,
            "name": f"{first} {last}",
            "email": f"{first}.{last}{number}@example.com".lower().replace("-", ""),
            "street_no": rng.randint(1, 250),
            "street": rng.choice(_STREETS),
            "new_street_no": rng.randint(251, 900),
            "phone": f"+1555{rng.randint(1_000_000, 9_999_999)}",
            "prefix": rng.token(8).upper(),
            "segment": rng.weighted(("smb", "mid_market", "enterprise"), (70, 25, 5)),
        }

    def _customer_snapshot(self, k: int, applied: frozenset[int]) -> tuple[dict, dict]:
        facts = self._customer_facts(k)
        email = facts["email"]
        street_no = facts["street_no"]
        if 1 in applied:
            email = email.replace("@example.com", "@mail.example.org")
            street_no = facts["new_street_no"]
        address = {
            "city": facts["city"],
            "country": facts["country"],
            "line1": f"{street_no} {facts['street']}",
            "line2": None,
            "postal_code": facts["postal"],
            "state": facts["state"],
        }
        return facts, {"email": email, "address": address}

    def _render_customer(self, k: int, applied: frozenset[int]) -> dict:
        facts, current = self._customer_snapshot(k, applied)
        obj = {
            "id": self.object_id("customers", k),
            "object": "customer",
            "address": current["address"],
            "balance": 0,
            "created": self.created("customers", k),
            "currency": facts["currency"],
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": current["email"],
            "invoice_prefix": facts["prefix"],
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {"segment": facts["segment"]},
            "name": facts["name"],
            "next_invoice_sequence": 1,
            "phone": facts["phone"],
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        if 1 in applied:
            obj["metadata"] = {"segment": facts["segment"], "address_verified": "true"}
        if 2 in applied:
            obj["deleted"] = True
        return obj

    def _deleted_customer(self, k: int) -> dict:
        return {"id": self.object_id("customers", k), "object": "customer", "deleted": True}

    def _payment_facts(self, i: int) -> dict:
        """Everything charge i and payment intent i share."""
        customer = self.customer_of("charges", i)
        cust_facts, cust_now = self._customer_snapshot(
            customer, self._applied("customers", customer, self.created("charges", i))
        )
        currency = cust_facts["currency"]
        row = next(r for r in CURRENCIES if r[0] == currency)
        rng = self._rng("charge", i)
        low, high = row[3]
        step = row[4]
        amount = rng.randint(low // step, high // step) * step
        brand = rng.weighted([b for b, _ in _BRANDS], [w for _, w in _BRANDS])
        failed = self._charge_failed(i)
        failure = rng.choice(_FAILURES)
        refund_variant = self._refund_variant(i)
        full_refund = rng.uniform() < 0.6
        partial_share = rng.randint(10, 90)
        refund_amount = (
            amount if full_refund else max(step, amount * partial_share // 100 // step * step)
        )
        return {
            "customer": customer,
            "customer_facts": cust_facts,
            "customer_now": cust_now,
            "currency": currency,
            "amount": amount,
            "brand": brand,
            "last4": f"{rng.randint(0, 9999):04d}",
            "exp_month": rng.randint(1, 12),
            "exp_year": 2027 + rng.randint(0, 5),
            "funding": rng.weighted(("credit", "debit", "prepaid"), (60, 35, 5)),
            "fingerprint": rng.token(16),
            "risk_score": rng.randint(2, 64),
            "failed": failed,
            "failure": failure,
            "refund_variant": refund_variant,
            "refund_amount": refund_amount,
            "order": f"ord_{rng.token(10)}",
            "receipt": rng.token(24),
            "secret": rng.token(24),
            "dispute_reason": rng.weighted(
                [r for r, _ in _DISPUTE_REASONS], [w for _, w in _DISPUTE_REASONS]
            ),
            "ticket": f"T-{rng.randint(1000, 99999)}",
        }

    def _render_charge(self, i: int, applied: frozenset[int], facts: dict | None = None) -> dict:
        facts = facts or self._payment_facts(i)
        created = self.created("charges", i)
        failed = facts["failed"]
        amount = facts["amount"]
        customer_now = facts["customer_now"]
        if failed:
            (code, message, out_type, network, reason, risk, seller) = facts["failure"]
            outcome = {
                "network_status": network,
                "reason": reason,
                "risk_level": risk,
                "risk_score": 91 if risk == "highest" else facts["risk_score"],
                "seller_message": seller,
                "type": out_type,
            }
        else:
            code = message = None
            outcome = {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": facts["risk_score"],
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
        refunds: list[dict] = []
        amount_refunded = 0
        if 13 in applied:
            amount_refunded = facts["refund_amount"]
            refund_created = created + KIND_BY_CODE[13].offsets[facts["refund_variant"]]
            refunds.append(
                {
                    "id": self.ids.encode("refunds", i),
                    "object": "refund",
                    "amount": amount_refunded,
                    "balance_transaction": self.ids.encode("balance_transactions", 2 * i + 1),
                    "charge": self.object_id("charges", i),
                    "created": refund_created,
                    "currency": facts["currency"],
                    "metadata": {},
                    "payment_intent": self.object_id("payment_intents", i),
                    "reason": "requested_by_customer",
                    "receipt_number": None,
                    "source_transfer_reversal": None,
                    "status": "succeeded",
                    "transfer_reversal": None,
                }
            )
        metadata = {"order_id": facts["order"]}
        if 12 in applied:
            metadata["support_ticket"] = facts["ticket"]
        card_checks = {
            "address_line1_check": None,
            "address_postal_code_check": "pass",
            "cvc_check": "fail" if failed and facts["failure"][0] == "incorrect_cvc" else "pass",
        }
        return {
            "id": self.object_id("charges", i),
            "object": "charge",
            "amount": amount,
            "amount_captured": 0 if failed else amount,
            "amount_refunded": amount_refunded,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None
            if failed
            else self.ids.encode("balance_transactions", 2 * i),
            "billing_details": {
                "address": customer_now["address"],
                "email": customer_now["email"],
                "name": facts["customer_facts"]["name"],
                "phone": None,
            },
            "calculated_statement_descriptor": "MOCKSHOP",
            "captured": not failed,
            "created": created,
            "currency": facts["currency"],
            "customer": self.object_id("customers", facts["customer"]),
            "description": None,
            "destination": None,
            "dispute": None,
            "disputed": 15 in applied,
            "failure_balance_transaction": None,
            "failure_code": code,
            "failure_message": message,
            "fraud_details": {},
            "invoice": None,
            "livemode": False,
            "metadata": metadata,
            "on_behalf_of": None,
            "order": None,
            "outcome": outcome,
            "paid": not failed,
            "payment_intent": self.object_id("payment_intents", i),
            "payment_method": self.ids.encode("payment_methods", i),
            "payment_method_details": {
                "card": {
                    "amount_authorized": None if failed else amount,
                    "brand": facts["brand"],
                    "checks": card_checks,
                    "country": facts["customer_facts"]["country"],
                    "exp_month": facts["exp_month"],
                    "exp_year": facts["exp_year"],
                    "fingerprint": facts["fingerprint"],
                    "funding": facts["funding"],
                    "installments": None,
                    "last4": facts["last4"],
                    "mandate": None,
                    "network": facts["brand"],
                    "three_d_secure": None,
                    "wallet": None,
                },
                "type": "card",
            },
            "receipt_email": customer_now["email"],
            "receipt_number": None,
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{facts['receipt']}",
            "refunded": amount_refunded == amount and amount_refunded > 0,
            "refunds": {
                "object": "list",
                "data": refunds,
                "has_more": False,
                "total_count": len(refunds),
                "url": f"/v1/charges/{self.object_id('charges', i)}/refunds",
            },
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "failed" if failed else "succeeded",
            "transfer_data": None,
            "transfer_group": None,
        }

    def _render_dispute(self, i: int) -> dict:
        facts = self._payment_facts(i)
        created = self.created("charges", i) + KIND_BY_CODE[14].offsets[self._dispute_variant(i)]
        return {
            "id": self.ids.encode("disputes", i),
            "object": "dispute",
            "amount": facts["amount"],
            "balance_transactions": [],
            "charge": self.object_id("charges", i),
            "created": created,
            "currency": facts["currency"],
            "evidence_details": {
                "due_by": created + 7 * DAY,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": self.object_id("payment_intents", i),
            "reason": facts["dispute_reason"],
            "status": "needs_response",
        }

    def _render_payment_intent(self, i: int, applied: frozenset[int]) -> dict:
        facts = self._payment_facts(i)
        created = self.created("payment_intents", i)
        pi_id = self.object_id("payment_intents", i)
        status = "requires_payment_method"
        latest_charge = None
        amount_received = 0
        last_error = None
        canceled_at = None
        cancellation_reason = None
        payment_method = None
        if 21 in applied:
            status = "succeeded"
            latest_charge = self.object_id("charges", i)
            amount_received = facts["amount"]
            payment_method = self.ids.encode("payment_methods", i)
        if 22 in applied:
            latest_charge = self.object_id("charges", i)
            code, message, _, _, reason, _, _ = facts["failure"]
            last_error = {
                "charge": latest_charge,
                "code": code,
                "decline_code": reason if code == "card_declined" else None,
                "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
                "message": message,
                "payment_method": {
                    "id": self.ids.encode("payment_methods", i),
                    "object": "payment_method",
                    "type": "card",
                },
                "type": "card_error",
            }
        if 23 in applied:
            status = "canceled"
            canceled_at = created + KIND_BY_CODE[23].offsets[self._pi_cancel_variant(i)]
            cancellation_reason = "abandoned"
        return {
            "id": pi_id,
            "object": "payment_intent",
            "amount": facts["amount"],
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": amount_received,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": canceled_at,
            "cancellation_reason": cancellation_reason,
            "capture_method": "automatic",
            "client_secret": f"{pi_id}_secret_{facts['secret']}",
            "confirmation_method": "automatic",
            "created": created,
            "currency": facts["currency"],
            "customer": self.object_id("customers", facts["customer"]),
            "description": None,
            "invoice": None,
            "last_payment_error": last_error,
            "latest_charge": latest_charge,
            "livemode": False,
            "metadata": {"order_id": facts["order"]},
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": payment_method,
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": facts["customer_now"]["email"],
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        }

    def _render_invoice(self, k: int, applied: frozenset[int]) -> dict:
        created = self.created("invoices", k)
        invoice_id = self.object_id("invoices", k)
        customer = self.customer_of("invoices", k)
        cust_facts, cust_now = self._customer_snapshot(
            customer, self._applied("customers", customer, created)
        )
        currency = cust_facts["currency"]
        exponent = CURRENCY_EXPONENT[currency]
        # Product prices are in USD cents; scale to the currency's minor unit and magnitude.
        scale = {"usd": 1.0, "eur": 0.92, "gbp": 0.79, "jpy": 1.5, "krw": 13.5, "kwd": 3.1}
        rng = self._rng("invoice", k)
        lines = []
        total = 0
        for n in range(rng.randint(1, 3)):
            description, unit = rng.choice(_PRODUCTS)
            quantity = rng.randint(1, 5)
            unit_amount = int(unit * scale[currency] * 10 ** (exponent - 2) * 100) // 100
            if exponent == 3:
                unit_amount = unit_amount // 10 * 10
            amount = unit_amount * quantity
            total += amount
            lines.append(
                {
                    "id": self.ids.encode("line_items", k * 4 + n),
                    "object": "line_item",
                    "amount": amount,
                    "currency": currency,
                    "description": f"{quantity} × {description}",
                    "discountable": True,
                    "discounts": [],
                    "invoice": invoice_id,
                    "livemode": False,
                    "metadata": {},
                    "period": {"end": created, "start": created},
                    "proration": False,
                    "quantity": quantity,
                    "type": "invoiceitem",
                    "unit_amount_excluding_tax": str(unit_amount),
                }
            )
        send_invoice = rng.uniform() < 0.3
        outcome, variant = self._invoice_outcome(k)
        transitions: dict[str, int | None] = {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        }
        status = "draft"
        number = hosted = pdf = None
        if 32 in applied:
            status = "open"
            transitions["finalized_at"] = created + HOUR
            number = f"{cust_facts['prefix']}-{k % 10_000 + 1:04d}"
            token = rng.token(20)
            hosted = f"https://invoice.stripe.com/i/acct_mock/test_{token}"
            pdf = f"https://pay.stripe.com/invoice/acct_mock/test_{token}/pdf"
        amount_paid = 0
        if 33 in applied:
            status = "paid"
            transitions["paid_at"] = created + KIND_BY_CODE[33].offsets[variant]
            amount_paid = total
        if 34 in applied:
            status = "void"
            transitions["voided_at"] = created + KIND_BY_CODE[34].offsets[0]
        if 35 in applied:
            status = "uncollectible"
            transitions["marked_uncollectible_at"] = created + KIND_BY_CODE[35].offsets[0]
        attempted = status in ("paid", "uncollectible") or (status == "open" and not send_invoice)
        return {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Mock Shop Inc.",
            "account_tax_ids": None,
            "amount_due": total,
            "amount_paid": amount_paid,
            "amount_remaining": 0 if status in ("paid", "void") else total - amount_paid,
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 1 if attempted else 0,
            "attempted": attempted,
            "auto_advance": status in ("draft", "open"),
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_reason": "manual",
            "charge": None,
            "collection_method": "send_invoice" if send_invoice else "charge_automatically",
            "created": created,
            "currency": currency,
            "custom_fields": None,
            "customer": self.object_id("customers", customer),
            "customer_address": cust_now["address"],
            "customer_email": cust_now["email"],
            "customer_name": cust_facts["name"],
            "customer_phone": cust_facts["phone"],
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "default_payment_method": None,
            "description": "Thanks for your business!" if 31 in applied else None,
            "discount": None,
            "discounts": [],
            "due_date": created + 30 * DAY if send_invoice else None,
            "effective_at": transitions["finalized_at"],
            "ending_balance": 0 if 32 in applied else None,
            "footer": None,
            "hosted_invoice_url": hosted,
            "invoice_pdf": pdf,
            "last_finalization_error": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": number,
            "paid": status == "paid",
            "paid_out_of_band": status == "paid",
            "payment_intent": None,
            "period_end": created,
            "period_start": created,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": status,
            "status_transitions": transitions,
            "subscription": None,
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "tax": None,
            "total": total,
            "total_excluding_tax": total,
            "webhooks_delivered_at": created,
        }

    # ------------------------------------------------------------------ lists

    def _index_range(self, resource: str, now: int, created: CreatedFilter) -> tuple[int, int]:
        line = self.timelines[resource]
        upper = now if created.lte is None else min(now, created.lte)
        high = line.last_at_or_before(upper)
        low = 0 if created.gte is None else line.first_at_or_after(created.gte)
        return low, high

    def _listable(self, resource: str, index: int, now: int) -> bool:
        if self.visible_at(resource, index) > now:
            return False
        if resource == "customers":
            deleted_at = self.change_time(KIND_BY_CODE[2], index)
            if deleted_at is not None and deleted_at <= now:
                return False
        return True

    def resolve(self, object_id: str, now: int, resource: str | None = None) -> tuple[str, int]:
        """(resource, index) of an id that exists at `now`; MockError 404 otherwise."""
        decoded = self.ids.decode(object_id)
        if decoded is not None and resource is not None and decoded[0] != resource:
            decoded = None
        if decoded is not None:
            res, index = decoded
            if res == "events":
                if self._event_ref(index, now) is not None:
                    return decoded
            elif res in RESOURCES and self.exists(res, index, now):
                return decoded
        noun = OBJECT_NAME.get(resource or "", "object") if resource != "events" else "event"
        raise MockError(404, f"No such {noun}: '{object_id}'", code="resource_missing", param="id")

    def _cursor(self, resource: str, object_id: str | None, param: str, now: int) -> int | None:
        if object_id is None:
            return None
        try:
            return self.resolve(object_id, now, resource)[1]
        except MockError:
            noun = "event" if resource == "events" else OBJECT_NAME[resource]
            raise MockError(
                400,
                f"No such {noun}: '{object_id}'",
                code="resource_missing",
                param=param,
            ) from None

    def list_page(
        self,
        resource: str,
        now: int,
        *,
        limit: int = 10,
        starting_after: str | None = None,
        ending_before: str | None = None,
        created: CreatedFilter = CreatedFilter(),
        customer: str | None = None,
        types: tuple[str, ...] | None = None,
    ) -> Page:
        """One page of a list endpoint, exactly as Stripe pages: newest first."""
        if starting_after and ending_before:
            raise MockError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                code="parameter_invalid",
                param="starting_after",
            )
        if resource == "events":
            return self._event_page(now, limit, starting_after, ending_before, created, types)
        after = self._cursor(resource, starting_after, "starting_after", now)
        before = self._cursor(resource, ending_before, "ending_before", now)
        low, high = self._index_range(resource, now, created)
        customer_index = None
        if customer is not None:
            decoded = self.ids.decode(customer)
            if decoded is None or decoded[0] != "customers":
                return Page([], False)
            customer_index = decoded[1]
            c_low, c_high = self._customer_candidates(resource, customer_index)
            low, high = max(low, c_low), min(high, c_high)
        if after is not None:
            high = min(high, after - 1)
        if before is not None:
            low = max(low, before + 1)
        indexes = range(low, high + 1) if before is not None else range(high, low - 1, -1)
        picked: list[int] = []
        for index in indexes:
            if not self._listable(resource, index, now):
                continue
            if customer_index is not None and self.customer_of(resource, index) != customer_index:
                continue
            picked.append(index)
            if len(picked) > limit:
                break
        has_more = len(picked) > limit
        picked = picked[:limit]
        if before is not None:
            picked.reverse()
        return Page([self.state(resource, index, now) for index in picked], has_more)

    def objects(self, resource: str, now: int) -> list[dict]:
        """Every object a list would return at `now`, newest first (for tests; materialises)."""
        if resource == "events":
            return self.events(now)
        low, high = self._index_range(resource, now, CreatedFilter())
        return [
            self.state(resource, index, now)
            for index in range(high, low - 1, -1)
            if self._listable(resource, index, now)
        ]

    def retrieve(self, object_id: str, now: int, resource: str | None = None) -> dict:
        """GET /v1/<resource>/<id>: the state at `now`; deleted customers are a stub."""
        res, index = self.resolve(object_id, now, resource)
        if res == "events":
            ref = self._event_ref(index, now)
            assert ref is not None
            return self.render_event(ref)
        if res == "customers":
            deleted_at = self.change_time(KIND_BY_CODE[2], index)
            if deleted_at is not None and deleted_at <= now:
                return self._deleted_customer(index)
        return self.state(res, index, now)

    # ------------------------------------------------------------------ events

    def _event_ref(self, seq: int, now: int) -> _EventRef | None:
        index, code = divmod(seq, SEQ_STRIDE)
        kind = KIND_BY_CODE.get(code)
        if kind is None:
            return None
        when = self.change_time(kind, index)
        if when is None or when > now or when < now - EVENT_RETENTION_SECONDS:
            return None
        return _EventRef(when, seq, kind, index)

    def _stream(
        self,
        kind: Kind,
        variant: int,
        low_t: int,
        high_t: int,
        ascending: bool,
        bound: tuple[int, int] | None,
    ) -> Iterator[_EventRef]:
        """Events of one (kind, variant) with low_t <= created <= high_t, in key order.

        Within one stream created = created(i) + offset is non-decreasing in i, so walking the
        index range in one direction yields events already sorted by (created, seq).
        `bound` is an exclusive cursor key: events at or beyond it are skipped.
        """
        offset = kind.offsets[variant]
        line = self.timelines[kind.resource]
        low = line.first_at_or_after(low_t - offset)
        high = line.last_at_or_before(high_t - offset)
        test = self._kind_tests[kind.code]
        indexes = range(low, high + 1) if ascending else range(high, low - 1, -1)
        for index in indexes:
            if test(index) != variant:
                continue
            ref = _EventRef(
                line.created(index) + offset, index * SEQ_STRIDE + kind.code, kind, index
            )
            if bound is not None:
                key = (ref.created, ref.seq)
                if (key <= bound) if ascending else (key >= bound):
                    continue
            yield ref

    def _event_page(
        self,
        now: int,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        created: CreatedFilter,
        types: tuple[str, ...] | None,
    ) -> Page:
        low_t = now - EVENT_RETENTION_SECONDS
        high_t = now
        if created.gte is not None:
            low_t = max(low_t, created.gte)
        if created.lte is not None:
            high_t = min(high_t, created.lte)
        bound = None
        ascending = False
        for param, cursor in (("starting_after", starting_after), ("ending_before", ending_before)):
            if cursor is None:
                continue
            seq = self._cursor("events", cursor, param, now)
            assert seq is not None
            ref = self._event_ref(seq, now)
            assert ref is not None
            bound = (ref.created, ref.seq)
            ascending = param == "ending_before"
            if ascending:
                low_t = max(low_t, ref.created)
            else:
                high_t = min(high_t, ref.created)
        kinds = [kind for kind in KINDS if types is None or kind.type in types]
        streams = [
            self._stream(kind, variant, low_t, high_t, ascending, bound)
            for kind in kinds
            for variant in range(len(kind.offsets))
        ]
        merged = heapq.merge(*streams, reverse=not ascending)
        picked: list[_EventRef] = []
        if low_t <= high_t:
            for ref in merged:
                picked.append(ref)
                if len(picked) > limit:
                    break
        has_more = len(picked) > limit
        picked = picked[:limit]
        if ascending:
            picked.reverse()
        return Page([self.render_event(ref) for ref in picked], has_more)

    def events(self, now: int, types: tuple[str, ...] | None = None) -> list[dict]:
        """Every event retained at `now` (30 days), newest first (for tests; materialises)."""
        out: list[dict] = []
        cursor = None
        while True:
            page = self._event_page(now, 100, cursor, None, CreatedFilter(), types)
            out.extend(page.data)
            if not page.has_more:
                return out
            cursor = page.data[-1]["id"]

    def render_event(self, ref: _EventRef) -> dict:
        """The event with data.object as the object's state right after this change."""
        kind = ref.kind
        resource = kind.resource
        schedule = self.changes(resource, ref.index)
        position = next(n for n, (_, k) in enumerate(schedule) if k.code == kind.code)
        before = frozenset(k.code for _, k in schedule[:position])
        after = before | {kind.code}
        data: dict
        if kind.code == 14:
            data = {"object": self._render_dispute(ref.index)}
        else:
            obj = self.render(resource, ref.index, after)
            data = {"object": obj}
            if kind.type.endswith(".updated"):
                data["previous_attributes"] = _diff(self.render(resource, ref.index, before), obj)
        request_id = None
        if kind.offsets[0] == 0 or kind.type.endswith((".updated", ".deleted", ".canceled")):
            request_id = self.ids.encode("requests", ref.seq)
        return {
            "id": self.ids.encode("events", ref.seq),
            "object": "event",
            "api_version": API_VERSION,
            "created": ref.created,
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": None},
            "type": kind.type,
        }

    # ------------------------------------------------------------------ expansion

    def expand(self, resource: str, obj: dict, paths: list[str], now: int) -> dict:
        """Replace id fields named in `paths` (already stripped of `data.`) by objects."""
        allowed = EXPANDABLE.get(resource, {})
        for path in paths:
            head, _, rest = path.partition(".")
            if head not in allowed:
                raise MockError(
                    400,
                    f"This property cannot be expanded ({path}).",
                    code="parameter_invalid",
                    param="expand",
                )
            value = obj.get(head)
            if isinstance(value, str):
                target = allowed[head]
                expanded = self.retrieve(value, now, target)
                if rest:
                    expanded = self.expand(target, expanded, [rest], now)
                obj[head] = expanded
            elif isinstance(value, dict) and rest:
                obj[head] = self.expand(allowed[head], value, [rest], now)
        return obj


EXPANDABLE: dict[str, dict[str, str]] = {
    "charges": {
        "customer": "customers",
        "payment_intent": "payment_intents",
        "invoice": "invoices",
    },
    "payment_intents": {
        "customer": "customers",
        "latest_charge": "charges",
        "invoice": "invoices",
    },
    "invoices": {"customer": "customers", "charge": "charges", "payment_intent": "payment_intents"},
    "customers": {},
    "events": {},
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
