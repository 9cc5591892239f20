"""Byte-identity of two mock API trees: every response of one equals the other's, byte for byte.

    .venv/bin/python bench/mock_identity.py --old /path/to/main [--new .] [--ports 8950 8951]
        [--volume 200] [--max-pages 0] [--versions 2024-06-20 2025-03-31.basil]

The mock is the spec of Stripe's behaviour for the whole project, so a change that only
makes it faster must not change one byte it serves. This starts `python -m mock_api serve`
from each tree (its own directory on PYTHONPATH) on the two ports, with the same MOCK_NOW,
MOCK_VOLUME and seed and the page cache off (every page rendered), and asks both the same
requests: full paginated listings (`limit=100`, `starting_after` from the old side's page)
of every list the extractor reads (`extractor/streams.py`: subscriptions with `status=all`
and `expand[]=data.discounts`, the events feed, invoice lines of invoices whose embedded
lines have more, balance transactions per payout), a `created` window paged both ways, a
sample of retrieves and the balance, once per `Stripe-Version`. `--max-pages` caps each
listing (0: no cap), for large volumes. Status, Content-Type and body must be equal; the Date
header is the clock's and is equal too with MOCK_NOW set. Exits 1 on the first difference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
KEY = "sk_test_identity"
MOCK_NOW = "2026-02-01T00:00:00Z"
MOCK_NOW_TS = 1769904000
DAY = 86_400
LISTS = (
    ("customers", ()),
    ("charges", ()),
    ("payment_intents", ()),
    ("invoices", ()),
    ("balance_transactions", ()),
    ("refunds", ()),
    ("disputes", ()),
    ("payouts", ()),
    ("products", ()),
    ("prices", ()),
    ("coupons", ()),
    ("subscriptions", (("status", "all"), ("expand[]", "data.discounts"))),
    ("events", ()),
)
RETRIEVE_EVERY = 97  # every n-th object of each list is also retrieved


def start(tree: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    full = {**os.environ, **env, "PYTHONPATH": str(tree)}
    log = open(f"/tmp/mock-identity-{port}.log", "wb")  # noqa: SIM115 (the child keeps it)
    cmd = [sys.executable, "-m", "mock_api", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(cmd, cwd=tree, env=full, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mock from {tree} exited: see /tmp/mock-identity-{port}.log")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"mock from {tree} did not answer on {port}")


class Compare:
    def __init__(self, old_port: int, new_port: int) -> None:
        self.ports = (old_port, new_port)
        self.responses = 0
        self.bytes = 0

    def get(self, path: str, params: list[tuple[str, str]], version: str) -> tuple[int, bytes]:
        """GET from both; raises SystemExit on a difference; (status, body)."""
        query = f"?{urlencode(params)}" if params else ""
        answers = []
        for port in self.ports:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}{query}",
                headers={"Authorization": f"Bearer {KEY}", "Stripe-Version": version},
            )
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    answers.append(
                        (response.status, response.headers.get("Content-Type"), response.read())
                    )
            except urllib.error.HTTPError as exc:
                answers.append((exc.code, exc.headers.get("Content-Type"), exc.read()))
        if answers[0] != answers[1]:
            print(f"DIFFERENT: {path}{query} (Stripe-Version {version})")
            for label, (status, ctype, body) in zip(("old", "new"), answers, strict=True):
                print(f"  {label}: {status} {ctype} {len(body)} bytes: {body[:300]!r}")
            raise SystemExit(1)
        self.responses += 1
        self.bytes += len(answers[0][2])
        return answers[0][0], answers[0][2]

    def listing(
        self,
        path: str,
        params: tuple | list,
        version: str,
        max_pages: int,
        backwards_from: str | None = None,
    ) -> list[dict]:
        """Every object of a list (pages compared on the way); ending_before walks up."""
        import json

        out: list[dict] = []
        cursor = backwards_from
        pages = 0
        while True:
            query = [("limit", "100"), *params]
            if cursor:
                query.append(("ending_before" if backwards_from else "starting_after", cursor))
            status, body = self.get(path, query, version)
            if status != 200:
                return out
            page = json.loads(body)
            out.extend(page["data"])
            pages += 1
            if not page["has_more"] or not page["data"] or (max_pages and pages >= max_pages):
                return out
            cursor = page["data"][0 if backwards_from else -1]["id"]


def run(compare: Compare, version: str, max_pages: int) -> None:
    for resource, params in LISTS:
        started = time.perf_counter()
        before = compare.responses
        objects = compare.listing(f"/v1/{resource}", params, version, max_pages)
        for obj in objects[::RETRIEVE_EVERY]:
            compare.get(f"/v1/{resource}/{obj['id']}", [], version)
            if resource in ("charges", "invoices", "payment_intents"):
                expand = {"charges": "customer", "invoices": "customer"}.get(resource, "customer")
                compare.get(f"/v1/{resource}/{obj['id']}", [("expand[]", expand)], version)
        if resource == "invoices":
            for invoice in objects:
                lines = invoice.get("lines")
                if isinstance(lines, dict) and lines.get("has_more"):
                    compare.listing(f"/v1/invoices/{invoice['id']}/lines", (), version, max_pages)
        if resource == "payouts":
            for payout in objects[:25]:
                compare.listing(
                    "/v1/balance_transactions", (("payout", payout["id"]),), version, max_pages
                )
        print(
            f"  {version} {resource}: {len(objects)} objects, "
            f"{compare.responses - before} responses, {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    # A created window (the extractor's incremental read), paged down and then back up.
    window = (
        ("created[gte]", str(MOCK_NOW_TS - 4 * DAY)),
        ("created[lt]", str(MOCK_NOW_TS - 2 * DAY)),
    )
    for resource in ("charges", "payment_intents", "invoices", "events"):
        objects = compare.listing(f"/v1/{resource}", window, version, max_pages)
        if len(objects) > 1:
            compare.listing(f"/v1/{resource}", window, version, max_pages, objects[-1]["id"])
    compare.get("/v1/balance", [], version)
    compare.get("/v1/charges", [("customer", "cus_nope"), ("limit", "3")], version)
    compare.get("/v1/charges/ch_nope", [], version)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the reference tree (main)")
    parser.add_argument("--new", type=Path, default=REPO)
    parser.add_argument("--ports", type=int, nargs=2, default=(8950, 8951))
    parser.add_argument("--volume", type=int, default=200, help="MOCK_VOLUME (charges/day)")
    parser.add_argument("--max-pages", type=int, default=0, help="pages per listing, 0: all")
    parser.add_argument("--versions", nargs="+", default=["2024-06-20", "2025-03-31.basil"])
    args = parser.parse_args()
    env = {
        "MOCK_NOW": MOCK_NOW,
        "MOCK_VOLUME": str(args.volume),
        "MOCK_SEED": "42",
        "MOCK_PAGE_CACHE_MB": "0",
    }
    servers = [start(args.old.resolve(), args.ports[0], env)]
    try:
        servers.append(start(args.new.resolve(), args.ports[1], env))
        compare = Compare(*args.ports)
        started = time.perf_counter()
        for version in args.versions:
            run(compare, version, args.max_pages)
        print(
            f"identical: {compare.responses} responses ({compare.bytes:,} bytes each side), "
            f"volume {args.volume}, versions {', '.join(args.versions)}, "
            f"{time.perf_counter() - started:.0f} s"
        )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
