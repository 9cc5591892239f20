"""The dlt peer: dlt's generic REST API source pulling the same resources into local files.

    bench/.venv-dlt/bin/python bench/dlt_peer.py --api-base URL --gte T0 --lt T1 --out DIR

Runs in its own virtualenv (`bench/.venv-dlt`, made by `make bench`) so dlt and its
dependencies never touch the project's pinned ones; it imports nothing from this repo.
Resources: customers, charges, payment_intents, invoices over `created[gte]..created[lt]`, and
the events feed read with the same four `type` filters as the extractor, all at limit=100.
Stripe pagination (`starting_after` = last id while `has_more`) is a small paginator class;
everything else is dlt's defaults: its normaliser, and the filesystem destination writing
jsonl to a local folder. `--parallelized` lets dlt extract the resources concurrently
(its documented option). Prints one JSON object with the top-level row counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402
from dlt.sources.helpers.rest_client.paginators import BasePaginator  # noqa: E402
from dlt.sources.rest_api import rest_api_source  # noqa: E402

ENTITIES = ("customers", "charges", "payment_intents", "invoices")
EVENT_TYPES = ("customer.*", "charge.*", "payment_intent.*", "invoice.*")


class StripeListPaginator(BasePaginator):
    """`starting_after=<last id>` while the page says `has_more`."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor: str | None = None

    def update_state(self, response, data=None) -> None:
        body = response.json()
        items = body.get("data") or []
        self._has_next_page = bool(body.get("has_more")) and bool(items)
        self.cursor = items[-1]["id"] if items else None

    def update_request(self, request) -> None:
        if request.params is None:
            request.params = {}
        request.params["starting_after"] = self.cursor


def source_config(api_base: str, key: str, gte: int, lt: int) -> dict:
    window = {"limit": 100, "created[gte]": gte, "created[lt]": lt}
    resources = [
        {
            "name": name,
            "endpoint": {
                "path": f"v1/{name}",
                "params": dict(window),
                "data_selector": "data",
                "paginator": StripeListPaginator(),
            },
        }
        for name in ENTITIES
    ]
    for n, event_type in enumerate(EVENT_TYPES):
        resources.append(
            {
                "name": f"events_{n}",
                "table_name": "events",
                "endpoint": {
                    "path": "v1/events",
                    "params": {**window, "type": event_type},
                    "data_selector": "data",
                    "paginator": StripeListPaginator(),
                },
            }
        )
    return {
        "client": {
            "base_url": api_base.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": key},
        },
        "resource_defaults": {"write_disposition": "append"},
        "resources": resources,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--api-key", default="sk_test_mock_payments_pipeline")
    parser.add_argument("--gte", type=int, required=True)
    parser.add_argument("--lt", type=int, required=True)
    parser.add_argument("--out", required=True, help="local folder for the jsonl files")
    parser.add_argument("--parallelized", action="store_true")
    args = parser.parse_args()

    source = rest_api_source(
        source_config(args.api_base, args.api_key, args.gte, args.lt),
        parallelized=args.parallelized,
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_dlt_peer",
        pipelines_dir=os.path.join(args.out, "_pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=os.path.join(args.out, "files")),
        dataset_name="stripe",
    )
    started = time.perf_counter()
    pipeline.run(source, loader_file_format="jsonl")
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    top = {name: int(counts.get(name, 0)) for name in (*ENTITIES, "events")}
    print(
        json.dumps(
            {
                "dlt_version": dlt.__version__,
                "records": sum(top.values()),
                "by_table": top,
                "all_tables": {k: int(v) for k, v in counts.items()},
                "pipeline_seconds": round(seconds, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
