"""Byte-identity of two mock API trees: every response of one equals the other's, byte for byte.

    .venv/bin/python bench/mock_identity.py --old /path/to/main [--new .] [--ports P Q]
        [--volume 200] [--max-pages 0] [--versions 2024-06-20 2025-03-31.basil -]
        [--clocks 2026-02-01T00:00:00Z 2026-01-19T13:37:11Z] [--log-dir DIR]

The mock is the spec of Stripe's behaviour for the whole project, so a change that only
makes it faster must not change one byte it serves. This starts `python -m mock_api serve`
from each tree (its own directory on PYTHONPATH) on two free ports (or `--ports`), with the
same MOCK_NOW, MOCK_VOLUME and seed and the page cache off (every page rendered), and asks
both the same requests, once per `--clocks` value (both mocks restarted on it) and per
`Stripe-Version`: full paginated listings (`limit=100`, `starting_after` from the old side's
page) of every list the extractor reads (`extractor/streams.py`: subscriptions with
`status=all` and `expand[]=data.discounts`, the events feed, invoice lines of invoices whose
embedded lines have more, balance transactions per payout); the events feed as the extractor
reads it (a `created[gte]`/`created[lt]` window, one `type=<entity>.*` filter at a time) and
with a `types[]` list; a `created` window paged both ways; a sample of retrieves (some
expanded) and the balance. `--max-pages` caps each listing (0: no cap), for large volumes.
Status, Content-Type and the body's SHA-256 must be equal; the Date header is the clock's and
is equal too with MOCK_NOW set. Exits 1 on the first difference; else prints how many
responses and bytes it compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from extractor.streams import event_type_filters  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

KEY = "sk_test_identity"
CLOCKS = ("2026-02-01T00:00:00Z", "2026-01-19T13:37:11Z")
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
NO_VERSION = "-"  # a `--versions` value: no Stripe-Version header (the account's default)
RETRIEVE_EVERY = 97  # every n-th object of each list is also retrieved


def start(tree: Path, port: int, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    full = {**os.environ, **env, "PYTHONPATH": str(tree)}
    log_path = log_dir / f"mock-identity-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 (the child keeps it)
    cmd = [sys.executable, "-m", "mock_api", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(cmd, cwd=tree, env=full, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mock from {tree} exited: see {log_path}")
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
                headers={"Authorization": f"Bearer {KEY}"}
                | ({} if version == NO_VERSION else {"Stripe-Version": version}),
            )
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    answers.append(
                        (response.status, response.headers.get("Content-Type"), response.read())
                    )
            except urllib.error.HTTPError as exc:
                answers.append((exc.code, exc.headers.get("Content-Type"), exc.read()))
        digests = [
            (status, ctype, hashlib.sha256(body).digest()) for status, ctype, body in answers
        ]
        if digests[0] != digests[1]:
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


def run(compare: Compare, version: str, max_pages: int, now: int) -> None:
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
        ("created[gte]", str(now - 4 * DAY)),
        ("created[lt]", str(now - 2 * DAY)),
    )
    # The change feed as the extractor reads it: a window, one type filter at a time.
    started, before = time.perf_counter(), compare.responses
    feed = 0
    for type_filter in event_type_filters():
        feed += len(compare.listing("/v1/events", (*window, ("type", type_filter)), version, 0))
    types = [("types[]", "charge.succeeded"), ("types[]", "invoice.*")]
    feed += len(compare.listing("/v1/events", types, version, max_pages))
    print(
        f"  {version} events by type: {feed} objects, {compare.responses - before} responses, "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
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
    parser.add_argument("--ports", type=int, nargs=2, help="default: two free ports")
    parser.add_argument("--volume", type=int, default=200, help="MOCK_VOLUME (charges/day)")
    parser.add_argument("--max-pages", type=int, default=0, help="pages per listing, 0: all")
    parser.add_argument(
        "--versions",
        nargs="+",
        default=["2024-06-20", "2025-03-31.basil", NO_VERSION],
        help="Stripe-Version values; '-' sends none",
    )
    parser.add_argument("--clocks", nargs="+", default=list(CLOCKS), help="MOCK_NOW values")
    parser.add_argument("--log-dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    ports = args.ports or (free_port(), free_port())
    compare = Compare(*ports)
    started = time.perf_counter()
    for clock in args.clocks:
        env = {
            "MOCK_NOW": clock,
            "MOCK_VOLUME": str(args.volume),
            "MOCK_SEED": "42",
            "MOCK_PAGE_CACHE_MB": "0",
        }
        now = int(dt.datetime.fromisoformat(clock.replace("Z", "+00:00")).timestamp())
        print(f"clock {clock}", flush=True)
        servers = [start(args.old.resolve(), ports[0], env, args.log_dir)]
        try:
            servers.append(start(args.new.resolve(), ports[1], env, args.log_dir))
            for version in args.versions:
                run(compare, version, args.max_pages, now)
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    print(
        f"identical: {compare.responses} responses ({compare.bytes:,} bytes each side, equal "
        f"SHA-256), volume {args.volume}, clocks {', '.join(args.clocks)}, versions "
        f"{', '.join(args.versions)}, {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
