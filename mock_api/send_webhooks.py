"""Post the mock's events to a webhook endpoint as signed Stripe deliveries.

    python -m mock_api.send_webhooks --to http://127.0.0.1:8001/webhooks/stripe \
        --secret whsec_old --secret whsec_new --duplicate-rate 0.2 --reorder --drop-rate 0.05

Events come from `mock_api.dataset` (same MOCK_SEED / MOCK_START_DATE / MOCK_VOLUME as the
mock API, so they are the events the batch will see). Each delivery is signed at send time
with every `--secret` (two secrets give two v1 signatures, as Stripe does while a secret is
rolled). Like Stripe, delivery is at least once and out of order: `--duplicate-rate` sends
some events again, `--reorder` shuffles the deliveries, `--drop-rate` never sends some (their
ids are reported so a reconciliation can be checked against them). All choices come from
`--seed`, so a run is reproducible. A 5xx or connection error is retried (`--retries`, default
3), as Stripe would; the summary on stdout is one JSON object, whose `acknowledged_ids` are the
events that got a 200 at least once (the receiver promised to have stored them).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from mock_api.dataset import EVENT_TYPES, Dataset, MockConfig, parse_time
from webhook_app.signature import sign_header

DAY = 86_400
RETRIES = 3


@dataclass
class Delivery:
    event_id: str
    body: bytes
    copy: int  # 0 = first delivery, 1.. = a duplicate


@dataclass
class Plan:
    deliveries: list[Delivery]
    events: int
    duplicated: list[str]
    dropped: list[str]


def plan_deliveries(
    events: Sequence[dict],
    *,
    duplicate_rate: float,
    drop_rate: float,
    reorder: bool,
    seed: int,
) -> Plan:
    """Decide, deterministically from `seed`, what is sent, twice, never, and in which order."""
    rng = random.Random(seed)
    deliveries: list[Delivery] = []
    duplicated: list[str] = []
    dropped: list[str] = []
    # Oldest first, as Stripe would send them if nothing went wrong.
    for event in sorted(events, key=lambda e: (e["created"], e["id"])):
        if rng.random() < drop_rate:
            dropped.append(event["id"])
            continue
        body = json.dumps(event, indent=2).encode()  # pretty-printed like Stripe's
        deliveries.append(Delivery(event["id"], body, 0))
        if rng.random() < duplicate_rate:
            duplicated.append(event["id"])
            deliveries.append(Delivery(event["id"], body, 1))
    if reorder:
        rng.shuffle(deliveries)
    return Plan(deliveries, len(events), duplicated, dropped)


@dataclass
class Outcome:
    sent: int = 0
    acknowledged_duplicates: int = 0
    acknowledged: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def deliver(
    plan: Plan,
    url: str,
    secrets: Sequence[str],
    *,
    delay_ms: int = 0,
    concurrency: int = 1,
    clock: Callable[[], float] = time.time,
    timeout: float = 10.0,
    retries: int = RETRIES,
) -> Outcome:
    """Send every planned delivery; each attempt is signed afresh (Stripe re-signs retries)."""
    outcome = Outcome()
    local = threading.local()

    def send(delivery: Delivery) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        status: int | None = None
        for attempt in range(retries + 1):
            headers = {"Content-Type": "application/json; charset=utf-8"}
            if secrets:
                headers["Stripe-Signature"] = sign_header(delivery.body, secrets, int(clock()))
            try:
                response = session.post(url, data=delivery.body, headers=headers, timeout=timeout)
                status = response.status_code
            except requests.RequestException:
                status = None
            if (status is not None and status < 500) or attempt == retries:
                break
            time.sleep(min(2.0, 0.1 * 2**attempt))
        with outcome.lock:
            key = str(status) if status is not None else "connection_error"
            outcome.statuses[key] = outcome.statuses.get(key, 0) + 1
            if status == 200:
                outcome.sent += 1
                outcome.acknowledged.add(delivery.event_id)
                if response.json().get("duplicate"):
                    outcome.acknowledged_duplicates += 1
            else:
                outcome.failed.append(delivery.event_id)
        if delay_ms:
            time.sleep(delay_ms / 1000)

    if concurrency <= 1:
        for delivery in plan.deliveries:
            send(delivery)
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(send, plan.deliveries))
    return outcome


def select_events(
    dataset: Dataset,
    now: int,
    since: int | None,
    until: int | None,
    enabled: Sequence[str] = ("*",),
) -> list[dict]:
    """The mock's events with since <= created < until (both optional) as of `now`, of the
    types `enabled` matches (Stripe's `enabled_events` wildcards, e.g. `charge.*`)."""
    types = tuple(t for t in EVENT_TYPES if any(fnmatch.fnmatchcase(t, p) for p in enabled))
    return [
        e
        for e in dataset.events(now, types)
        if (since is None or e["created"] >= since) and (until is None or e["created"] < until)
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_api.send_webhooks",
        description="Post the mock's events to a webhook endpoint as signed Stripe deliveries.",
    )
    parser.add_argument(
        "--to", required=True, help="endpoint URL, e.g. http://127.0.0.1:8001/webhooks/stripe"
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        help="signing secret; repeat for two v1 signatures (rotation); default "
        "$STRIPE_WEBHOOK_SECRET",
    )
    parser.add_argument("--unsigned", action="store_true", help="send no Stripe-Signature header")
    parser.add_argument("--duplicate-rate", type=float, default=0.0, help="share sent twice (0-1)")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share never sent (0-1)")
    parser.add_argument("--reorder", action="store_true", help="shuffle the delivery order")
    parser.add_argument("--delay-ms", type=int, default=0, help="pause after each delivery")
    parser.add_argument("--concurrency", type=int, default=1, help="parallel senders (default 1)")
    parser.add_argument(
        "--retries",
        type=int,
        default=RETRIES,
        help=f"retries of a 5xx or connection error per delivery (default {RETRIES})",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for drop/duplicate/order choices")
    parser.add_argument("--limit", type=int, help="send at most this many events (the newest)")
    parser.add_argument(
        "--enabled-events",
        action="append",
        default=[],
        help="event types the endpoint subscribes to, like a Stripe webhook endpoint's "
        "enabled_events (wildcards: charge.*); repeat; default every type",
    )
    parser.add_argument(
        "--now",
        help="the mock's clock (unix or ISO-8601); default $MOCK_NOW, else the current time",
    )
    parser.add_argument("--since", help="only events created at or after (unix or ISO-8601)")
    parser.add_argument(
        "--until", help="only events created before (unix or ISO-8601; default now)"
    )
    parser.add_argument("--mock-seed", type=int, help="dataset seed (default $MOCK_SEED or 42)")
    parser.add_argument("--start-date", help="dataset start date (default $MOCK_START_DATE)")
    parser.add_argument("--volume", type=int, help="charges per day (default $MOCK_VOLUME)")
    return parser


def _rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise SystemExit(f"send_webhooks: {name}={value} must be between 0 and 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    secrets = args.secret or [s for s in [os.environ.get("STRIPE_WEBHOOK_SECRET", "")] if s]
    if not secrets and not args.unsigned:
        print(
            "send_webhooks: no signing secret: pass --secret (or set STRIPE_WEBHOOK_SECRET), "
            "or --unsigned for a receiver running with --insecure-no-verify",
            file=sys.stderr,
        )
        return 2
    if args.unsigned:
        secrets = []
    base = MockConfig.from_env()
    overrides: dict[str, Any] = {}
    if args.mock_seed is not None:
        overrides["seed"] = args.mock_seed
    if args.start_date:
        overrides["start_date"] = args.start_date
    if args.volume is not None:
        overrides["volume"] = args.volume
    config = MockConfig(**{**base.__dict__, **overrides})
    now_raw = args.now or os.environ.get("MOCK_NOW")
    now = parse_time(now_raw) if now_raw else int(time.time())
    since = parse_time(args.since) if args.since else now - DAY
    until = parse_time(args.until) if args.until else now + 1
    enabled = args.enabled_events or ["*"]
    events = select_events(Dataset(config), now, since, until, enabled)
    if args.limit is not None:
        events = sorted(events, key=lambda e: (e["created"], e["id"]))[-args.limit :]
    plan = plan_deliveries(
        events,
        duplicate_rate=_rate("--duplicate-rate", args.duplicate_rate),
        drop_rate=_rate("--drop-rate", args.drop_rate),
        reorder=args.reorder,
        seed=args.seed,
    )
    started = time.perf_counter()
    if args.retries < 0:
        raise SystemExit(f"send_webhooks: --retries={args.retries} must be >= 0")
    outcome = deliver(
        plan,
        args.to,
        secrets,
        delay_ms=args.delay_ms,
        concurrency=args.concurrency,
        retries=args.retries,
    )
    summary = {
        "events": plan.events,
        "deliveries": len(plan.deliveries),
        "sent": outcome.sent,
        "duplicated": len(plan.duplicated),
        "acknowledged_duplicates": outcome.acknowledged_duplicates,
        "dropped": len(plan.dropped),
        "dropped_ids": sorted(plan.dropped),
        "failed": len(outcome.failed),
        "failed_ids": sorted(set(outcome.failed)),
        "acknowledged_ids": sorted(outcome.acknowledged),
        "statuses": outcome.statuses,
        "signatures_per_delivery": len(secrets),
        "seconds": round(time.perf_counter() - started, 3),
    }
    print(json.dumps(summary))
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
