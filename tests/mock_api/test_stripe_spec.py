"""The vendored Stripe spec and the validator the conformance tests rely on.

Stripe's own 2024-06-20 objects pass; each kind of defect the conformance tests look for
fails with a message naming the field.
"""

from __future__ import annotations

import copy
import gzip
import json

import pytest

from mock_api.stripe_spec import (
    SCHEMAS_PATH,
    spec_version,
    stripe_fixtures,
    stripe_schemas,
    validator,
)
from mock_api.stripe_spec.trim import ROOTS, trim, write


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        return own.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_the_vendored_spec_is_complete_and_licensed() -> None:
    schemas = stripe_schemas()
    assert spec_version() == "2023-08-16"
    assert set(ROOTS) <= set(schemas)
    assert _refs(schemas) <= set(schemas), "a $ref does not resolve: rerun trim.py"
    licence = (SCHEMAS_PATH.parent / "LICENSE").read_text()
    assert "MIT License" in licence and "Stripe, Inc." in licence
    # Doc strings are trimmed, properties named `description` are not.
    assert "description" in schemas["tax_rate"]["properties"]
    assert "description" in schemas["line_item"]["properties"]


@pytest.mark.parametrize("name", sorted(stripe_fixtures()))
def test_stripes_own_objects_conform(name: str) -> None:
    report = validator().validate(stripe_fixtures()[name], name)
    assert report.errors == []


def _charge() -> dict:
    return copy.deepcopy(stripe_fixtures()["charge"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.pop("amount"), "$: required field 'amount' is missing"),
        (lambda c: c.update(amount="100"), "$.amount: expected integer, got str"),
        (lambda c: c.update(amount=True), "$.amount: expected integer, got bool"),
        (lambda c: c.update(status="done"), "$.status: 'done' is not one of"),
        (lambda c: c.update(destination=None), "$: field 'destination' is not in the spec"),
        (lambda c: c.update(billing_details=None), "$.billing_details: null is not allowed"),
        (lambda c: c.update(customer=5), "$.customer: matches no anyOf branch"),
        (
            lambda c: c["refunds"].update(total_count=0),
            "$.refunds: field 'total_count' is not in the spec",
        ),
        (lambda c: c["metadata"].update(order=1), "$.metadata.order: expected string, got int"),
        (
            lambda c: c["payment_method_details"]["card"].update(exp_month="8"),
            "$.payment_method_details.card.exp_month: expected integer, got str",
        ),
    ],
)
def test_each_defect_fails_naming_the_field(mutate, message: str) -> None:
    charge = _charge()
    mutate(charge)
    errors = validator().validate(charge, "charge").errors
    assert any(message in error for error in errors), errors


def test_the_known_gaps_of_the_old_mock_fail() -> None:
    spec = validator()
    invoice = copy.deepcopy(stripe_fixtures()["invoice"])
    for field in ("payment_settings", "default_tax_rates", "total_tax_amounts"):
        invoice.pop(field)
    errors = spec.validate(invoice, "invoice").errors
    assert len([e for e in errors if "required field" in e]) == 3, errors
    intent = copy.deepcopy(stripe_fixtures()["payment_intent"])
    intent["last_payment_error"] = {
        "type": "card_error",
        "decline_code": None,
        "payment_method": {"id": "pm_1", "object": "payment_method", "type": "card"},
    }
    errors = spec.validate(intent, "payment_intent").errors
    assert "decline_code: null is not allowed" in errors[0]
    assert "payment_method: required field 'created' is missing" in errors[0]
    dispute = copy.deepcopy(stripe_fixtures()["dispute"])
    dispute.pop("evidence")
    assert spec.validate(dispute, "dispute").errors == ["$: required field 'evidence' is missing"]


def test_previous_attributes_are_checked_as_a_partial_object() -> None:
    spec = validator()
    # Only the changed keys; a metadata key that did not exist before is null.
    assert spec.validate({"metadata": {"ticket": None}}, "charge", partial=True).errors == []
    errors = spec.validate({"amount": None, "paid": "yes"}, "charge", partial=True).errors
    assert errors == ["$.amount: null is not allowed", "$.paid: expected boolean, got str"]
    assert spec.validate({"colour": "red"}, "charge", partial=True).errors


def test_expandable_ids_are_reported_with_their_resources() -> None:
    report = validator().validate({**_charge(), "customer": "cus_1"}, "charge")
    found = {ref.path: ref.resources for ref in report.expandable_ids}
    assert found["$.customer"] == ("customer", "deleted_customer")
    assert found["$.balance_transaction"] == ("balance_transaction",)


def test_trim_keeps_the_ref_closure_and_is_deterministic(tmp_path) -> None:
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "v"},
        "components": {
            "schemas": {
                "a": {
                    "description": "kept",
                    "properties": {
                        "b": {"$ref": "#/components/schemas/b", "description": "kept too"}
                    },
                },
                "b": {
                    "description": "dropped",
                    "properties": {"c": {"$ref": "#/components/schemas/c"}},
                },
                "c": {"type": "string"},
                "unrelated": {"type": "string"},
            }
        },
    }
    out = trim(spec, ("a",))
    assert sorted(out["schemas"]) == ["a", "b", "c"]
    assert out["schemas"]["a"]["description"] == "kept"
    assert out["schemas"]["a"]["properties"]["b"]["description"] == "kept too"
    assert "description" not in out["schemas"]["b"]
    write(out, tmp_path / "one.gz")
    write(trim(spec, ("a",)), tmp_path / "two.gz")
    assert (tmp_path / "one.gz").read_bytes() == (tmp_path / "two.gz").read_bytes()
    assert json.loads(gzip.decompress((tmp_path / "one.gz").read_bytes())) == out
    with pytest.raises(SystemExit, match="missing_root"):
        trim(spec, ("missing_root",))
