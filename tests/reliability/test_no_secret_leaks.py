"""No secret leaks: the whole pipeline runs against a faulty mock, and neither the API key nor
the webhook secret appears in any log line, manifest, Bronze file, Parquet file, warehouse,
dbt artifact, request log or error message.

The mock accepts only this test's random key (MOCK_API_KEYS), so a successful run proves the
key was really sent; faults (5xx, dropped connections, a tight rate limit) make the client
log retries with their errors. The webhook secret signs real deliveries to the real receiver,
and a forged batch is refused. A run with a wrong key fails with 401 and must not echo it.
Every produced byte is then searched for the secrets, their random parts and the base64 form
an HTTP Basic header would carry.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from extractor.lake.storage import storage_for
from extractor.settings import Settings
from extractor.transform.dbt import lake_target_dir
from mock_api.dataset import DAY, parse_time
from tests.support.cli import child_env, cli_command
from tests.support.servers import REPO_ROOT, ServerProcess, free_port, start_mock_api, start_server
from tests.webhooks.conftest import run_webhooks_cmd, server_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = parse_time("2026-02-20T00:00:00Z")
# A short history keeps the mock's dataset cheap; the pipeline reads its last two days.
START_DATE = "2026-02-17"
FAULTS = {
    "error_rate": 0.1,
    "drop_rate": 0.03,
    "latency_ms": 2,
    # A burst of 2: parallel slices trip it even when a busy machine slows the client down.
    "rate_limit": {"rps": 40, "burst": 2},
    "seed": 3,
}


def needles(**named: str) -> dict[str, bytes]:
    """Each secret, its random part, and the base64 an HTTP Basic header would carry; keyed
    by a label, so a failure names what leaked without printing it."""
    found: dict[str, bytes] = {}
    for name, value in named.items():
        found[name] = value.encode()
        found[f"{name} (random part)"] = value.split("_")[-1].encode()
        found[f"{name} (base64)"] = base64.b64encode(f"{value}:".encode()).rstrip(b"=")
    return found


def run(args: list[str], env: dict[str, str], out: Path) -> subprocess.CompletedProcess:
    """Run a command; keep its stdout and stderr as files, so they are searched too."""
    done = subprocess.run(
        args, cwd=REPO_ROOT, env=env, capture_output=True, timeout=300, check=False
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "stdout").write_bytes(done.stdout)
    (out / "stderr").write_bytes(done.stderr)
    return done


def readable_forms(path: Path) -> bytes:
    """The file's bytes, plus a decoded dump where the format compresses its strings."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        data += json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
    elif path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            rows = con.sql(
                "select sql from duckdb_views() where not internal "
                "union all select sql from duckdb_tables()"
            ).fetchall()
            for schema, table in con.sql("select schema, name from (show all tables)").fetchall():
                rows += con.sql(f'select * from "{schema}"."{table}"').fetchall()
        finally:
            con.close()
        data += json.dumps(rows, default=str).encode()
    return data


def changed_since(folder: Path, started: float) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime >= started]


def test_no_secret_reaches_any_log_file_or_error(tmp_path: Path) -> None:
    started = time.time() - 1
    api_key = "sk_test_" + secrets.token_hex(12)
    wrong_key = "sk_test_" + secrets.token_hex(12)
    webhook_secret = "whsec_" + secrets.token_hex(16)
    lake = tmp_path / "lake"
    logs = tmp_path / "logs"

    mock = start_mock_api(
        {
            "MOCK_NOW": str(NOW),
            "MOCK_START_DATE": START_DATE,
            "MOCK_API_KEYS": api_key,
            "MOCK_FAULTS": json.dumps(FAULTS),
        },
        logs / "mock",
    )
    receiver: ServerProcess | None = None
    try:
        port = free_port()
        receiver = start_server(
            "webhooks",
            run_webhooks_cmd("--port", str(port)),
            port,
            env=server_env(str(lake), webhook_secret),
            log_dir=logs / "receiver",
        )
        # Burst past the mock's rate limit (child_env's 1000/s) and page small: many
        # requests, many faults.
        env = child_env(
            lake,
            mock.url,
            clear=("RUN_ID", "MOCK_API_KEYS", "MOCK_FAULTS", "PIPELINE_FAILPOINTS"),
            PYTHONPATH=str(REPO_ROOT),
            STRIPE_API_KEY=api_key,
            STRIPE_WEBHOOK_SECRET=webhook_secret,
            STRIPE_PAGE_LIMIT="25",
        )

        send = [
            sys.executable,
            "-m",
            "mock_api.send_webhooks",
            "--to",
            f"{receiver.url}/webhooks/stripe",
            "--now",
            str(NOW),
            "--since",
            str(NOW - DAY),
            "--start-date",
            START_DATE,
            "--limit",
            "150",
            "--duplicate-rate",
            "0.2",
            "--reorder",
            "--concurrency",
            "4",
        ]
        # The secret comes from STRIPE_WEBHOOK_SECRET, not argv, as in production.
        sent = run(send, env, logs / "sender")
        assert sent.returncode == 0, sent.stderr[-2000:]
        summary = json.loads(sent.stdout.splitlines()[-1])
        assert (summary["sent"], summary["failed"]) == (summary["deliveries"], 0)
        assert summary["acknowledged_duplicates"] == summary["duplicated"] > 0

        forged = run([*send, "--limit", "5", "--secret", "whsec_forged"], env, logs / "forged")
        assert forged.returncode == 1
        refusals = json.loads(forged.stdout.splitlines()[-1])
        assert refusals["statuses"] == {"400": refusals["deliveries"]}

        pipeline = run(
            cli_command("run-pipeline", "--days", "2"),
            env,
            logs / "run-pipeline",
        )
        assert pipeline.returncode == 0, pipeline.stderr[-4000:]
        assert b"quality gate passed" in pipeline.stdout
        # The faults were really hit, and the retries logged with their errors.
        retries = [
            json.loads(line)
            for line in pipeline.stderr.splitlines()
            if line.startswith(b"{") and b'"api_retry"' in line
        ]
        errors = " ".join(r["error"] for r in retries)
        assert "429" in errors and ("500" in errors or "503" in errors), errors[:2000]

        refused = run(
            cli_command("run-all", "--days", "1"),
            {**env, "STRIPE_API_KEY": wrong_key},
            logs / "run-all-wrong-key",
        )
        assert refused.returncode != 0
        said = refused.stdout + refused.stderr
        assert b"401" in said and b"Invalid API Key provided" in said, said[-2000:]

        status = run(cli_command("status"), env, logs / "status")
        assert status.returncode == 0, status.stderr[-2000:]

        with urllib.request.urlopen(f"{mock.url}/_mock/requests?limit=2000", timeout=10) as r:
            request_log = r.read()
        (logs / "mock-requests.json").write_bytes(request_log)
        entries = json.loads(request_log)["data"]
        # Only the right key is accepted, the run succeeded: the key was sent, many times.
        assert sum(e["path"].startswith("/v1/") for e in entries) >= 50
        assert not any(k.lower() == "authorization" for e in entries for k in e["headers"])
    finally:
        if receiver is not None:
            receiver.stop()
        mock.stop()

    settings = Settings.from_env({**env, "STRIPE_API_KEY": api_key})
    searched = (
        [p for p in lake.rglob("*") if p.is_file()]
        + [p for p in logs.rglob("*") if p.is_file()]
        + changed_since(lake_target_dir(storage_for(settings)), started)
        + changed_since(REPO_ROOT / "target" / "logs", started)
    )
    names = {p.relative_to(tmp_path).as_posix() for p in searched if p.is_relative_to(tmp_path)}

    # Not vacuous: every kind of output the brief names is among the files searched.
    def has(fragment: str) -> bool:
        return any(fragment in name for name in names)

    for fragment in (
        "lake/bronze/source=stripe/entity=charges/",
        "lake/bronze/source=stripe/entity=webhook_events/",
        "lake/silver/source=stripe/entity=charges/",
        "lake/gold/model=",
        "lake/_state/manifests/run_",
        "lake/_state/watermarks/charges.json",
        "lake/_state/warehouse.duckdb",
        "logs/mock/mock-api-",
        "logs/receiver/webhooks-",
        "logs/run-all-wrong-key/stderr",
    ):
        assert has(fragment), f"nothing searched matches {fragment}"
    assert any(p.name == "run_results.json" for p in searched)
    assert any(p.name == "dbt.log" for p in searched)

    forms = {path: readable_forms(path) for path in searched}
    # The search sees inside what it reads: a charge id from Bronze is found in Silver's
    # Parquet and in the warehouse (whose views only the decoded dump shows).
    part = next((lake / "bronze/source=stripe/entity=charges").rglob("part-*.jsonl"))
    charge_id = json.loads(part.read_text().splitlines()[0])["data"]["id"].encode()
    silver = [p for p in searched if "silver/source=stripe/entity=charges/" in p.as_posix()]
    assert any(charge_id in forms[p] for p in silver)
    assert charge_id in forms[lake / "_state/warehouse.duckdb"]
    # The failed run's manifest kept its error, so error text was searched too.
    # The refused run's manifest names the 401 (matched by message: a bare "401" also
    # occurs in durations such as "seconds": 0.401, which once failed this test).
    failed = [
        p
        for p in searched
        if "_state/manifests/" in p.as_posix() and b"Invalid API Key provided" in forms[p]
    ]
    assert len(failed) == 1 and b"HTTP 401" in forms[failed[0]]

    wanted = needles(api_key=api_key, wrong_api_key=wrong_key, webhook_secret=webhook_secret)
    leaks = [
        f"{label} in {path}"
        for path, data in forms.items()
        for label, needle in wanted.items()
        if needle in data
    ]
    assert not leaks, "\n".join(leaks[:50])
