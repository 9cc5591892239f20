"""A small validator of JSON values against OpenAPI 3.0 component schemas (Stripe's spec).

It checks what Stripe's spec states: `$ref`, `anyOf`, `nullable`, `type`, `enum`, `required`,
`properties` (a key the schema does not list is an error unless `additionalProperties` allows
it), `additionalProperties`, `items` and `maxLength`. `x-expansionResources` marks an
expandable field: a string there is an id of one of those resources, and the validator
collects it so that a test can check the id refers to the right kind of object.

`newer` says what a newer API version changed: {"added": {schema: fields}, "removed":
{schema: fields}}. The spec is 2023-08-16, the mock renders 2024-06-20, and `trim.py`
derives these from Stripe's 2024-06-20 fixture objects. An added field is known (its value
unchecked); a removed field is no longer required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True)
class FieldAt:
    """A field the spec does not list, or a required one that is missing: where, and in
    which named schema (None: an inline one)."""

    path: str
    schema: str | None
    field: str


@dataclass(frozen=True)
class ExpandableId:
    """An id in an expandable field, and the resource schemas it may refer to."""

    path: str
    id: str
    resources: tuple[str, ...]


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    unknown: list[FieldAt] = field(default_factory=list)
    missing: list[FieldAt] = field(default_factory=list)
    expandable_ids: list[ExpandableId] = field(default_factory=list)

    def absorb(self, other: Report) -> None:
        self.errors += other.errors
        self.unknown += other.unknown
        self.missing += other.missing
        self.expandable_ids += other.expandable_ids


def ref_name(ref: str) -> str:
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise ValueError(f"only local component refs are supported, got {ref!r}")
    return ref[len(prefix) :]


class SchemaValidator:
    """Validate values against `components.schemas` of one spec."""

    def __init__(self, schemas: dict[str, Any], newer: dict[str, Any] | None = None) -> None:
        self.schemas = schemas
        newer = newer or {}
        self.added = {name: set(fields) for name, fields in newer.get("added", {}).items()}
        self.removed = {name: set(fields) for name, fields in newer.get("removed", {}).items()}

    def validate(self, value: Any, schema_name: str, *, partial: bool = False) -> Report:
        """Check `value` against the named schema. `partial`: required keys may be missing
        (Stripe's `previous_attributes` holds only the keys that changed, and null for a map
        key such as a metadata key that did not exist before)."""
        if schema_name not in self.schemas:
            raise KeyError(f"schema {schema_name!r} is not in the spec (trim it in)")
        report = Report()
        self._check(value, {"$ref": f"#/components/schemas/{schema_name}"}, "$", partial, report)
        return report

    def _resolve(self, schema: dict) -> tuple[dict, str | None]:
        name = None
        while "$ref" in schema:
            name = ref_name(schema["$ref"])
            if name not in self.schemas:
                raise KeyError(f"schema {name!r} is not in the spec (trim it in)")
            schema = self.schemas[name]
        return schema, name

    def _check(self, value: Any, schema: dict, path: str, partial: bool, report: Report) -> None:
        nullable = schema.get("nullable", False)
        schema, name = self._resolve(schema)
        nullable = nullable or schema.get("nullable", False)
        if value is None:
            if not nullable:
                report.errors.append(f"{path}: null is not allowed")
            return
        if "anyOf" in schema:
            self._any_of(value, schema["anyOf"], path, partial, report)
            return
        if "enum" in schema and value not in schema["enum"]:
            report.errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
            return
        kind = schema.get("type")
        if kind is not None and not _is_type(value, kind):
            report.errors.append(f"{path}: expected {kind}, got {type(value).__name__}")
            return
        if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
            report.errors.append(f"{path}: longer than maxLength {schema['maxLength']}")
        if isinstance(value, list) and "items" in schema:
            for n, item in enumerate(value):
                self._check(item, schema["items"], f"{path}[{n}]", partial, report)
        if isinstance(value, dict):
            self._object(value, schema, name, path, partial, report)

    def _any_of(self, value: Any, branches: list, path: str, partial: bool, report: Report) -> None:
        attempts = []
        for branch in branches:
            attempt = Report()
            self._check(value, branch, path, partial, attempt)
            if not attempt.errors:
                report.absorb(attempt)
                return
            attempts.append(attempt)
        closest = min(attempts, key=lambda attempt: len(attempt.errors))
        report.errors.append(
            f"{path}: matches no anyOf branch; closest: " + "; ".join(closest.errors)
        )
        report.unknown += closest.unknown
        report.missing += closest.missing

    def _object(
        self, value: dict, schema: dict, name: str | None, path: str, partial: bool, report: Report
    ) -> None:
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        added = self.added.get(name or "", set())
        if not partial:
            removed = self.removed.get(name or "", set())
            for key in schema.get("required", []):
                if key not in value and key not in removed:
                    report.errors.append(f"{path}: required field {key!r} is missing")
                    report.missing.append(FieldAt(f"{path}.{key}", name, key))
        for key, item in value.items():
            item_path = f"{path}.{key}"
            if properties is not None and key in properties:
                prop = properties[key]
                if isinstance(item, str) and "x-expansionResources" in prop:
                    targets = tuple(
                        ref_name(r["$ref"]) for r in prop["x-expansionResources"]["oneOf"]
                    )
                    report.expandable_ids.append(ExpandableId(item_path, item, targets))
                self._check(item, prop, item_path, partial, report)
            elif key in added:
                continue
            elif isinstance(extra, dict):
                if not (partial and item is None):
                    self._check(item, extra, item_path, partial, report)
            elif properties is not None or extra is False:
                report.errors.append(f"{path}: field {key!r} is not in the spec")
                report.unknown.append(FieldAt(item_path, name, key))


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])
