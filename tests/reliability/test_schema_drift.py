"""Schema drift: the API adds an unknown field and drops optional ones partway through history.

Two mocks serve the same history at the same frozen clock; one renders every object created
from `DRIFT_AT` on with an extra `risk_insights` field and without `description` and
`failure_message` (`MOCK_SCHEMA_DRIFT_AT`). `run-pipeline` against each, on its own lake, must
pass its quality gate; Bronze must keep the drifted objects exactly as returned; Silver must be
unchanged in every declared column except the dropped `failure_message`, which becomes null for
exactly the post-drift charges; Gold must not move.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_api.dataset import Dataset, MockConfig, parse_time
from tests.dbt.lake_queries import gold, rows, silver
from tests.support.cli import child_env, start_cli
from tests.support.servers import ServerProcess, start_mock_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
DRIFT_AT = parse_time("2026-02-18T12:00:00Z")  # mid-window of a 3-day first run
DAYS = "3"
RUN_ID = "drift-1"
DROPPED = ("description", "failure_message")
UNCHANGED_GOLD = ("agg_daily_revenue", "fct_payments", "fct_invoices", "dim_customers")


def start_pipeline(lake: Path, mock: ServerProcess) -> subprocess.Popen:
    env = child_env(
        lake,
        mock.url,
        clear=("RUN_ID", "PIPELINE_FAILPOINTS", "AWS_ENDPOINT_URL", "STRIPE_API_KEY"),
    )
    return start_cli("run-pipeline", "--days", DAYS, "--run-id", RUN_ID, env=env)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory) -> Iterator[dict[str, Path]]:
    """The same run against a drifting and a plain mock, side by side (they share no state)."""
    base = tmp_path_factory.mktemp("drift")
    mocks = {
        "plain": start_mock_api({"MOCK_NOW": str(NOW)}, base / "mock-plain"),
        "drift": start_mock_api(
            {"MOCK_NOW": str(NOW), "MOCK_SCHEMA_DRIFT_AT": "2026-02-18T12:00:00Z"},
            base / "mock-drift",
        ),
    }
    try:
        paths = {name: base / name / "lake" for name in mocks}
        procs = {name: start_pipeline(paths[name], mocks[name]) for name in mocks}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"{name}: {err[-3000:]}"
            assert "quality gate passed" in out, f"{name}: {out[-2000:]}"
        yield paths
    finally:
        for server in mocks.values():
            server.stop()


def bronze_charges(lake: Path) -> list[dict]:
    folder = lake / "bronze" / "source=stripe" / "entity=charges"
    lines = []
    for part in sorted(folder.glob(f"dt=*/run_id={RUN_ID}/part-*.jsonl")):
        lines.extend(json.loads(line) for line in part.read_text().splitlines())
    return lines


def test_bronze_keeps_drifted_objects_exactly_as_returned(lakes: dict[str, Path]) -> None:
    lines = bronze_charges(lakes["drift"])
    post = [line for line in lines if line["data"]["created"] >= DRIFT_AT]
    pre = [line for line in lines if line["data"]["created"] < DRIFT_AT]
    assert len(post) > 100 and len(pre) > 100, (len(post), len(pre))
    # Both sources carry the new shape: list pages and the objects inside events.
    assert {line["_source"] for line in post} == {"list", "event"}
    for line in post:
        data = line["data"]
        assert set(data["risk_insights"]) == {"model", "score_v2"}, data["id"]
        assert not set(DROPPED) & set(data), data["id"]
    for line in pre:
        assert "risk_insights" not in line["data"] and set(DROPPED) <= set(line["data"])

    # Byte-for-byte as returned: every listed object equals the drifting mock's own rendering.
    drifting = Dataset(MockConfig(schema_drift_at=DRIFT_AT))
    for line in lines:
        if line["_source"] != "list":
            continue
        # (retrieve: a subscription invoice's charge is a charge of another id range)
        assert line["data"] == drifting.retrieve(line["data"]["id"], NOW, "charges")


def test_silver_charges_unchanged_in_declared_columns(lakes: dict[str, Path]) -> None:
    def charges(lake: Path) -> list[tuple]:
        return rows(
            f"select * exclude (failure_message) from {silver(lake, 'charges')} order by charge_id"
        )

    plain, drifted = charges(lakes["plain"]), charges(lakes["drift"])
    assert len(plain) > 500
    assert drifted == plain

    def failure_messages(lake: Path) -> dict[str, tuple[bool, str | None]]:
        sql = f"""
            select charge_id, epoch(created_at) >= {DRIFT_AT}, failure_message
            from {silver(lake, "charges")}
        """
        return {charge_id: (post, message) for charge_id, post, message in rows(sql)}

    before, after = failure_messages(lakes["plain"]), failure_messages(lakes["drift"])
    assert before.keys() == after.keys()
    lost = {cid for cid, (post, message) in before.items() if post and message is not None}
    assert len(lost) >= 5, "the window must hold failed post-drift charges for this to test"
    for charge_id, (post, message) in after.items():
        if post:
            assert message is None, charge_id
        else:
            assert message == before[charge_id][1], charge_id
    kept = {cid for cid, (post, message) in after.items() if not post and message is not None}
    assert kept, "pre-drift failed charges keep their failure_message"


@pytest.mark.parametrize("entity", ["customers", "payment_intents", "invoices"])
def test_other_silver_entities_identical(lakes: dict[str, Path], entity: str) -> None:
    def table(lake: Path) -> list[tuple]:
        return rows(f"select * from {silver(lake, entity)} order by all")

    plain = table(lakes["plain"])
    assert plain and table(lakes["drift"]) == plain


@pytest.mark.parametrize("model", UNCHANGED_GOLD)
def test_gold_identical(lakes: dict[str, Path], model: str) -> None:
    def table(lake: Path) -> list[tuple]:
        return rows(f"select * from {gold(lake, model)} order by all")

    plain = table(lakes["plain"])
    assert plain and table(lakes["drift"]) == plain


def test_drift_setting_and_its_boundary() -> None:
    assert MockConfig.from_env({}).schema_drift_at is None
    assert MockConfig.from_env(
        {"MOCK_SCHEMA_DRIFT_AT": "2026-02-18T12:00:00Z"}
    ).schema_drift_at == (DRIFT_AT)
    assert MockConfig.from_env({"MOCK_SCHEMA_DRIFT_AT": str(DRIFT_AT)}).schema_drift_at == DRIFT_AT
    with pytest.raises(ValueError, match="MOCK_SCHEMA_DRIFT_AT='soon' is not unix seconds"):
        MockConfig.from_env({"MOCK_SCHEMA_DRIFT_AT": "soon"})

    plain = Dataset(MockConfig())
    index = plain.timelines["charges"].last_at_or_before(DRIFT_AT)
    at = plain.created("charges", index)
    assert plain.created("charges", index - 1) < at
    drifting = Dataset(MockConfig(schema_drift_at=at))
    for resource in ("charges", "payment_intents"):
        first, before = (
            drifting.state(resource, index, NOW),
            drifting.state(resource, index - 1, NOW),
        )
        assert "risk_insights" in first and "description" not in first, resource
        assert before == plain.state(resource, index - 1, NOW), resource
        # Nothing else about the object changes.
        expected = {k: v for k, v in plain.state(resource, index, NOW).items() if k not in DROPPED}
        assert {k: v for k, v in first.items() if k != "risk_insights"} == expected
