"""The ledger's Gold against the mock's own books, and the money gate.

One lake holds the account's whole history (`run-pipeline` over every day since the mock's
start, then an incremental run an hour later; LEDGER_WHOLE_HISTORY=true), extracted from
the real mock over HTTP and built by real dbt. Every figure is compared to the minor unit
with tests/dbt/expected_ledger.py, which reads the mock's objects, never the SQL's output.
A copy of the lake then gets broken money in Bronze, and `run-transforms` must stop naming
the gate's tests, leaving Gold as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from mock_api.dataset import Dataset, MockConfig, parse_time
from tests.dbt.expected_books import Ledger, daily_balance, ledger_at, reconciliation
from tests.dbt.lake_queries import content_digest, gold, rows, silver
from tests.support.cli import child_env, run_cli
from tests.support.servers import set_clock, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Long enough after the start for disputes to close (opened 6 or 14 days after the charge,
# closed 35 days later), a few payouts to fail (5%), refunds to follow payouts.
START = "2026-01-01"
NOW = parse_time("2026-02-20T00:00:00Z")
FIRST_RUN = NOW - 3600
DAYS = 51  # the whole history: every day since START
CONFIG = MockConfig(seed=42, start_date=START, volume=100)
LEDGER_MODELS = (
    "fct_balance_transactions",
    "fct_payouts",
    "rpt_payout_reconciliation",
    "agg_daily_balance",
)


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = start_mock_api(
        {"MOCK_NOW": str(NOW), "MOCK_START_DATE": START, "MOCK_VOLUME": str(CONFIG.volume)},
        tmp_path_factory.mktemp("mock"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory, mock) -> Path:
    """Two runs: the whole history up to FIRST_RUN, then the hour to NOW. The gate ties a
    balance snapshot once the ledger is extracted past its time, so the second run's build
    ties the first run's snapshot (to zero: LEDGER_WHOLE_HISTORY). The second run starts a
    second after NOW: its windows stop just before their start, so the lake holds every
    change up to NOW, the instant the truth is taken at (a payout paid at NOW included)."""
    root = tmp_path_factory.mktemp("ledger") / "lake"
    env = child_env(root, mock.url, LEDGER_WHOLE_HISTORY="true")
    try:
        set_clock(mock.url, FIRST_RUN)
        first = run_cli("run-pipeline", "--days", str(DAYS), "--run-id", "first", env=env)
        assert first.returncode == 0, first.stderr[-4000:]
        set_clock(mock.url, NOW + 1)
        result = run_cli("run-pipeline", "--run-id", "whole", env=env)
    finally:
        set_clock(mock.url, NOW)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "quality gate passed" in result.stdout
    return root


@pytest.fixture(scope="module")
def truth() -> Ledger:
    return ledger_at(Dataset(CONFIG), NOW)


def epoch(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp())


def test_every_balance_transaction_is_the_mocks(lake: Path, truth: Ledger) -> None:
    """Amounts, fees, nets (minor and exact major units), currencies both sides of a
    conversion, source and kind, availability and status as of the build, payout."""
    got = {
        row[0]: row[1:]
        for row in rows(
            f"""
            select balance_transaction_id, type, reporting_category, source_id, source_kind,
                   payout_id, currency, presentment_currency, exchange_rate, amount_minor,
                   fee_minor, net_minor, amount, fee, net, created_at, available_on, status
            from {gold(lake, "fct_balance_transactions")}
            """
        )
    }
    want = {}
    for txn_id, t in truth.transactions.items():
        rate = t["exchange_rate"]
        want[txn_id] = (
            t["type"],
            t["reporting_category"],
            t["source"],
            t["source_kind"],
            t["payout_id"],
            t["currency"],
            t["presentment_currency"],
            None if rate is None else Decimal(str(rate)),
            t["amount"],
            t["fee"],
            t["net"],
            Decimal(t["amount"]).scaleb(-2),
            Decimal(t["fee"]).scaleb(-2),
            Decimal(t["net"]).scaleb(-2),
            t["created"],
            t["available_on"],
            t["status"],
        )
    got = {k: (*v[:14], epoch(v[14]), epoch(v[15]), v[16]) for k, v in got.items()}
    assert got.keys() == want.keys()
    assert got == want
    # The harder cases are there: conversions from zero- and three-decimal currencies,
    # pending and available, partial captures, won disputes, failed payouts.
    converted = {v[6] for v in got.values() if v[7] is not None}
    assert {"jpy", "kwd"} <= converted
    assert {v[16] for v in got.values()} == {"pending", "available"}
    categories = {v[1] for v in got.values()}
    assert {"partial_capture_reversal", "dispute_reversal", "payout_reversal"} <= categories


def test_daily_fees_nets_payouts_and_balances_are_the_books(lake: Path, truth: Ledger) -> None:
    got = {
        (currency, day.isoformat()): rest
        for currency, day, *rest in rows(
            f"""
            select currency, balance_date, opening_minor, fees_minor, net_minor, payouts_minor,
                   closing_minor, closing_available_minor, closing_pending_minor,
                   charges_minor + refunds_minor + disputes_minor + fees_minor + payouts_minor
                       + other_minor
            from {gold(lake, "agg_daily_balance")}
            """
        )
    }
    days = sorted({day for _, day in got})
    want = daily_balance(truth, days[0], days[-1])
    assert days[0] == START and days[-1] == "2026-02-20"
    assert got.keys() == want.keys()
    for key, (opening, fees, net, payouts, closing, available, pending, movements) in got.items():
        w = want[key]
        assert (opening, fees, net, payouts, closing) == (
            w["opening"],
            w["fees"],
            w["net"],
            w["payouts"],
            w["closing"],
        ), key
        assert movements == net, key
        if w["split"] is not None:
            assert (available, pending) == w["split"], key
    # The last day (the build's clock, no movement yet) closes at Stripe's balance now.
    for currency, (available, pending) in truth.balance.items():
        assert tuple(got[(currency, days[-1])][4:6]) == (available + pending, available)
    assert all(got[(c, d)][3] < 0 for c, d in truth.days if truth.days[(c, d)]["payouts"] > 0)


def test_subscription_invoices_are_paid_through_charges_into_the_ledger(lake: Path) -> None:
    """Every paid subscription invoice with an amount due has its charge in fct_payments, of
    that amount and currency, and that charge's transaction in the ledger with the mock's fee
    and net; per settlement currency and day, the ledger's charges include them all."""
    dataset = Dataset(CONFIG)
    txns = {t["id"]: t for t in dataset.all_balance_transactions(NOW)}
    want: dict[str, tuple] = {}
    want_days: dict[tuple[str, str], list[int]] = {}
    for invoice in dataset.objects("invoices", NOW):
        paid = invoice["status"] == "paid" and invoice["amount_due"] > 0
        if invoice["subscription"] is None or not paid:
            continue
        charge = dataset.retrieve(invoice["charge"], NOW, "charges")
        t = txns[charge["balance_transaction"]]
        assert t["source"] == charge["id"] and charge["invoice"] == invoice["id"]
        want[invoice["id"]] = (
            charge["id"],
            invoice["amount_due"],
            invoice["currency"],
            t["currency"],
            t["amount"],
            t["fee"],
            t["net"],
        )
        day = dt.datetime.fromtimestamp(t["created"], dt.UTC).date().isoformat()
        totals = want_days.setdefault((t["currency"], day), [0, 0, 0])
        for n, value in enumerate((1, t["fee"], t["net"])):
            totals[n] += value
    assert len(want) > 200 and len({w[2] for w in want.values()}) >= 3
    got = {
        row[0]: row[1:]
        for row in rows(
            f"""
            select invoices.invoice_id, payments.charge_id, payments.captured_minor,
                   payments.currency, ledger.currency, ledger.amount_minor, ledger.fee_minor,
                   ledger.net_minor
            from {silver(lake, "invoices")} as invoices
            join {gold(lake, "fct_payments")} as payments
              on payments.invoice_id = invoices.invoice_id
             and payments.charge_id = invoices.charge_id
            join {gold(lake, "fct_balance_transactions")} as ledger
              on ledger.source_id = payments.charge_id and ledger.reporting_category = 'charge'
            where invoices.subscription_id is not null and invoices.status = 'paid'
              and invoices.amount_due_minor > 0
            """
        )
    }
    assert got == want
    got_days = {
        (currency, day.isoformat()): [count, fee, net]
        for currency, day, count, fee, net in rows(
            f"""
            select ledger.currency, cast(ledger.created_at as date), count(*),
                   sum(ledger.fee_minor), sum(ledger.net_minor)
            from {gold(lake, "fct_balance_transactions")} as ledger
            join {gold(lake, "fct_payments")} as payments on payments.charge_id = ledger.source_id
            join {silver(lake, "invoices")} as invoices on invoices.invoice_id = payments.invoice_id
            where ledger.reporting_category = 'charge' and invoices.subscription_id is not null
            group by 1, 2
            """
        )
    }
    assert got_days == want_days


def test_payouts_add_up_and_match_the_mock(lake: Path, truth: Ledger) -> None:
    got = {
        row[0]: row[1:]
        for row in rows(
            f"""
            select payout_id, status, currency, amount_minor, amount, created_at, arrival_date,
                   failure_code, failure_message, item_count, items_net_minor, is_reconciled
            from {gold(lake, "fct_payouts")}
            """
        )
    }
    want = {
        payout_id: (
            p["status"],
            p["currency"],
            p["amount"],
            Decimal(p["amount"]).scaleb(-2),
            p["created"],
            p["arrival_date"],
            p["failure_code"],
            p["failure_message"],
            len(truth.items[payout_id]),
            sum(truth.transactions[t]["net"] for t in truth.items[payout_id]),
            True,
        )
        for payout_id, p in truth.payouts.items()
    }
    got = {k: (*v[:4], epoch(v[4]), epoch(v[5]), *v[6:]) for k, v in got.items()}
    assert got == want
    assert all(v[2] == v[9] for v in want.values()), "the mock's payouts add up"
    failed = [k for k, v in got.items() if v[0] == "failed"]
    assert failed and all(got[k][6] == "account_closed" for k in failed)

    recon = {
        row[0]: dict(
            zip(("charges", "refunds", "disputes", "adjustments", "fees"), row[1:6], strict=True)
        )
        | {"items_net": row[6], "item_count": row[7], "difference": row[8]}
        for row in rows(
            f"""
            select payout_id, charges_minor, refunds_minor, disputes_minor, adjustments_minor,
                   fees_minor, items_net_minor, item_count, difference_minor
            from {gold(lake, "rpt_payout_reconciliation")}
            """
        )
    }
    for payout_id, row in reconciliation(truth).items():
        expected = {"charges": 0, "refunds": 0, "disputes": 0, "adjustments": 0, **row}
        assert recon[payout_id] == {**expected, "difference": 0}, payout_id
    assert recon.keys() == truth.payouts.keys()


def test_failed_payouts_late_refunds_and_disputes_reach_gold(lake: Path, truth: Ledger) -> None:
    """A failed payout's amount returns and is paid out again; refunds after their charge
    was paid out; disputes lost (withdrawn only) and won (withdrawn and reinstated)."""
    ledger = gold(lake, "fct_balance_transactions")
    returned = rows(
        f"""
        select l.source_id, l.payout_id
        from {ledger} as l
        where l.reporting_category = 'payout_reversal'
        """
    )
    failed = {k for k, p in truth.payouts.items() if p["status"] == "failed"}
    assert failed and {source for source, _ in returned} == failed
    assert all(payout is not None for _, payout in returned), "paid out again"

    after_payout = rows(
        f"""
        with refunds as (
            select t.balance_transaction_id, t.created_at, t.source_id
            from {ledger} as t
            where t.reporting_category = 'refund'
        ),
        charge_payouts as (
            select t.source_id as charge_id, p.created_at as paid_out_at
            from {ledger} as t
            inner join {gold(lake, "fct_payouts")} as p on t.payout_id = p.payout_id
            where t.reporting_category = 'charge'
        )
        select count(*)
        from refunds
        inner join read_parquet('{lake}/silver/source=stripe/entity=refunds/*/*.parquet') as r
            on refunds.source_id = r.refund_id
        inner join charge_payouts on r.charge_id = charge_payouts.charge_id
        where refunds.created_at > charge_payouts.paid_out_at
        """
    )[0][0]
    want_after = 0
    paid_at = {
        truth.transactions[t]["source"]: truth.payouts[p]["created"]
        for p, txns in truth.items.items()
        for t in txns
        if truth.transactions[t]["reporting_category"] == "charge"
    }
    dataset = Dataset(CONFIG)
    for t in truth.transactions.values():
        if t["reporting_category"] == "refund":
            charge = dataset.retrieve(t["source"], NOW, "refunds")["charge"]
            want_after += charge in paid_at and t["created"] > paid_at[charge]
    assert after_payout == want_after > 0

    disputes = dict(
        rows(
            f"""
            select source_id, string_agg(reporting_category, ',' order by reporting_category)
            from {ledger}
            where source_kind = 'dispute'
            group by 1
            """
        )
    )
    won = {d for d, s in truth.dispute_status.items() if s == "won"}
    lost = {d for d, s in truth.dispute_status.items() if s == "lost"}
    assert won and lost
    assert {d for d, cats in disputes.items() if cats == "dispute,dispute_reversal"} == won
    assert lost <= {d for d, cats in disputes.items() if cats == "dispute"}


def test_broken_money_stops_the_build_and_spares_gold(lake: Path, tmp_path: Path) -> None:
    """Broken money in Bronze, each break read again by a run of its own: a payout's item
    moved to another payout (one falls short, one goes over), a fee that does not add up,
    a charge's transaction grown by one cent (it no longer matches its charge nor the
    balance), and a succeeded refund with no balance transaction. run-transforms exits 1
    naming each gate test, and the ledger's Gold keeps its last good content."""
    broken = tmp_path / "lake"
    shutil.copytree(lake, broken)
    before = {k: v for k, v in content_digest(broken).items() if k.startswith("gold/")}

    items = bronze_lines(broken, "payout_balance_transactions")
    parents = sorted({line["_parent_id"] for line in items})
    moved = next(line for line in items if line["_parent_id"] == parents[0])
    txns = {line["data"]["id"]: line for line in bronze_lines(broken, "balance_transactions")}
    # Charges before the first run's balance snapshot, the one the gate ties.
    charges = [
        t
        for t in txns.values()
        if t["data"]["reporting_category"] == "charge" and t["data"]["created"] < FIRST_RUN
    ]
    fee, grown = charges[0], charges[1]
    refund = next(
        line
        for line in bronze_lines(broken, "refunds")
        if line["data"]["status"] == "succeeded" and line["data"]["balance_transaction"]
    )
    write_run(
        broken,
        {
            "payout_balance_transactions": [{**moved, "_parent_id": parents[1]}],
            "balance_transactions": [
                changed(fee, fee=fee["data"]["fee"] + 1),
                changed(grown, amount=grown["data"]["amount"] + 1, net=grown["data"]["net"] + 1),
            ],
            "refunds": [changed(refund, id="re_without_its_transaction")],
        },
    )

    build, failures = gate_failures(broken, "bad", whole_history=True, full_refresh=False)
    assert {f["name"] for f in failures} == {
        "assert_payout_items_sum_to_payout_amount",
        "assert_balance_transaction_fee_and_net_add_up",
        "assert_money_movements_have_balance_transactions",
        "assert_ledger_ties_to_balance_snapshot",
    }
    for name in (
        "assert_payout_items_sum_to_payout_amount",
        "assert_ledger_ties_to_balance_snapshot",
    ):
        assert name in build.stderr
    after = {k: v for k, v in content_digest(broken).items() if k.startswith("gold/")}
    for model in LEDGER_MODELS:
        key = f"gold/model={model}"
        assert after[key] == before[key], f"{model} was rewritten from broken Silver"


def test_a_snapshot_dated_after_its_balance_was_read_still_ties(lake: Path, tmp_path: Path) -> None:
    """Stripe stamps a response's Date header when it sends it, after it read the balance, and
    the snapshot's time is that header. The first snapshot's Date is moved 3 s after its read,
    and a usd top-up is created 2 s after the read: in the ledger up to the snapshot's time,
    not in its balance. It ties (the balance may have been read up to
    balance_snapshot_read_seconds earlier). An eur top-up 7 s before the read, which the
    balance should count, still fails the gate: one row, not two."""
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    part = next((copy / "bronze/source=stripe/entity=balance").rglob("run_id=first/part-*.jsonl"))
    snapshot = json.loads(part.read_text())
    read_at = snapshot["_observed_at"]
    assert read_at == FIRST_RUN
    txns = [line["data"] for line in bronze_lines(copy, "balance_transactions")]
    # Nothing real was created in the seconds the Date is moved over.
    assert not [t for t in txns if read_at < t["created"] <= read_at + 3]
    part.write_text(json.dumps({**snapshot, "_observed_at": read_at + 3}) + "\n")
    template = next(line for line in bronze_lines(copy, "balance_transactions"))
    topups = [
        changed(template, **topup("txn_topup_after_read", "usd", read_at + 2)),
        changed(template, **topup("txn_topup_before_read", "eur", read_at - 7)),
    ]
    folder = copy / "bronze/source=stripe/entity=balance_transactions/dt=2026-02-19/run_id=first"
    with (folder / "part-topups.jsonl").open("w") as out:
        out.writelines(json.dumps(line) + "\n" for line in topups)

    _, failures = gate_failures(copy, "dated", whole_history=True)
    assert [f["name"] for f in failures] == ["assert_ledger_ties_to_balance_snapshot"]
    assert "Got 1 result" in failures[0]["message"], failures[0]


def test_snapshots_tie_to_the_opening_most_of_them_agree_on(lake: Path, tmp_path: Path) -> None:
    """Without LEDGER_WHOLE_HISTORY the gate ties snapshots to each other. Two more snapshots,
    15 and 30 minutes after the first, carry the mock's own balance at their time, and a usd
    top-up the balance never saw is created between the first and the second. The second
    and the third then agree with each other, not with the first: one row fails (the first
    snapshot's usd), where comparing every snapshot with the first would fail two. An eur
    top-up created in the third snapshot's own second, and counted by its balance, ties: a
    snapshot counts the transactions of its second."""
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    first = next((copy / "bronze/source=stripe/entity=balance").rglob("run_id=first/part-*.jsonl"))
    snapshot = json.loads(first.read_text())
    dataset = Dataset(CONFIG)
    template = bronze_lines(copy, "balance_transactions")[0]
    unseen = topup("txn_topup_unseen", "usd", FIRST_RUN + 600)
    same_second = topup("txn_topup_same_second", "eur", FIRST_RUN + 1800)
    for run_id, at in (("second", FIRST_RUN + 900), ("third", FIRST_RUN + 1800)):
        balance = dataset.balance(at)
        if run_id == "third":
            eur = next(entry for entry in balance["available"] if entry["currency"] == "eur")
            eur["amount"] += same_second["net"]
        folder = first.parent.parent / f"run_id={run_id}"
        folder.mkdir()
        line = {**snapshot, "_run_id": run_id, "_observed_at": at, "data": balance}
        (folder / "part-00000.jsonl").write_text(json.dumps(line) + "\n")
    folder = copy / "bronze/source=stripe/entity=balance_transactions/dt=2026-02-19/run_id=first"
    with (folder / "part-extra.jsonl").open("w") as out:
        out.writelines(json.dumps(changed(template, **txn)) + "\n" for txn in (unseen, same_second))

    _, failures = gate_failures(copy, "agree", whole_history=False)
    assert [f["name"] for f in failures] == ["assert_ledger_ties_to_balance_snapshot"]
    assert "Got 1 result" in failures[0]["message"], failures[0]


def gate_failures(
    lake: Path, run_id: str, *, whole_history: bool, full_refresh: bool = True
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """`run-transforms` on `lake`, which the gate must stop (exit 1): the process and the
    failures its manifest lists. LEDGER_WHOLE_HISTORY is set either way, whatever the
    shell says."""
    build = run_cli(
        "run-transforms",
        *(["--full-refresh"] if full_refresh else []),
        "--run-id",
        run_id,
        env=child_env(lake, None, LEDGER_WHOLE_HISTORY="true" if whole_history else "false"),
    )
    assert build.returncode == 1, build.stdout[-3000:]
    manifest = json.loads((lake / f"_state/manifests/run_{run_id}.json").read_text())
    return build, manifest["transform"]["failures"]


def topup(txn_id: str, currency: str, created: int) -> dict:
    """A top-up's balance transaction (a source the gate does not look up)."""
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": 500,
        "fee": 0,
        "fee_details": [],
        "net": 500,
        "currency": currency,
        "created": created,
        "available_on": created,
        "status": "available",
        "type": "topup",
        "reporting_category": "topup",
        "source": f"tu_{txn_id}",
        "description": None,
        "exchange_rate": None,
    }


def bronze_lines(lake: Path, entity: str) -> list[dict]:
    parts = sorted((lake / f"bronze/source=stripe/entity={entity}").rglob("part-*.jsonl"))
    return [json.loads(line) for part in parts for line in part.read_text().splitlines() if line]


def changed(line: dict, **data) -> dict:
    return {**line, "data": {**line["data"], **data}}


def write_run(lake: Path, lines: dict[str, list[dict]]) -> None:
    """The lines again as later reads, in a run of their own (Silver keeps the latest read)."""
    for entity, entity_lines in lines.items():
        folder = lake / f"bronze/source=stripe/entity={entity}/dt=2026-02-20/run_id=broken"
        folder.mkdir(parents=True)
        body = "".join(
            json.dumps({**line, "_run_id": "broken", "_observed_at": line["_observed_at"] + 1})
            + "\n"
            for line in entity_lines
        )
        (folder / "part-00000.jsonl").write_text(body)


def test_a_first_run_longer_than_the_events_feed_passes_the_gate(mock, tmp_path: Path) -> None:
    """A first run over 40 days of an account 51 days old: the list windows reach further
    back than Stripe's 30 days of events, so some transactions in the window move money of
    objects created before it (a dispute won, a bank debit settling) that only an expired
    event would bring. The gate checks those transactions only from the feed's first event
    on (before that fix, this run failed assert_balance_transactions_have_sources and
    assert_daily_revenue_ties_to_the_ledger with 8 and 5 rows)."""
    root = tmp_path / "lake"
    env = child_env(root, mock.url)
    result = run_cli("run-pipeline", "--days", "40", "--run-id", "forty", env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "quality gate passed" in result.stdout

    # The case is real: transactions whose source is not in the lake, all before the feed.
    sources = " union all ".join(
        f"select {key} as id from {silver(root, entity)}"
        for entity, key in (
            ("charges", "charge_id"),
            ("refunds", "refund_id"),
            ("disputes", "dispute_id"),
            ("payouts", "payout_id"),
        )
    )
    (first_event,) = rows(f"select min(created_at) from {silver(root, 'events')}")[0]
    orphans = rows(
        f"""
        select t.balance_transaction_id, t.created_at
        from {silver(root, "balance_transactions")} as t
        where t.source_id not in ({sources})
            and split_part(t.source_id, '_', 1) in ('ch', 'py', 're', 'pyr', 'dp', 'du', 'po')
        """
    )
    assert orphans, "no transaction of an object older than the window: the case is not exercised"
    assert all(created < first_event for _, created in orphans), orphans
