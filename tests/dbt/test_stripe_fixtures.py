"""Stripe's own published objects, in both API shapes, go through `dbt build` into Silver.

tests/data/stripe/ holds Stripe's example customer, charge, payment intent and invoice, and
billing's product, price, coupon and subscription, in 2024-06-20 and in the current (dahlia)
shape. Each is written to Bronze in the envelope the
extractor writes (a list line in its version), the 2024 objects in one run and the current ones
in another; `run-transforms` builds; Silver must hold each object with the values read from
the object itself, in whichever field its version keeps them (docs/architecture.md#api-versions).
The two files share object ids, so the current ones get a `_now` suffix to stay separate
objects (their links to each other are suffixed alike, down to a subscription item's price).
Stripe published the objects one by one, so an invoice line names a price the price fixture is
not; a real account's price list holds it, so the lake gets that price too, as the line embeds
it (Stripe's own object). Nothing else is changed.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from extractor.settings import REPO_ROOT
from tests.dbt.lake_queries import rows, silver
from tests.support.cli import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = REPO_ROOT / "tests" / "data" / "stripe"
SHAPES = {"2024-06-20": "", "2026-03-25.dahlia": "_now"}
ENTITIES = {
    "customer": "customers",
    "charge": "charges",
    "payment_intent": "payment_intents",
    "invoice": "invoices",
    "product": "products",
    "price": "prices",
    "coupon": "coupons",
    "subscription": "subscriptions",
}
LINKS = ("customer", "payment_intent", "invoice", "charge", "product", "price")


def fixtures(version: str) -> dict[str, dict]:
    """The version's objects, ids (and the links between them) suffixed per SHAPES."""
    suffix = SHAPES[version]
    objects = json.loads((DATA / f"fixtures-{version}.json").read_text())
    billing = json.loads((DATA / f"fixtures-billing-{version}.json").read_text())
    objects.update({kind: billing[kind] for kind in ENTITIES if kind in billing})
    ids = {obj["id"] for obj in objects.values()}
    for obj in objects.values():
        relink(obj, ids, suffix)
    return objects


def relink(value: object, ids: set[str], suffix: str) -> None:
    """Suffix, in place, the ids of these objects and every link to them, however nested."""
    if isinstance(value, list):
        for item in value:
            relink(item, ids, suffix)
    if not isinstance(value, dict):
        return
    if value.get("object") in ENTITIES and value.get("id") in ids:
        value["id"] += suffix
    for key, item in value.items():
        if key in LINKS and isinstance(item, str) and item in ids:
            value[key] = item + suffix
        else:
            relink(item, ids, suffix)


def prices_named_by_invoice_lines(objects: dict[str, dict]) -> list[dict]:
    """The prices the invoice's lines embed that the price fixture is not."""
    lines = objects["invoice"]["lines"]["data"]
    named = [line["price"] for line in lines if isinstance(line.get("price"), dict)]
    return [price for price in named if price["id"] != objects["price"]["id"]]


def write_bronze(lake: Path, version: str, observed_at: int) -> None:
    run_id = f"fixtures-{version.replace('.', '-')}"
    objects = fixtures(version)
    lines_by_kind = {kind: [obj] for kind, obj in objects.items() if kind in ENTITIES}
    lines_by_kind["price"] += prices_named_by_invoice_lines(objects)
    for kind, objs in lines_by_kind.items():
        part = lake / (
            f"bronze/source=stripe/entity={ENTITIES[kind]}/dt=2026-11-30/run_id={run_id}"
        )
        part.mkdir(parents=True)
        envelopes = [
            {
                "_run_id": run_id,
                "_loaded_at": "2026-11-30T12:00:00.000000Z",
                "_observed_at": observed_at,
                "_source": "list",
                "_event_id": None,
                "_event_type": None,
                "_api_version": version,
                "data": obj,
            }
            for obj in objs
        ]
        (part / "part-00000.jsonl").write_text("".join(json.dumps(e) + "\n" for e in envelopes))


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stripe_fixtures") / "lake"
    for n, version in enumerate(SHAPES):
        write_bronze(root, version, 1_780_000_000 + n)
    done = run_cli("run-transforms", "--run-id", "fixtures", lake=root, api=None)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return root


def one(lake: Path, entity: str, key: str, object_id: str, columns: str) -> tuple:
    found = rows(f"select {columns} from {silver(lake, entity)} where {key} = '{object_id}'")
    assert len(found) == 1, (entity, object_id, found)
    return found[0]


@pytest.mark.parametrize("version", list(SHAPES))
def test_published_objects_land_in_silver_with_their_values(lake: Path, version: str) -> None:
    objects = fixtures(version)
    customer = objects["customer"]
    assert one(lake, "customers", "customer_id", customer["id"], "email, currency, created_at") == (
        customer["email"],
        customer["currency"],
        _utc(customer["created"]),
    )

    charge = objects["charge"]
    card = charge["payment_method_details"]["card"]
    assert one(
        lake,
        "charges",
        "charge_id",
        charge["id"],
        "amount_minor, currency, status, is_paid, is_captured, payment_intent_id, invoice_id, "
        "card_brand, card_last4, balance_transaction_id",
    ) == (
        charge["amount"],
        charge["currency"],
        charge["status"],
        charge["paid"],
        charge["captured"],
        charge["payment_intent"],
        charge.get("invoice"),  # gone from the current shape: no older version to carry it
        card["brand"],
        card["last4"],
        charge["balance_transaction"],
    )

    intent = objects["payment_intent"]
    assert one(
        lake,
        "payment_intents",
        "payment_intent_id",
        intent["id"],
        "amount_minor, amount_received_minor, status, latest_charge_id, invoice_id",
    ) == (
        intent["amount"],
        intent["amount_received"],
        intent["status"],
        intent["latest_charge"],
        intent.get("invoice"),
    )

    invoice = objects["invoice"]
    parent = invoice.get("parent") or {}
    subscription = (parent.get("subscription_details") or {}).get("subscription")
    taxes = invoice.get("total_taxes")
    assert one(
        lake,
        "invoices",
        "invoice_id",
        invoice["id"],
        "customer_id, status, is_paid, subscription_id, tax_minor, total_minor, "
        "amount_due_minor, amount_paid_minor, charge_id, payment_intent_id",
    ) == (
        invoice["customer"],
        invoice["status"],
        invoice["paid"] if "paid" in invoice else invoice["status"] == "paid",
        invoice["subscription"] if "parent" not in invoice else subscription,
        invoice["tax"]
        if "tax" in invoice
        else (sum(t["amount"] for t in taxes) if taxes else None),
        invoice["total"],
        invoice["amount_due"],
        invoice["amount_paid"],
        invoice.get("charge"),
        invoice.get("payment_intent"),
    )


def test_each_shape_is_the_one_its_version_says(lake: Path) -> None:
    old, new = fixtures("2024-06-20"), fixtures("2026-03-25.dahlia")
    assert {"paid", "charge", "payment_intent", "subscription", "tax"} <= set(old["invoice"])
    assert not {"paid", "charge", "payment_intent", "tax"} & set(new["invoice"])
    assert {"parent", "total_taxes"} <= set(new["invoice"])
    # The current invoice names its subscription only under parent: Silver found it there.
    assert new["invoice"]["parent"]["subscription_details"]["subscription"] == "subscription"
    got = one(lake, "invoices", "invoice_id", new["invoice"]["id"], "subscription_id")
    assert got == ("subscription",)


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize("version", list(SHAPES))
def test_published_billing_objects_land_in_silver_with_their_values(
    lake: Path, version: str
) -> None:
    objects = fixtures(version)
    product = objects["product"]
    assert one(lake, "products", "product_id", product["id"], "name, is_active, updated_at") == (
        product["name"],
        product["active"],
        _utc(product["updated"]),
    )
    price = objects["price"]
    assert one(
        lake,
        "prices",
        "price_id",
        price["id"],
        "product_id, unit_amount_minor, price_type, recurring_interval, "
        "recurring_interval_count, recurring_usage_type, tax_behavior",
    ) == (
        price["product"],
        price["unit_amount"],
        price["type"],
        price["recurring"]["interval"],
        price["recurring"]["interval_count"],
        price["recurring"]["usage_type"],
        price["tax_behavior"],
    )
    coupon = objects["coupon"]
    assert one(
        lake, "coupons", "coupon_id", coupon["id"], "duration, percent_off, amount_off_minor"
    ) == (coupon["duration"], Decimal(str(coupon["percent_off"])), coupon["amount_off"])

    subscription = objects["subscription"]
    items = subscription["items"]["data"]
    # The current shape keeps the period on the items only (2025-03-31.basil).
    period = subscription if "current_period_start" in subscription else items[0]
    got = one(
        lake,
        "subscriptions",
        "subscription_id",
        subscription["id"],
        "customer_id, status, current_period_start, current_period_end, items",
    )
    assert got[:4] == (
        subscription["customer"],
        subscription["status"],
        _utc(period["current_period_start"]),
        _utc(period["current_period_end"]),
    )
    assert json.loads(got[4]) == [
        {"id": i["id"], "price_id": i["price"]["id"], "quantity": i["quantity"]} for i in items
    ]

    # The invoice embeds all its lines: they are its line items, read in either shape.
    invoice = objects["invoice"]
    (line,) = invoice["lines"]["data"]
    parent = line.get("parent") or {}
    details = parent.get(parent.get("type") or "", {})  # the details the type names
    assert one(
        lake,
        "invoice_line_items",
        "line_item_id",
        line["id"],
        "invoice_id, line_type, is_proration, price_id, subscription_id, amount_minor, quantity",
    ) == (
        invoice["id"],
        line.get("type") or {"invoice_item_details": "invoiceitem"}[parent["type"]],
        line["proration"] if "proration" in line else details["proration"],
        (line.get("price") or {}).get("id"),
        line.get("subscription") or details.get("subscription"),
        line["amount"],
        line["quantity"],
    )
    assert one(
        lake, "invoices", "invoice_id", invoice["id"], "lines_has_more, lines_embedded_count"
    ) == (False, 1)
