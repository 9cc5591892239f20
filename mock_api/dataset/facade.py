"""`Dataset`: the one object the app, the webhook sender and the tests use.

It owns what depends on the config (hash keys, ids, timelines) and answers the questions
renderers and pages ask (when was i created, when does it change, whose customer is it),
delegating rendering to the resource modules and paging to `paging` and `events`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from mock_api.dataset import (
    companions,
    events,
    ledger,
    paging,
    subscription_charges,
    subscription_invoices,
    versions,
)
from mock_api.dataset.config import API_VERSION, CUSTOMER_LOOKBACK, LATE_SHARE, MockConfig
from mock_api.dataset.errors import MockError
from mock_api.dataset.events import EventRef
from mock_api.dataset.keys import Keys, resource_key
from mock_api.dataset.paging import ALL_TIME, CreatedFilter, Page
from mock_api.dataset.registry import EXPANDABLE, OBJECT_NAME, RESOURCES, SPEC_BY_NAME, SPECS
from mock_api.dataset.schedule import EventKind, Timeline, offset_time
from mock_api.dataset.subscriptions import discount_object, status_filter
from mock_api.ids import IdCodec
from mock_api.memo import keep

_MISSING = object()
# Lists that take in objects subscriptions' changes create (see `companions`), by resource.
COMPANIONS = {
    "invoices": subscription_invoices.INVOICES,
    "charges": subscription_charges.CHARGES,
    "payment_intents": subscription_charges.PAYMENT_INTENTS,
}
COMPANION_OF = {companion.own: companion for companion in COMPANIONS.values()}
_MEMO_MAX = 1 << 18


def _memo(rule: Callable[[int], int | None]) -> Callable[[int], int | None]:
    """A rule with its answers kept (bounded: cleared when full)."""
    cache: dict[int, int | None] = {}

    def memoised(index: int) -> int | None:
        answer = cache.get(index, _MISSING)
        if answer is _MISSING:
            answer = keep(cache, index, rule(index), _MEMO_MAX)
        return answer  # type: ignore[return-value]

    return memoised


_LEDGER_CACHES: dict[MockConfig, dict] = {}


def _shared_ledger_cache(config: MockConfig) -> dict:
    if config not in _LEDGER_CACHES and len(_LEDGER_CACHES) >= 8:
        _LEDGER_CACHES.pop(next(iter(_LEDGER_CACHES)))  # the oldest config
    return _LEDGER_CACHES.setdefault(config, {})


class Dataset:
    """Every object and event of the mock, computed on demand from the config."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        self.keys = Keys(self.config.seed)
        self.ids = IdCodec(self.config.seed)
        self.per_day: dict[str, int] = {}
        self.timelines: dict[str, Timeline] = {}
        for spec in SPECS:
            self.per_day[spec.name] = spec.per_day(self.config.volume)
            if spec.timeline_of is not None:
                self.timelines[spec.name] = self.timelines[spec.timeline_of]
            elif spec.timeline is not None:
                start = self.config.resource_start_ts(spec.name)
                self.timelines[spec.name] = spec.timeline(start)
            else:
                key = self.keys.per_resource("created", spec.name)
                start = self.config.resource_start_ts(spec.name) + spec.start_delay
                self.timelines[spec.name] = Timeline(
                    start, self.per_day[spec.name], key, spec.closed_weekday
                )
        # Per-day sums the ledger caches (see `ledger._books`): pure functions of the config,
        # so datasets of one config in a process share them.
        self.ledger_cache: dict = _shared_ledger_cache(self.config)
        self.flow_cache: dict = {}  # see payment_flows.payment_flow
        self.decline_cache: dict = {}  # see payment_flows.declined_at_creation
        self.payment_cache: dict = {}  # see charges.payment_facts
        self.billing_cache: dict = {}  # see subscriptions.lifecycle
        self.customer_cache: dict = {}  # see customers.customer_facts
        self._changes: dict[tuple[str, int], tuple[tuple[int, EventKind], ...]] = {}
        self._lookback = max(1, min(CUSTOMER_LOOKBACK, 3 * self.per_day["customers"]))
        # Bound once: the event streams call a rule per candidate index.
        # Memoised: an events page walks each (kind, variant) stream from its top again.
        self._rules: dict[int, Callable[[int], int | None]] = {
            kind: _memo(partial(rule, self)) for spec in SPECS for kind, rule in spec.rules.items()
        }
        # Per resource, its kinds with their rules and offsets, in code order: iterating an
        # Enum class and looking each rule up again cost a third of a cold schedule.
        self._schedule_parts: dict[str, tuple] = {
            spec.name: tuple((kind, self._rules[kind], kind.offsets) for kind in spec.kinds)
            for spec in SPECS
        }

    # ------------------------------------------------------------------ cheap facts

    def created(self, resource: str, index: int) -> int:
        return self.timelines[resource].created(index)

    def visible_at(self, resource: str, index: int) -> int:
        """When the object first appears in list results (created + a small lag for a few)."""
        created = self.created(resource, index)
        late_max = self.config.late_max_seconds
        lateness_key = resource_key(resource, index)
        if late_max <= 0 or self.keys.u("late", lateness_key) >= LATE_SHARE:
            return created
        return created + 1 + self.keys.h("late_by", lateness_key) % late_max

    def exists(self, resource: str, index: int, now: int) -> bool:
        born = SPEC_BY_NAME[resource].born if resource in SPEC_BY_NAME else None
        if born is not None:
            when = self.change_time(born, index) if index >= 0 else None
            return when is not None and when <= now
        return index >= 0 and self.created(resource, index) <= now

    def customer_of(self, resource: str, index: int) -> int:
        """The customer of a charge, payment intent or invoice: one created at or before it."""
        created = self.created(resource, index)
        newest = self.timelines["customers"].last_at_or_before(created)
        back = self.keys.h("customer_back", resource_key(resource, index)) % self._lookback
        return max(0, newest - back)

    def customer_candidates(self, resource: str, customer: int) -> tuple[int, int]:
        """Index range of `resource` that may belong to `customer` (see customer_of)."""
        customers = self.timelines["customers"]
        line = self.timelines[resource]
        low = line.first_at_or_after(customers.created(customer))
        high = line.first_at_or_after(customers.created(customer + self._lookback)) - 1
        return low, high

    # ------------------------------------------------------------------ the schedule

    def rule(self, kind: EventKind) -> Callable[[int], int | None]:
        """index -> the variant in which object `index` undergoes `kind`, or None."""
        return self._rules[kind]

    def change_time(self, kind: EventKind, index: int) -> int | None:
        """When object `index` undergoes `kind`, or None if it never does."""
        variant = self._rules[kind](index)
        if variant is None:
            return None
        return offset_time(kind.offsets[variant], self.created(kind.resource, index))

    def changes(self, resource: str, index: int) -> tuple[tuple[int, EventKind], ...]:
        """The object's whole schedule, in the order the changes apply. Memoised (bounded):
        a subscription's schedule is ~70 kinds and each of its invoices asks for it."""
        key = (resource, index)
        found = self._changes.get(key)
        if found is None:
            created = self.timelines[resource].created(index)  # every kind's resource's
            out = []
            for kind, rule, offsets in self._schedule_parts[resource]:
                variant = rule(index)
                if variant is not None:
                    offset = offsets[variant]
                    when = created + offset if offset.__class__ is int else offset.at(created)
                    out.append((when, kind))
            # (when, code): kinds are IntEnum members, unique per object, so the tuples
            # themselves sort as (when, int(kind)) would.
            out.sort()
            found = keep(self._changes, key, tuple(out), _MEMO_MAX)
        return found

    def applied(self, resource: str, index: int, now: int) -> frozenset[int]:
        """The kinds the object has undergone by `now`."""
        return frozenset(kind for when, kind in self.changes(resource, index) if when <= now)

    def gone_at(self, resource: str, index: int) -> int | None:
        """When the object leaves lists and retrieves as a stub (a customer's deletion)."""
        gone = SPEC_BY_NAME[resource].gone
        return None if gone is None else self.change_time(gone, index)

    def listable(self, resource: str, index: int, now: int) -> bool:
        if SPEC_BY_NAME[resource].born is not None:
            return self.exists(resource, index, now)
        if self.visible_at(resource, index) > now:
            return False
        gone_at = self.gone_at(resource, index)
        return gone_at is None or gone_at > now

    # ------------------------------------------------------------------ rendering

    def object_id(self, resource: str, index: int) -> str:
        return self.ids.encode(resource, index)

    def render(
        self, resource: str, index: int, applied: frozenset[int], version: str = API_VERSION
    ) -> dict:
        """The object after exactly the changes in `applied`, in API `version`, drifted if
        created late enough."""
        obj = self.drift(resource, index, SPEC_BY_NAME[resource].render(self, index, applied))
        return versions.render_in(resource, obj, version)

    def drift(self, resource: str, index: int, obj: dict) -> dict:
        """`obj` drifted if it was created at or after `schema_drift_at` (else as it is)."""
        drift_at = self.config.schema_drift_at
        if drift_at is not None and obj["created"] >= drift_at:
            return self._drifted(resource, index, obj)
        return obj

    def _drifted(self, resource: str, index: int, obj: dict) -> dict:
        """The object as a newer API version renders it: one unknown field, two fewer."""
        out = {k: v for k, v in obj.items() if k not in ("description", "failure_message")}
        score = self.keys.h("drift", resource_key(resource, index)) % 1000
        out["risk_insights"] = {"model": "v2", "score_v2": score}
        return out

    def state(self, resource: str, index: int, now: int, version: str | None = None) -> dict:
        """The object as of `now` (the caller checks that it exists), in `version` (default:
        the account's default version at `now`)."""
        applied = self.applied(resource, index, now)
        return self.render(resource, index, applied, version or self.config.version_at(now))

    # ------------------------------------------------------------------ the API

    def resolve(self, object_id: str, now: int, resource: str | None = None) -> tuple[str, int]:
        """(resource, index) of an id that exists at `now`; MockError 404 otherwise."""
        decoded = self.ids.decode(object_id)
        companion = COMPANION_OF.get(decoded[0]) if decoded else None
        if companion is not None and decoded is not None:
            # A subscription's invoice, or its payment: listed with `resource`'s own.
            if resource in (None, companion.resource) and companions.exists(
                self, companion, decoded[1], now
            ):
                return decoded
            decoded = None
        if decoded is not None and resource is not None and decoded[0] != resource:
            decoded = None
        if decoded is not None:
            res, index = decoded
            if res == "events":
                if events.event_ref(self, index, now) is not None:
                    return decoded
            elif res in RESOURCES and self.exists(res, index, now):
                return decoded
        noun = OBJECT_NAME.get(resource or "", "object") if resource != "events" else "event"
        raise MockError(404, f"No such {noun}: '{object_id}'", code="resource_missing", param="id")

    def list_page(
        self,
        resource: str,
        now: int,
        *,
        limit: int = 10,
        starting_after: str | None = None,
        ending_before: str | None = None,
        created: CreatedFilter = ALL_TIME,
        customer: str | None = None,
        types: tuple[str, ...] | None = None,
        version: str | None = None,
        status: str | None = None,
    ) -> Page:
        """One page of a list endpoint, exactly as Stripe pages: newest first (the cursor
        window, its checks included, is `paging.cursor_page`). `status` filters
        subscriptions as Stripe does (`subscriptions.status_filter`: none given lists all
        but canceled ones)."""
        if resource == "events":
            return events.event_page(
                self, now, limit, starting_after, ending_before, created, types
            )
        if resource in COMPANIONS:  # the account's own and the subscriptions' ones
            return companions.list_page(
                self,
                COMPANIONS[resource],
                now,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
                created=created,
                customer=customer,
                version=version,
            )
        if SPEC_BY_NAME[resource].born is not None:
            return paging.list_born(
                self,
                resource,
                now,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
                created=created,
            )
        return paging.list_objects(
            self,
            resource,
            now,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            customer=customer,
            version=version,
            keep=status_filter(self, now, status) if resource == "subscriptions" else None,
        )

    def objects(self, resource: str, now: int, version: str | None = None) -> list[dict]:
        """Every object a list would return at `now`, newest first (for tests; materialises)."""
        if resource == "events":
            return self.events(now)
        if resource in COMPANIONS:
            return companions.all_objects(self, COMPANIONS[resource], now, version)
        if SPEC_BY_NAME[resource].born is not None:
            return paging.all_born(self, resource, now)
        return paging.all_objects(self, resource, now, version)

    def events(self, now: int, types: tuple[str, ...] | None = None) -> list[dict]:
        """Every event retained at `now` (30 days), newest first (for tests; materialises)."""
        return events.all_events(self, now, types)

    # ------------------------------------------------------------------ the ledger

    def balance_transactions(self, now: int, **filters) -> Page:
        """One page of /v1/balance_transactions (see `ledger.list_page` for the filters)."""
        return ledger.list_page(self, now, **filters)

    def balance_transaction(self, txn_id: str, now: int) -> dict:
        return ledger.retrieve(self, txn_id, now)

    def all_balance_transactions(self, now: int) -> list[dict]:
        """Every balance transaction created by `now`, newest first (for tests)."""
        return ledger.all_transactions(self, now)

    def balance(self, now: int) -> dict:
        """GET /v1/balance at `now`."""
        return ledger.balance(self, now)

    def daily_truth(self, now: int) -> dict[tuple[str, str], dict[str, int]]:
        """The account's books per (settlement currency, day), for tests."""
        return ledger.daily_truth(self, now)

    def invoice_lines(self, invoice_id: str, now: int, **paging_args) -> Page:
        """One page of GET /v1/invoices/{id}/lines (limit, starting_after, ending_before,
        version)."""
        return subscription_invoices.lines_page(self, invoice_id, now, **paging_args)

    def render_event(self, ref: EventRef) -> dict:
        """The event with data.object as the object's state right after this change."""
        return events.render_event(self, ref)

    def retrieve(
        self, object_id: str, now: int, resource: str | None = None, version: str | None = None
    ) -> dict:
        """GET /v1/<resource>/<id>: the state at `now`; deleted customers are a stub."""
        res, index = self.resolve(object_id, now, resource)
        if res in COMPANION_OF:
            return COMPANION_OF[res].render(self, index, now, version)
        if res == "events":
            ref = events.event_ref(self, index, now)
            assert ref is not None
            return events.render_event(self, ref)
        gone_at = self.gone_at(res, index)
        if gone_at is not None and gone_at <= now:
            return {"id": self.object_id(res, index), "object": OBJECT_NAME[res], "deleted": True}
        return self.state(res, index, now, version)

    def expand(
        self, resource: str, obj: dict, paths: list[str], now: int, version: str | None = None
    ) -> dict:
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
            if allowed[head] == "discounts" and isinstance(value, list):
                obj[head] = [discount_object(self, v) if isinstance(v, str) else v for v in value]
            elif isinstance(value, str):
                target = allowed[head]
                expanded = self.retrieve(value, now, target, version)
                if rest:
                    expanded = self.expand(target, expanded, [rest], now, version)
                obj[head] = expanded
            elif isinstance(value, dict) and rest:
                obj[head] = self.expand(allowed[head], value, [rest], now, version)
        return obj
