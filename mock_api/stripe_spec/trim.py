"""Regenerate `schemas.json.gz` and `fixtures.json.gz` from Stripe's spec (see README.md).

    python -m mock_api.stripe_spec.trim SPEC FIXTURES [extra_schema ...]

SPEC is Stripe's spec3.json(.gz); FIXTURES is its fixtures3.json of the mock's pinned API
version (2024-06-20). Keeps the root schemas below and every schema they `$ref`,
transitively, so every ref resolves. Descriptions are kept on the roots and their
properties (the /docs page shows them) and dropped elsewhere, which keeps the file small.
`x-newer-version` lists, per schema, the fields Stripe's fixture objects have that the older
spec does not (`added`) and the required fields they no longer have (`removed`): what later
API versions changed. The output is deterministic.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

from mock_api.stripe_spec.validate import SchemaValidator

# What the mock serves, and what the ledger and billing issues will add: a new resource's
# schema is usually already here (the closure is shared); if not, add it and rerun.
ROOTS = (
    "charge",
    "customer",
    "deleted_customer",
    "dispute",
    "error",
    "event",
    "invoice",
    "payment_intent",
    "payment_method",
    "refund",
    "balance_transaction",
    "coupon",
    "invoiceitem",
    "line_item",
    "payout",
    "price",
    "product",
    "subscription",
)
OUTPUT = Path(__file__).with_name("schemas.json.gz")
FIXTURES_OUTPUT = Path(__file__).with_name("fixtures.json.gz")
# The shape of the fixture objects: the mock's pinned version (mock_api.dataset.API_VERSION).
FIXTURES_API_VERSION = "2024-06-20"


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.add(node["$ref"].rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _without_descriptions(node: Any, names: bool = False) -> Any:
    """The schema without its doc strings. `names`: node maps property names to schemas, so
    a property called `description` (a tax rate's, an invoice's) stays."""
    if isinstance(node, dict):
        return {
            k: _without_descriptions(v, names=k == "properties" and not names)
            for k, v in node.items()
            if names or k != "description"
        }
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


def _described_root(schema: dict) -> dict:
    """A root keeps its own and its properties' descriptions, nothing deeper."""
    out = {k: _without_descriptions(v) for k, v in schema.items() if k != "properties"}
    if "description" in schema:
        out["description"] = schema["description"]
    if "properties" in schema:
        out["properties"] = {}
        for name, prop in schema["properties"].items():
            out["properties"][name] = _without_descriptions(prop)
            if "description" in prop:
                out["properties"][name]["description"] = prop["description"]
    return out


def trim(spec: dict, roots: tuple[str, ...] = ROOTS) -> dict:
    schemas = spec["components"]["schemas"]
    missing = [name for name in roots if name not in schemas]
    if missing:
        raise SystemExit(f"not in the spec's components.schemas: {', '.join(missing)}")
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo += sorted(_refs(schemas[name]) - keep)
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "roots": sorted(roots),
        "schemas": {
            name: _described_root(schemas[name])
            if name in roots
            else _without_descriptions(schemas[name])
            for name in sorted(keep)
        },
    }


def changes(schemas: dict, fixtures: dict[str, dict]) -> dict[str, dict[str, list[str]]]:
    """What the (newer) fixture objects add to the spec's schemas and which required fields
    they drop, per schema: {"added": {schema: fields}, "removed": {schema: fields}}."""
    added: dict[str, set[str]] = {}
    removed: dict[str, set[str]] = {}
    validator = SchemaValidator(schemas)
    for name, obj in fixtures.items():
        report = validator.validate(obj, name)
        for unknown in report.unknown:
            if unknown.schema is None:
                raise SystemExit(f"{name}: {unknown.path} is new in an inline schema")
            added.setdefault(unknown.schema, set()).add(unknown.field)
        for missing in report.missing:
            if missing.schema is None:
                raise SystemExit(f"{name}: {missing.path} is dropped from an inline schema")
            removed.setdefault(missing.schema, set()).add(missing.field)
        if len(report.errors) > len(report.unknown) + len(report.missing):
            raise SystemExit(f"{name}: the fixture fails the spec: {report.errors}")
    return {
        kind: {schema: sorted(fields) for schema, fields in sorted(found.items())}
        for kind, found in (("added", added), ("removed", removed))
    }


def write(data: dict, path: Path) -> None:
    body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    # mtime=0: the same input gives the same bytes, so a regeneration diffs cleanly.
    path.write_bytes(gzip.compress(body, compresslevel=9, mtime=0))


def _read(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read {path}: {exc}") from None


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    spec, fixtures = _read(Path(argv[0])), _read(Path(argv[1]))["resources"]
    trimmed = trim(spec, ROOTS + tuple(argv[2:]))
    kept = {name: fixtures[name] for name in trimmed["roots"] if name in fixtures}
    trimmed["x-newer-version"] = {
        "api_version": FIXTURES_API_VERSION,
        **changes(trimmed["schemas"], kept),
    }
    write(trimmed, OUTPUT)
    write({"resources": kept}, FIXTURES_OUTPUT)
    print(f"{OUTPUT}: {len(trimmed['schemas'])} schemas, API version {trimmed['info']['version']}")
    print(f"{FIXTURES_OUTPUT}: {len(kept)} fixture objects")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
