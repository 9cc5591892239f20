"""Objects that change in a later run rewrite the partition they belong to, and a broken
Bronze record stops the gate before it reaches Gold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mock_api.dataset import Dataset, MockConfig, parse_time
from tests.dbt.expected import payment_at, refunded_in_full_at
from tests.dbt.lake_queries import gold, rows, silver
from tests.support.cli import run_cli
from tests.support.servers import set_clock, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T1 = parse_time("2026-01-20T00:00:00Z")
T2 = T1 + 5 * 86_400
CONFIG = MockConfig(seed=42, start_date="2026-01-01", volume=200)


def test_a_late_refund_rewrites_its_charge_partition(tmp_path: Path) -> None:
    mock = start_mock_api({"MOCK_NOW": str(T1)}, tmp_path / "mock")
    lake = tmp_path / "lake"
    try:
        first = run_cli(
            "run-pipeline", "--days", "3", "--run-id", "before", lake=lake, api=mock.url
        )
        assert first.returncode == 0, first.stderr[-3000:]

        # Charges already in Gold whose amount_refunded grows between T1 and T2: a customer
        # refund, or an authorisation Stripe releases uncaptured (which is not a refund).
        dataset = Dataset(CONFIG)
        listed = rows(f"select charge_id, created_date from {gold(lake, 'fct_payments')}")
        refunded_later = {
            charge_id: dt
            for charge_id, dt in listed
            if dataset.retrieve(charge_id, T2, "charges")["amount_refunded"]
            > dataset.retrieve(charge_id, T1, "charges")["amount_refunded"]
        }
        assert refunded_later, "the scenario needs a charge refunded after the first run"
        before = dict(
            rows(
                f"select activity_date || currency, cohort_refunded_minor "
                f"from {gold(lake, 'agg_daily_revenue')}"
            )
        )

        set_clock(mock.url, T2)
        second = run_cli(
            "run-pipeline", "--days", "3", "--run-id", "after", lake=lake, api=mock.url
        )
        assert second.returncode == 0, second.stderr[-3000:]
    finally:
        mock.stop()

    for charge_id, dt in refunded_later.items():
        worth = payment_at(dataset, charge_id, T2)
        got = rows(
            f"select refunded_minor, is_refunded, captured_less_refunded_minor "
            f"from {gold(lake, 'fct_payments')} "
            f"where charge_id = '{charge_id}'"
        )
        assert got == [
            (
                worth.refunded,
                refunded_in_full_at(dataset, charge_id, T2),
                worth.captured - worth.refunded,
            )
        ]
        # Its partition was rewritten in place: still one file, the charge once in it.
        folder = lake / "silver/source=stripe/entity=charges" / f"dt={dt}"
        assert [p.name for p in folder.glob("*.parquet")] == ["data_0.parquet"]
        in_partition = rows(
            f"select count(*) from read_parquet('{folder}/*.parquet') "
            f"where charge_id = '{charge_id}'"
        )
        assert in_partition == [(1,)]

    # Every charge-date cohort's refunds equal the mock's truth at T2 for the charges Gold
    # holds, and the cohorts of the late refunds changed (activity days with no charge of a
    # currency created that day have a cohort of 0).
    after = dict(
        rows(
            f"select activity_date || currency, cohort_refunded_minor "
            f"from {gold(lake, 'agg_daily_revenue')}"
        )
    )
    truth_by_day: dict[str, int] = {}
    for charge_id, day in rows(f"select charge_id, created_date from {gold(lake, 'fct_payments')}"):
        worth = payment_at(dataset, charge_id, T2)
        key = f"{day}{worth.currency}"
        truth_by_day[key] = truth_by_day.get(key, 0) + worth.refunded
    assert {k: v for k, v in after.items() if v} == {k: v for k, v in truth_by_day.items() if v}
    assert set(truth_by_day) <= set(after)
    customer_refunds = [
        (charge_id, day)
        for charge_id, day in refunded_later.items()
        if payment_at(dataset, charge_id, T2).refunded > payment_at(dataset, charge_id, T1).refunded
    ]
    assert customer_refunds
    for charge_id, day in customer_refunds:
        key = f"{day}{dataset.retrieve(charge_id, T2, 'charges')['currency']}"
        assert after[key] > before[key], key
    charges = rows(f"select count(*), count(distinct charge_id) from {silver(lake, 'charges')}")
    assert charges[0][0] == charges[0][1]


BROKEN_CHARGES = [
    # null id, unknown currency, negative amount: each must be named by the gate.
    {
        "id": None,
        "object": "charge",
        "amount": 100,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "succeeded",
        "paid": True,
        "refunded": False,
        "disputed": False,
        "created": T1 - 3600,
    },
    {
        "id": "ch_broken_currency",
        "object": "charge",
        "amount": 100,
        "amount_refunded": 0,
        "currency": "xyz",
        "status": "succeeded",
        "paid": True,
        "refunded": False,
        "disputed": False,
        "created": T1 - 3600,
    },
    {
        "id": "ch_broken_amount",
        "object": "charge",
        "amount": -500,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "succeeded",
        "paid": True,
        "refunded": False,
        "disputed": False,
        "created": T1 - 3600,
    },
]


def write_charges(lake: Path, run_id: str, charges: list[dict]) -> None:
    """A Bronze part of charges, as the extractor would have written it."""
    part = lake / f"bronze/source=stripe/entity=charges/dt=2026-01-20/run_id={run_id}"
    part.mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "_run_id": run_id,
                "_loaded_at": "2026-11-28T12:00:00.000000Z",
                "_observed_at": T1,
                "_source": "list",
                "_event_id": None,
                "_event_type": None,
                "data": charge,
            }
        )
        for charge in charges
    ]
    (part / "part-00000.jsonl").write_text("\n".join(lines) + "\n")


def test_a_broken_bronze_record_fails_the_gate_and_spares_gold(tmp_path: Path) -> None:
    mock = start_mock_api({"MOCK_NOW": str(T1)}, tmp_path / "mock")
    lake = tmp_path / "lake"
    try:
        first = run_cli("run-pipeline", "--days", "2", "--run-id", "good", lake=lake, api=mock.url)
        assert first.returncode == 0, first.stderr[-3000:]
        gold_before = rows(f"select * from {gold(lake, 'agg_daily_revenue')} order by all")

        write_charges(lake, "broken", BROKEN_CHARGES)

        build = run_cli("run-transforms", "--run-id", "bad", lake=lake, api=mock.url)
        quality = run_cli("run-quality", "--run-id", "bad", lake=lake, api=mock.url)
    finally:
        mock.stop()

    assert build.returncode == 1
    # One column-checks test per model (ADRs 0055, 0060); its count adds up its failed
    # checks: the one null charge_id (a single-column key leaves nulls to not_null, as dbt's
    # `unique` does) and the negative amount's row, false for both of the model's expressions.
    assert "test column_checks_stg_stripe__charges: fail Got 3 results" in build.stderr
    # The gate reads the failing checks again and names them under the test (failed_checks).
    block = re.search(
        r"column_checks_stg_stripe__charges: fail Got 3 results.*\n((?:    \S.*\n)+)",
        build.stderr,
    )
    assert block, build.stderr[-3000:]
    assert sorted(block.group(1).splitlines()) == [
        "    amount_minor >= 0: 1 row not true",
        "    amount_refunded_minor between 0 and amount_minor: 1 row not true",
        "    charge_id: 1 null value",
    ]
    assert "relationships_stg_stripe__charges_currency" in build.stderr
    # Gold was not rebuilt from the bad Silver: it keeps its last good content.
    assert rows(f"select * from {gold(lake, 'agg_daily_revenue')} order by all") == gold_before

    assert quality.returncode == 1
    assert "quality gate failed" in quality.stderr
    doc = json.loads((lake / "_state/manifests/run_bad.json").read_text())
    assert doc["transform"]["status"] == "failed"
    assert doc["quality"]["status"] == "failed"
    failing = {f["name"] for f in doc["quality"]["failures"]}
    (checks,) = [f for f in doc["quality"]["failures"] if f["name"].startswith("column_checks_")]
    assert sorted(checks["checks"], key=lambda c: c["columns"]) == [
        {"columns": "amount_minor >= 0", "check": "not_true", "count": 1},
        {
            "columns": "amount_refunded_minor between 0 and amount_minor",
            "check": "not_true",
            "count": 1,
        },
        {"columns": "charge_id", "check": "null", "count": 1},
    ]
    assert "    charge_id: 1 null value\n" in quality.stderr
    assert "column_checks_stg_stripe__charges" in failing
    assert any(name.startswith("relationships_stg_stripe__charges_currency") for name in failing)
    assert any(
        name.startswith("ids_reconcile_bronze_silver_gold_stg_stripe__charges") for name in failing
    )

    # Fix and rerun: without the bad part, the next build rebuilds Silver in full, so the
    # rows the failed build wrote into Silver do not survive it.
    for path in (
        lake / "bronze/source=stripe/entity=charges/dt=2026-01-20/run_id=broken"
    ).iterdir():
        path.unlink()
    fixed = run_cli("run-transforms", "--run-id", "fixed", lake=lake)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert (
        json.loads((lake / "_state/manifests/run_fixed.json").read_text())["transform"]["fold"][
            "mode"
        ]
        == "full"
    )
    assert rows(f"select count(*) from {silver(lake, 'charges')} where charge_id is null") == [(0,)]
    assert rows(f"select count(*) from {silver(lake, 'charges')} where currency = 'xyz'") == [(0,)]

    # On the same lake: 1002.5 minor units would be cast to 1002 without a word; it stops the
    # staging model, naming the field, the value and the object, and Gold is not rebuilt.
    gold_payments = rows(f"select * from {gold(lake, 'fct_payments')} order by all")
    charge = {**BROKEN_CHARGES[0], "id": "ch_half_a_cent", "amount": 1002.5}
    write_charges(lake, "fractional", [charge])
    fractional = run_cli("run-transforms", "--run-id", "fractional", lake=lake)
    assert fractional.returncode == 1
    assert "model stg_stripe__charges: error" in fractional.stderr
    assert "$.amount is 1002.5 in ch_half_a_cent: Stripe sends an integer there" in (
        fractional.stderr
    )
    assert rows(f"select * from {gold(lake, 'fct_payments')} order by all") == gold_payments
