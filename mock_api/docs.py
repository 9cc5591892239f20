"""The mock's OpenAPI description, in Stripe's own schemas, and its Swagger UI page.

/openapi.json's paths reference Stripe's component schemas (vendored in
`mock_api.stripe_spec`), so it describes objects exactly as the conformance tests check
them. /docs is Swagger UI from the `swagger-ui-bundle` package, served by the mock itself:
the page loads nothing from another host.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from swagger_ui_bundle import swagger_ui_path

from mock_api.dataset import API_VERSION, EVENT_TYPES, OBJECT_NAME, RESOURCES
from mock_api.dataset.subscriptions import LIST_STATUSES
from mock_api.stripe_spec import spec_version, stripe_schemas

_SCHEMA = "#/components/schemas/"

_LIST_PARAMS: list[dict[str, Any]] = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    },
    {"name": "starting_after", "in": "query", "schema": {"type": "string"}},
    {"name": "ending_before", "in": "query", "schema": {"type": "string"}},
    {
        "name": "created",
        "in": "query",
        "schema": {"type": "integer"},
        "description": "exact unix second",
    },
    *[
        {"name": f"created[{op}]", "in": "query", "schema": {"type": "integer"}}
        for op in ("gt", "gte", "lt", "lte")
    ],
    {
        "name": "expand[]",
        "in": "query",
        "schema": {"type": "string"},
        "description": "e.g. data.customer",
    },
]


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list_schema(resource: str, item: dict[str, Any]) -> dict[str, Any]:
    """A page of a list, shaped as Stripe's spec describes its list responses."""
    return {
        "type": "object",
        "required": ["data", "has_more", "object", "url"],
        "properties": {
            "data": {"type": "array", "items": item},
            "has_more": {"type": "boolean"},
            "object": {"type": "string", "enum": ["list"]},
            "url": {"type": "string", "pattern": f"^/v1/{resource}"},
        },
    }


def item_schema(resource: str) -> dict[str, Any]:
    """The Stripe component schema of one object of `resource` (events: `event`)."""
    return {"$ref": f"{_SCHEMA}{OBJECT_NAME.get(resource, 'event')}"}


def _errors(*statuses: str) -> dict[str, Any]:
    described = {
        "400": "invalid request",
        "401": "bad API key",
        "404": "resource_missing",
        "429": "rate limited",
    }
    error = {"$ref": f"{_SCHEMA}error"}
    return {status: _json_response(described[status], error) for status in statuses}


def _ledger_paths() -> dict[str, Any]:
    """/v1/balance_transactions (its own filters) and /v1/balance: not registry resources."""
    txn = {"$ref": f"{_SCHEMA}balance_transaction"}
    filters = [
        {"name": name, "in": "query", "schema": {"type": "string"}, "description": text}
        for name, text in (
            ("type", "charge, payment, refund, adjustment, payout, payout_failure"),
            ("payout", "po_...: the transactions that payout paid out"),
            ("currency", "usd or eur (the settlement currency)"),
        )
    ]

    def get(operation: str, summary: str, params: list, schema: dict, errors: tuple) -> dict:
        return {
            "get": {
                "operationId": operation,
                "summary": summary,
                "tags": ["ledger"],
                "parameters": params,
                "responses": {"200": _json_response(summary, schema), **_errors(*errors)},
            }
        }

    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/v1/balance_transactions": get(
            "ListBalanceTransactions",
            "List balance transactions, newest first",
            [*_LIST_PARAMS, *filters],
            _list_schema("balance_transactions", txn),
            ("400", "401", "429"),
        ),
        "/v1/balance_transactions/{id}": get(
            "RetrieveBalanceTransactions",
            "Retrieve one balance transaction, as of the mock's now",
            [id_param],
            txn,
            ("401", "404"),
        ),
        "/v1/balance": get(
            "RetrieveBalance",
            "The balance (available and pending per settlement currency) at the mock's now",
            [],
            {"$ref": f"{_SCHEMA}balance"},
            ("401",),
        ),
    }


def openapi_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for resource in (*RESOURCES, "events"):
        params = list(_LIST_PARAMS)
        if resource in ("charges", "payment_intents", "invoices"):
            params.append({"name": "customer", "in": "query", "schema": {"type": "string"}})
        if resource == "subscriptions":
            params.append(
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": list(LIST_STATUSES)},
                    "description": "none: every subscription but canceled ones (Stripe's default)",
                }
            )
        if resource == "events":
            params += [
                {
                    "name": "type",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "wildcards: charge.*",
                },
                {
                    "name": "types[]",
                    "in": "query",
                    "schema": {"type": "string", "enum": list(EVENT_TYPES)},
                },
            ]
        item = item_schema(resource)
        # A deleted customer retrieves as a stub, as in Stripe's own spec of this path.
        one = (
            {"anyOf": [item, {"$ref": f"{_SCHEMA}deleted_customer"}]}
            if resource == "customers"
            else item
        )
        paths[f"/v1/{resource}"] = {
            "get": {
                "operationId": f"List{resource.title().replace('_', '')}",
                "summary": f"List {resource}, newest first",
                "tags": [resource],
                "parameters": params,
                "responses": {
                    "200": _json_response("a page of the list", _list_schema(resource, item)),
                    **_errors("400", "401", "429"),
                },
            }
        }
        paths[f"/v1/{resource}/{{id}}"] = {
            "get": {
                "operationId": f"Retrieve{resource.title().replace('_', '')}",
                "summary": f"Retrieve one of {resource}, as of the mock's now",
                "tags": [resource],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json_response("the object", one),
                    **_errors("401", "404"),
                },
            }
        }
    paths.update(_ledger_paths())
    paths["/health"] = {
        "get": {
            "operationId": "Health",
            "summary": "liveness",
            "tags": ["mock"],
            "responses": {"200": {"description": "ok"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "payments-pipeline mock Stripe API",
            "version": API_VERSION,
            "description": _DESCRIPTION.format(spec_version=spec_version()),
        },
        "components": {
            "schemas": stripe_schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
        "security": [{"bearer": []}, {"basic": []}],
        "paths": paths,
    }


_DESCRIPTION = """A deterministic, Stripe-compatible API for the payments pipeline. Data is a pure
function of `MOCK_SEED`, `MOCK_START_DATE` and `MOCK_VOLUME` (charges per day).

Objects are described with **Stripe's own component schemas** (Stripe's published OpenAPI
spec, API version {spec_version}, MIT licence; the mock renders API version 2024-06-20, whose
additions come from Stripe's fixture objects): see `docs/mock_api.md`.

* Lists: `limit` 1-100, `starting_after` / `ending_before`, `created` and
  `created[gt|gte|lt|lte]`, `customer=`, `expand[]=data.customer`; events also take `type`
  (wildcards such as `charge.*`) and `types[]`; balance transactions take `type`, `currency`
  and `payout=po_...` (what that payout paid out).
* The ledger: balance transactions, refunds, disputes, payouts and `/v1/balance`, with fees,
  exchange rates and payouts that add up (rules in `docs/mock_api.md`, "The ledger").
* Auth: `Authorization: Bearer sk_test_...` or basic auth with the key as user name.
* Control (tests and benchmarks, no auth): `POST /_mock/clock` `{{"now": unix}}` or
  `{{"advance": seconds}}`; `POST /_mock/faults` (rate limit, error rate, latency,
  truncated/malformed bodies, dropped connections, scripted faults); `GET /_mock/requests`.
"""

# Swagger UI's files, from the pip package; /docs/assets/<name> serves exactly these.
ASSETS_DIR = Path(swagger_ui_path)
DOCS_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")


def docs_asset(name: str) -> tuple[bytes, str] | None:
    """(body, content type) of one Swagger UI file, or None if it is not one we serve."""
    if name not in DOCS_ASSETS:
        return None
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return (ASSETS_DIR / name).read_bytes(), mimetype


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mock Stripe API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head><body>
<div id="swagger-ui"></div>
<noscript>Swagger UI needs JavaScript; the description itself is at
<a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
// validatorUrl null: Swagger UI would otherwise fetch a badge from validator.swagger.io.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  defaultModelsExpandDepth: 0,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
</script>
</body></html>
"""
