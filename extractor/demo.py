"""`make demo`: start the mock API if needed, extract into ./_local_data, build the dbt models
that exist so far, and print Bronze counts and revenue per currency from Gold.

Only part of Silver/Gold exists yet (issue 4); the demo says so plainly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from extractor.settings import Settings
from extractor.storage import storage_for

DAYS = os.environ.get("DAYS", "3")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return json.loads(response.read()).get("status") == "ok"
    except (OSError, ValueError):
        return False


def _start_mock(settings: Settings) -> subprocess.Popen | None:
    """Start the mock on the configured port unless something already serves it."""
    if _answers(settings.api_base):
        print(f"using the API already running at {settings.api_base}")
        return None
    host_port = settings.api_base.split("://", 1)[1]
    host, _, port = host_port.partition(":")
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_api", "serve", "--host", host, "--port", port or "8000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if _answers(settings.api_base):
            print(f"started the mock Stripe API at {settings.api_base} (pid {process.pid})")
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"demo: the mock API did not start on {settings.api_base}; is the port taken?")


def _bronze_summary(settings: Settings) -> Counter:
    storage = storage_for(settings)
    counts: Counter = Counter()
    for key in storage.list("bronze/source=stripe/"):
        if key.endswith(".jsonl"):
            entity = key.split("/")[2].removeprefix("entity=")
            counts[entity] += (storage.get(key) or b"").count(b"\n")
    return counts


def main() -> int:
    settings = Settings.from_env()
    mock = _start_mock(settings)
    try:
        print(f"extracting {DAYS} days into {settings.lake_root} ...", flush=True)
        extract = subprocess.run(
            [sys.executable, "-m", "extractor", "run-all", "--days", DAYS],
            stderr=subprocess.DEVNULL,
        )
        if extract.returncode != 0:
            print(f"demo: extraction failed (exit {extract.returncode})", file=sys.stderr)
            return extract.returncode
    finally:
        if mock is not None:
            mock.terminate()
            mock.wait(timeout=10)
    counts = _bronze_summary(settings)
    print("\nBronze lines per entity (all runs so far):")
    for entity, lines in sorted(counts.items()):
        print(f"  {entity:<16} {lines:>8}")
    print(f"\nBronze:     {settings.lake_root}/bronze/source=stripe/entity=<entity>/dt=<date>/")
    print(f"Manifests:  {settings.lake_root}/_state/manifests/")
    print(f"Watermarks: {settings.lake_root}/_state/watermarks/")
    if settings.is_s3:
        print("\nthe demo builds Silver/Gold on a local lake only; unset LAKE_ROOT to see them")
        return 0
    built = _build_gold(settings.local_lake_path)
    if built != 0:
        return built
    print(
        "\nNOT BUILT YET: only stg_stripe__charges and agg_daily_revenue exist; the other"
        " Silver/Gold models and the quality gate are issue 4."
    )
    return 0


def _build_gold(lake: Path) -> int:
    """Run dbt build over the local lake and print revenue per currency from Gold."""
    import duckdb

    # DuckDB creates a partitioned write's folder but not its parents.
    (lake / "silver" / "source=stripe").mkdir(parents=True, exist_ok=True)
    (lake / "gold").mkdir(parents=True, exist_ok=True)
    print("\nbuilding Silver and Gold with dbt ...", flush=True)
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [str(dbt), "build", "--project-dir", ".", "--profiles-dir", "."],
        env={**os.environ, "LAKE_ROOT": str(lake)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(result.stdout[-4000:], file=sys.stderr)
        print(f"demo: dbt build failed (exit {result.returncode})", file=sys.stderr)
        return result.returncode
    gold = lake / "gold" / "model=agg_daily_revenue"
    query = (
        f"select currency, sum(gross) as gross, sum(refunded) as refunded, sum(net) as net, "
        f"sum(succeeded_count) as succeeded, sum(failed_count) as failed "
        f"from read_parquet('{gold}/*/*.parquet') group by currency order by currency"
    )
    print(f"Silver:     {lake}/silver/source=stripe/entity=charges/dt=<date>/")
    print(f"Gold:       {gold}/dt=<date>/")
    print("\nRevenue per currency (major units), from Gold:")
    print(duckdb.sql(query))
    return 0


if __name__ == "__main__":
    sys.exit(main())
