"""Stripe's published OpenAPI schemas for the objects the mock serves (vendored, MIT: LICENSE).

`schemas.json.gz` is trimmed from Stripe's spec by `trim.py`; README.md says from which
commit and API version. The mock's /openapi.json and the conformance tests read it.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS_PATH = Path(__file__).with_name("schemas.json.gz")
FIXTURES_PATH = Path(__file__).with_name("fixtures.json.gz")


@cache
def _load() -> dict[str, Any]:
    return json.loads(gzip.decompress(SCHEMAS_PATH.read_bytes()))


def stripe_schemas() -> dict[str, Any]:
    """components.schemas of the trimmed spec (shared: do not mutate)."""
    return _load()["schemas"]


def newer_version_changes() -> dict[str, Any]:
    """What API version 2024-06-20 changed in the 2023-08-16 schemas: {"api_version",
    "added": {schema: fields}, "removed": {schema: required fields it dropped}}."""
    return _load()["x-newer-version"]


def stripe_fixtures() -> dict[str, dict]:
    """Stripe's own example objects of API version 2024-06-20, by schema name."""
    return json.loads(gzip.decompress(FIXTURES_PATH.read_bytes()))["resources"]


def validator():
    """A `SchemaValidator` of the vendored schemas, with the 2024-06-20 additions."""
    from mock_api.stripe_spec.validate import SchemaValidator

    return SchemaValidator(stripe_schemas(), newer_version_changes())


def spec_version() -> str:
    """The API version of the spec the schemas come from (2023-08-16)."""
    return _load()["info"]["version"]
