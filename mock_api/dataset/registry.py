"""The one place resources are registered; everything else derives from `SPECS`.

Order matters and only grows at the end: it is the order of `RESOURCES` (and so of the
OpenAPI paths), and two resources sharing a timeline must come after the one they share.
"""

from __future__ import annotations

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.catalog import COUPON_SPEC, PRICES, PRODUCTS
from mock_api.dataset.charges import CHARGES
from mock_api.dataset.customers import CUSTOMERS
from mock_api.dataset.disputes import DISPUTES
from mock_api.dataset.invoices import INVOICES
from mock_api.dataset.payment_intents import PAYMENT_INTENTS
from mock_api.dataset.payouts import PAYOUTS
from mock_api.dataset.refunds import REFUNDS
from mock_api.dataset.schedule import CODE_END, EventKind
from mock_api.dataset.subscription_invoice_events import SUBSCRIPTION_INVOICE_EVENTS
from mock_api.dataset.subscription_payments import SUBSCRIPTION_PAYMENTS
from mock_api.dataset.subscriptions import SUBSCRIPTIONS

SPECS: tuple[ResourceSpec, ...] = (
    CUSTOMERS,
    CHARGES,
    PAYMENT_INTENTS,
    INVOICES,
    REFUNDS,
    DISPUTES,
    PAYOUTS,
    PRODUCTS,
    PRICES,
    COUPON_SPEC,
    SUBSCRIPTIONS,
    SUBSCRIPTION_PAYMENTS,
    SUBSCRIPTION_INVOICE_EVENTS,
)

SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
# The API's resources: a spec that is not `listed` only schedules events.
RESOURCES = tuple(spec.name for spec in SPECS if spec.listed)
OBJECT_NAME = {spec.name: spec.object_name for spec in SPECS if spec.listed}
KINDS: tuple[EventKind, ...] = tuple(kind for spec in SPECS for kind in spec.kinds)
KIND_BY_CODE: dict[int, EventKind] = {int(kind): kind for kind in KINDS}
EVENT_TYPES = tuple(sorted({kind.event_type for kind in KINDS}))
EXPANDABLE: dict[str, dict[str, str]] = {
    **{spec.name: dict(spec.expandable) for spec in SPECS if spec.listed},
    "events": {},
}


def _check() -> None:
    """Fail at import on a registration that would corrupt ids or timelines."""
    if len(KIND_BY_CODE) != len(KINDS):
        raise ValueError("two event kinds share a code: codes make event ids, keep them unique")
    if any(not 0 <= kind < CODE_END for kind in KINDS):
        raise ValueError(f"event kind codes must be in [0, {CODE_END})")
    for n, spec in enumerate(SPECS):
        if spec.timeline_of is not None and spec.timeline_of not in RESOURCES[:n]:
            raise ValueError(f"{spec.name}: timeline_of must name a resource registered earlier")


_check()
