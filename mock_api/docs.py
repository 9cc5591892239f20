"""The mock's OpenAPI description and a human-readable page that needs no CDN."""

from __future__ import annotations

from typing import Any

from mock_api.dataset import API_VERSION, EVENT_TYPES, RESOURCES

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


def openapi_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for resource in (*RESOURCES, "events"):
        params = list(_LIST_PARAMS)
        if resource in ("charges", "payment_intents", "invoices"):
            params.append({"name": "customer", "in": "query", "schema": {"type": "string"}})
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
        paths[f"/v1/{resource}"] = {
            "get": {
                "summary": f"List {resource}, newest first",
                "parameters": params,
                "responses": {
                    "200": {"description": "a Stripe list object"},
                    "400": {"description": "invalid request"},
                    "401": {"description": "bad API key"},
                    "429": {"description": "rate limited"},
                },
            }
        }
        paths[f"/v1/{resource}/{{id}}"] = {
            "get": {
                "summary": f"Retrieve one of {resource}",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "the object"},
                    "404": {"description": "resource_missing"},
                },
            }
        }
    paths["/health"] = {"get": {"summary": "liveness", "responses": {"200": {"description": "ok"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "payments-pipeline mock Stripe API", "version": API_VERSION},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            }
        },
        "security": [{"bearer": []}, {"basic": []}],
        "paths": paths,
    }


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mock Stripe API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em}
code,pre{background:#f4f4f4;padding:0 .3em}</style></head><body>
<h1>Mock Stripe API</h1>
<p>A deterministic, Stripe-compatible API for the payments pipeline. Data is a pure function of
<code>MOCK_SEED</code>, <code>MOCK_START_DATE</code> and <code>MOCK_VOLUME</code> (charges per day).
The machine-readable description is at <a href="/openapi.json">/openapi.json</a>.</p>
<h2>Endpoints</h2>
<ul>
<li><code>GET /v1/customers|charges|payment_intents|invoices|events</code>: lists, newest first;
<code>limit</code> 1-100, <code>starting_after</code> / <code>ending_before</code>, <code>created</code>
and <code>created[gt|gte|lt|lte]</code>, <code>customer=</code>, <code>expand[]=data.customer</code>;
events also take <code>type</code> (wildcards such as <code>charge.*</code>) and <code>types[]</code>.</li>
<li><code>GET /v1/&lt;resource&gt;/&lt;id&gt;</code>: one object as of the mock's now.</li>
<li>Auth: <code>Authorization: Bearer sk_test_...</code> or basic auth with the key as user name.</li>
</ul>
<h2>Control (tests and benchmarks)</h2>
<ul>
<li><code>POST /_mock/clock</code> <code>{"now": unix}</code> or <code>{"advance": seconds}</code></li>
<li><code>POST /_mock/faults</code> rate limit, error rate, latency, truncated/malformed bodies,
dropped connections, scripted faults on the n-th request of a path</li>
<li><code>GET /_mock/requests</code>: the request log, without the Authorization header</li>
</ul>
<p>Try: <code>curl -u sk_test_x: 'http://127.0.0.1:8000/v1/charges?limit=3'</code></p>
</body></html>
"""
