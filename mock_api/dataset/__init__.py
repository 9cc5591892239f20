"""The mock's data: a pure function of (seed, start date, volume), computed per index.

How the data is computed, and the lifecycle schedule (which changes happen to which objects,
at which offsets from creation), are documented in `mock_api/dataset/schedule.py`.

Modules:

- `config`: `MockConfig`, `parse_time`, constants (`DAY`, `API_VERSION`, ...).
- `schedule`: the lifecycle documentation, `EventKind` (base of the per-resource enums of
  named event kinds), `Timeline` (creation times). `keys`: the seeded hashes.
- `customers`, `charges`, `payment_intents`, `invoices`, `refunds`, `disputes`, `payouts`:
  one module per resource, each with
  its `EventKind` enum, its rules (which objects undergo which kind, in which variant), its
  renderer and a `ResourceSpec` (see `base`) that ties them together.
- `registry`: the one place resources are registered (`SPECS`); `RESOURCES`, `OBJECT_NAME`,
  `EVENT_TYPES`, `EXPANDABLE` are derived from it.
- `catalog` (products, prices, coupons), `subscriptions` (lifecycles) and `mrr` (the
  engine's MRR): docs/mock_api.md#billing. `subscription_invoices` (their invoices),
  `subscription_payments` (the schedule of the charges and intents that pay them: a spec
  that is not `listed`), `subscription_invoice_events` (their `invoice.paid`, another such
  spec), `subscription_charges` (those objects) and `companions` (lists that take them in
  with the account's own invoices, charges and intents).
- `money` (settlement, exchange rates, fees, business days) and `ledger` (balance
  transactions, the payouts' daily books, the balance): docs/mock_api.md#the-ledger.
- `paging` (created filters, and `cursor_page`: the one cursor window every list, events
  and balance transactions too, pages through), `events` (`/v1/events` pages and event
  rendering), `facade` (`Dataset`, which ties them together), `reference` (static tables).

To add a resource (say transfers):

1. Write `mock_api/dataset/transfers.py`: a `TransferEvent(EventKind)` enum with
   `resource = nonmember("transfers")` and members `NAME = code, "transfer.created", offsets`
   (codes unique across all resources and < 64: they are part of event ids, never renumber
   one), a rule per kind, a renderer `(dataset, index, applied) -> dict` built from shared
   helpers (`base.stripe_list`, `customers.owning_customer`, ...), and a `ResourceSpec`. An
   object born of another's change (a refund of a charge) shares that resource's timeline
   (`timeline_of`) and names the kind that creates it (`born`): see `refunds.py`.
2. Register it: append the spec to `SPECS` in `mock_api/dataset/registry.py` (append, so the
   existing resources keep their order). The new resource needs an id layout in
   `mock_api.ids.ID_LAYOUT` if it has none yet.

3. Conform to Stripe's schema: add it to `SCHEMA` and `STATES` in
   `tests/mock_api/test_spec_conformance.py` (see `mock_api/stripe_spec/README.md`).

Nothing else changes: lists, retrieves, events, `expand[]` and the OpenAPI paths follow the
registry. (`mock_api.app` and `mock_api.docs` still name which resources take `customer=`.)
"""

from mock_api.dataset.base import ResourceSpec
from mock_api.dataset.charges import ChargeEvent
from mock_api.dataset.config import (
    API_VERSION,
    CUSTOMER_LOOKBACK,
    DAY,
    EVENT_RETENTION_SECONDS,
    HOUR,
    LATE_SHARE,
    MockConfig,
    parse_time,
)
from mock_api.dataset.customers import CustomerEvent
from mock_api.dataset.errors import MockError
from mock_api.dataset.events import EventRef
from mock_api.dataset.facade import Dataset
from mock_api.dataset.invoices import InvoiceEvent
from mock_api.dataset.paging import CreatedFilter, Page
from mock_api.dataset.payment_intents import PaymentIntentEvent
from mock_api.dataset.reference import CURRENCIES, CURRENCY_EXPONENT
from mock_api.dataset.registry import (
    EVENT_TYPES,
    EXPANDABLE,
    KIND_BY_CODE,
    KINDS,
    OBJECT_NAME,
    RESOURCES,
    SPECS,
)
from mock_api.dataset.schedule import SEQ_STRIDE, EventKind, Timeline

__all__ = [
    "API_VERSION",
    "CURRENCIES",
    "CURRENCY_EXPONENT",
    "CUSTOMER_LOOKBACK",
    "DAY",
    "EVENT_RETENTION_SECONDS",
    "EVENT_TYPES",
    "EXPANDABLE",
    "HOUR",
    "KINDS",
    "KIND_BY_CODE",
    "LATE_SHARE",
    "OBJECT_NAME",
    "RESOURCES",
    "SEQ_STRIDE",
    "SPECS",
    "ChargeEvent",
    "CreatedFilter",
    "CustomerEvent",
    "Dataset",
    "EventKind",
    "EventRef",
    "InvoiceEvent",
    "MockConfig",
    "MockError",
    "Page",
    "PaymentIntentEvent",
    "ResourceSpec",
    "Timeline",
    "parse_time",
]
