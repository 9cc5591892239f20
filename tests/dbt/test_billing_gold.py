"""Billing's Gold against the mock's own billing engine: MRR per month and currency, every
subscription's movements, the named scenarios, and every line of a long invoice.

One lake is extracted from the real mock over HTTP the way production runs: a first run,
then runs less than 30 days apart (Stripe keeps events 30 days) with the mock's clock moved
between them, about 100 days in all; real dbt builds it once at the end. The truth comes
from mock_api/dataset/mrr.py, the engine's own lifecycle model (never the SQL's output),
and from the mock's `/v1/invoices/{id}/lines` over HTTP. The other churn mode
(`mrr_churn_at: period_end`) is built by dbt on a copy of the lake.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from extractor.settings import DEFAULT_API_KEY
from mock_api.dataset import Dataset, MockConfig, parse_time
from mock_api.dataset.mrr import billing_scenarios, monthly_mrr, mrr_movements
from tests.dbt.lake_queries import content_digest, gold, rows
from tests.dbt.test_ledger_gold import bronze_lines, changed, write_run
from tests.support.cli import child_env, run_cli
from tests.support.paging import page_all
from tests.support.servers import REPO_ROOT, VENV_BIN, set_clock, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

START = "2026-01-01"
# The first run reads the 28 days since START; each later one follows within 30 days.
CLOCKS = [parse_time(t) for t in ("2026-01-29", "2026-02-25", "2026-03-24", "2026-04-10")]
NOW = CLOCKS[-1]
FIRST_DAYS = 28
CONFIG = MockConfig(seed=42, start_date=START, volume=100)
MONTH_FIELDS = (
    "opening",
    "new",
    "expansion",
    "contraction",
    "churn",
    "reactivation",
    "closing",
    "active_subscriptions",
    "churned_subscriptions",
)


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = start_mock_api(
        {"MOCK_NOW": str(CLOCKS[0]), "MOCK_START_DATE": START, "MOCK_VOLUME": str(CONFIG.volume)},
        tmp_path_factory.mktemp("mock"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory, mock) -> Path:
    """Extraction at every clock (cheap), one build at the end."""
    root = tmp_path_factory.mktemp("billing") / "lake"
    env = child_env(root, mock.url)
    for n, clock in enumerate(CLOCKS):
        set_clock(mock.url, clock)
        args = ["run-all", "--run-id", f"r{n}"] + (["--days", str(FIRST_DAYS)] if n == 0 else [])
        result = run_cli(*args, env=env)
        assert result.returncode == 0, result.stderr[-4000:]
    build = run_cli("run-transforms", "--run-id", "build", env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def period_end_lake(lake: Path, tmp_path_factory) -> Path:
    """The MRR models again with mrr_churn_at = period_end (and their gate), on a copy."""
    copy = tmp_path_factory.mktemp("period_end") / "lake"
    shutil.copytree(lake, copy)
    env = child_env(
        copy,
        None,
        WAREHOUSE_PATH=str(copy / "_state" / "warehouse.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    result = subprocess.run(
        [
            str(VENV_BIN / "dbt"),
            "build",
            "--select",
            "fct_mrr_movements+",
            "--vars",
            "{mrr_churn_at: period_end}",
            "--project-dir",
            ".",
            "--profiles-dir",
            ".",
            "--target-path",
            str(copy.parent / "dbt_target"),
        ],
        cwd=REPO_ROOT,
        env={k: v for k, v in env.items() if k != "PIPELINE_BRONZE_RUN_IDS"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return copy


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset(CONFIG)


def month(value) -> str:
    return value.strftime("%Y-%m")


def gold_months(lake: Path) -> dict[tuple[str, str], dict]:
    names = [f"{f}_mrr_minor" if f not in MONTH_FIELDS[7:] else f for f in MONTH_FIELDS]
    out = {}
    for row in rows(
        f"""
        select mrr_month, currency, {", ".join(names)}, arr_minor, subscriber_churn_rate,
               net_revenue_retention, closing_mrr, currency_exponent
        from {gold(lake, "agg_monthly_mrr")}
        """
    ):
        key = (month(row[0]), row[1])
        out[key] = dict(zip(MONTH_FIELDS, row[2:11], strict=True)) | {
            "arr": row[11],
            "subscriber_churn_rate": row[12],
            "net_revenue_retention": row[13],
            "closing_major": row[14],
            "exponent": row[15],
        }
    return out


def gold_movements(lake: Path) -> dict[tuple[str, str], tuple[str, int]]:
    return {
        (sub, month(m)): (kind, change)
        for sub, m, kind, change in rows(
            f"""
            select subscription_id, mrr_month, movement_type, mrr_change_minor
            from {gold(lake, "fct_mrr_movements")}
            """
        )
    }


def rate(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.000001"))


def expected_months(dataset: Dataset, churn_at: str) -> dict[tuple[str, str], dict]:
    out = {}
    for key, m in monthly_mrr(dataset, NOW, churn_at).items():
        out[key] = {f: getattr(m, f) for f in MONTH_FIELDS} | {
            "arr": 12 * m.closing,
            "subscriber_churn_rate": rate(m.subscriber_churn_rate),
            "net_revenue_retention": rate(m.net_revenue_retention),
        }
    return out


def compare_months(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, w in want.items():
        g = {k: v for k, v in got[key].items() if k not in ("closing_major", "exponent")}
        assert g == w, key
        # Major units with the currency's own exponent: yen have none, dinars three.
        assert got[key]["closing_major"] == Decimal(w["closing"]).scaleb(-got[key]["exponent"])


def test_monthly_mrr_is_the_engines(lake: Path, dataset: Dataset) -> None:
    got, want = gold_months(lake), expected_months(dataset, "cancellation")
    compare_months(got, want)
    months = sorted({m for m, _ in want})
    assert months[0] == "2026-01" and months[-1] == "2026-04"
    currencies = {c for _, c in want}
    assert "usd" in currencies and currencies & {"jpy", "kwd"}
    # The months moved: MRR grew and something churned, contracted and came back.
    assert sum(w["churn"] for w in want.values()) > 0
    assert sum(w["contraction"] for w in want.values()) > 0
    assert sum(w["reactivation"] for w in want.values()) > 0
    print(f"\ncompared {len(want)} month x currency rows: {sorted(currencies)}, {months}")


def test_every_movement_is_the_engines(lake: Path, dataset: Dataset) -> None:
    got, want = gold_movements(lake), mrr_movements(dataset, NOW, "cancellation")
    assert got == want
    kinds = {kind for kind, _ in want.values()}
    assert kinds == {"new", "expansion", "contraction", "churn", "reactivation"}
    subscriptions = {sub for sub, _ in want}
    current = dict(
        rows(f"select subscription_id, mrr_minor from {gold(lake, 'dim_subscriptions')}")
    )
    assert subscriptions <= current.keys()
    print(f"\ncompared {len(want)} movements of {len(subscriptions)} subscriptions")


SCENARIO_KINDS = {
    "monthly": {"new"},
    "yearly": {"new"},
    "weekly": {"new"},
    "trial_converted": {"new"},
    "forever_coupon": {"new"},
    "once_coupon": {"new"},
    "upgrade_with_proration": {"expansion"},
    "downgrade": {"contraction"},
    "cancel_at_period_end": {"churn"},
    "canceled_immediately": {"churn"},
    "unpaid_churn": {"churn"},
    "reactivation": {"reactivation"},
}


def test_named_scenarios(lake: Path, dataset: Dataset) -> None:
    scenarios = billing_scenarios(dataset, NOW)
    want = mrr_movements(dataset, NOW, "cancellation")
    got = gold_movements(lake)
    for name, kinds in SCENARIO_KINDS.items():
        sub = scenarios[name]
        mine = {k: v for k, v in got.items() if k[0] == sub}
        theirs = {k: v for k, v in want.items() if k[0] == sub}
        assert mine == theirs, name
        assert kinds <= {kind for kind, _ in theirs.values()}, (name, theirs)
    # A trial that never converted never had MRR.
    assert not {k for k in got if k[0] == scenarios["trial_canceled"]}
    # Every scenario in every currency the engine shows it in (weekly_eur, reactivation_kwd...).
    for name, sub in scenarios.items():
        if sub.startswith("sub_"):
            assert {k: v for k, v in got.items() if k[0] == sub} == {
                k: v for k, v in want.items() if k[0] == sub
            }, name
    currencies = {name.rsplit("_", 1)[1] for name in scenarios if name.startswith("reactivation_")}
    assert "usd" in currencies and currencies & {"jpy", "kwd"}

    history = gold(lake, "dim_subscription_history")
    coupons = dict(
        rows(
            f"""
            select subscription_id, string_agg(distinct coupon_duration, ',')
            from {history} where coupon_duration is not null group by 1
            """
        )
    )
    assert coupons[scenarios["forever_coupon"]] == "forever"
    assert coupons[scenarios["once_coupon"]] == "once"
    prorations = rows(
        f"""
        select count(*) from {gold(lake, "fct_invoice_line_items")}
        where subscription_id = '{scenarios["upgrade_with_proration"]}' and is_proration
        """
    )[0][0]
    assert prorations > 0
    intervals = dict(
        rows(
            f"""
            select subscription_id, string_agg(distinct recurring_interval, ',')
            from {history} where is_mrr_eligible group by 1
            """
        )
    )
    for name, interval in (("monthly", "month"), ("yearly", "year"), ("weekly", "week")):
        assert intervals[scenarios[name]] == interval, name


def test_an_invoice_over_10_lines_has_every_line(lake: Path, mock) -> None:
    invoice_id = billing_scenarios(Dataset(CONFIG), NOW)["invoice_over_10_lines"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {os.environ.get('STRIPE_API_KEY', DEFAULT_API_KEY)}"
    lines = page_all(session, f"{mock.url}/v1/invoices/{invoice_id}/lines", limit=10)
    assert len(lines) > 10
    got = {
        row[0]: row[1:]
        for row in rows(
            f"""
            select line_item_id, amount_minor, quantity, price_id, is_proration
            from {gold(lake, "fct_invoice_line_items")}
            where invoice_id = '{invoice_id}'
            """
        )
    }
    want = {
        line["id"]: (
            line["amount"],
            line["quantity"],
            (line.get("price") or {}).get("id"),
            line["proration"],
        )
        for line in lines
    }
    assert got == want


def test_period_end_churn_mode_is_the_engines(period_end_lake: Path, dataset: Dataset) -> None:
    compare_months(gold_months(period_end_lake), expected_months(dataset, "period_end"))
    got = gold_movements(period_end_lake)
    assert got == mrr_movements(dataset, NOW, "period_end")
    assert {
        r[0] for r in rows(f"select churn_at from {gold(period_end_lake, 'fct_mrr_movements')}")
    } == {"period_end"}
    # The modes differ where a cancellation waits for its period's end.
    scenario = billing_scenarios(dataset, NOW)["cancel_at_period_end"]
    at_cancel = mrr_movements(dataset, NOW, "cancellation")
    assert {k: v for k, v in got.items() if k[0] == scenario} != {
        k: v for k, v in at_cancel.items() if k[0] == scenario
    }


def test_clock_is_the_newest_read(lake: Path) -> None:
    """The current month's MRR is as of the newest subscription read: the last run's."""
    observed = rows(
        f"select max(_observed_at) from read_parquet('{lake}/silver/source=stripe/"
        "entity=subscriptions/*/*.parquet')"
    )[0][0]
    assert datetime.fromtimestamp(observed, UTC) == datetime.fromtimestamp(NOW, UTC)


def test_broken_lines_stop_the_build_and_spare_gold(lake: Path, tmp_path: Path) -> None:
    """An invoice whose subtotal no longer equals its lines, and a line naming a subscription
    Silver does not hold, read again by a run of their own: run-transforms exits 1 naming
    both gate tests, and fct_invoice_line_items keeps its last good content."""
    broken = tmp_path / "lake"
    shutil.copytree(lake, broken)
    key = "gold/model=fct_invoice_line_items"
    before = content_digest(broken)[key]
    latest: dict[str, dict] = {}
    for line in bronze_lines(broken, "invoices"):
        known = latest.get(line["data"]["id"])
        if known is None or line["_observed_at"] >= known["_observed_at"]:
            latest[line["data"]["id"]] = line
    first, second = [
        line
        for line in latest.values()
        if line["data"]["status"] != "draft"
        and not line["data"]["lines"]["has_more"]
        and line["data"]["lines"]["data"]
    ][:2]
    lines = second["data"]["lines"]
    orphan = {**lines["data"][0], "subscription": "sub_not_in_silver"}
    write_run(
        broken,
        {
            "invoices": [
                changed(first, subtotal=first["data"]["subtotal"] + 1),
                changed(second, lines={**lines, "data": [orphan, *lines["data"][1:]]}),
            ]
        },
    )
    build = run_cli("run-transforms", "--run-id", "bad", env=child_env(broken, None))
    assert build.returncode == 1, build.stdout[-3000:]
    failing = json.loads((broken / "_state/manifests/run_bad.json").read_text())["transform"]
    names = {f["name"] for f in failing["failures"]}
    assert {
        "assert_invoice_lines_sum_to_subtotal",
        "assert_invoice_lines_have_prices_and_subscriptions",
    } <= names, names
    assert "assert_invoice_lines_sum_to_subtotal" in build.stderr
    assert content_digest(broken)[key] == before, (
        "fct_invoice_line_items rewritten from broken Silver"
    )
