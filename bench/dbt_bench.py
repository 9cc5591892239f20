"""dbt build on 1M charges: wall time and peak memory, next to one hand-written DuckDB script.

    .venv/bin/python bench/dbt_bench.py [--charges 1000000] [--runs 3] [--work-dir DIR]

Why: dbt-duckdb adds its own work around the SQL (process start, manifest parse, a table in
the warehouse file before each Parquet COPY, a view after it, and the data tests). This puts
a number on that overhead by running the same SQL as one plain `duckdb` script in one process
(same `read_json(... columns={...})`, same dedup, same Parquet writes with `PARTITION_BY (dt)`),
on the same lake, in the same invocation. The script is generated before the runs from `dbt
compile` of the measured project (`bench/baseline_sql.py`, into `<work-dir>/duckdb_baseline.sql`),
so it is always the SQL the models run.

dbt runs with the settings the CLI would choose for the lake (ADR 0058): profiles.yml's
defaults below 4 GiB of Bronze, a large lake's from there (`DBT_THREADS=1`,
`DUCKDB_PRESERVE_INSERTION_ORDER=false`, `DUCKDB_JE_MALLOC_CONF=dirty_decay_ms:0,...`), each
unless that variable is set, and none of them with `--dbt-threads`. The script runs without
the allocator setting, as written.

The lake is synthetic but shaped like the extractor's: 3,000 charges rendered by the mock
(`mock_api.dataset`) are templates for N charges varying id, amount, currency, status,
refunds, created (30 days) and payment intent; 10% of charges are written twice (a later
`charge.refunded` event), so the dedup has work to do. Customers, invoices and events come
straight from the mock. Generation is not measured, and a lake with the same parameters is
reused.

dbt runs on a copy of the repo's dbt files as committed at HEAD (`git archive`, recorded in the
JSON), so edits in progress in the working tree cannot change the project between runs;
`--project-dir` measures another project. The baseline is compiled from that same project.

Each measured command runs in a fresh wrapper process that reports its child's wall time and
peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss`). Per run: `dbt build` on an empty
Silver/Gold/warehouse, then `dbt run` (models only), then the baseline script into its own
folder. Medians go to a table on stdout and to `bench/results/dbt_bench.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from bench.harness import (  # noqa: E402
    MOCK_NOW,
    cmdline,
    write_result,
)
from bench.proc_tree import TreeSampler  # noqa: E402
from extractor.lake import layout  # noqa: E402
from extractor.lake.storage import LocalStorage  # noqa: E402
from extractor.settings import Settings  # noqa: E402
from extractor.streams import ENTITY_NAMES  # noqa: E402
from extractor.transform.build_resources import large_lake_env, settings_in_force  # noqa: E402
from extractor.transform.fold import scan_bronze  # noqa: E402
from mock_api.dataset import Dataset, MockConfig  # noqa: E402
from tests.support.servers import start_mock_api  # noqa: E402

RESULTS = REPO / "bench" / "results"
BASELINE_GENERATOR = REPO / "bench" / "baseline_sql.py"
DAY = 86_400
START = 1_767_225_600  # 2026-01-01T00:00:00Z
SPAN_DAYS = 30
# An extracted lake's window (the mock's volume is per day).
EXTRACT_DAYS = 5
LOADED_AT = "2026-02-10T12:00:00.123456Z"
FAILED_SHARE = 0.08
REFUND_SHARE = 0.08
DUPLICATE_SHARE = 0.10
# (currency, weight, min amount, max amount) in minor units: yen and won have no decimals,
# dinars have three.
CURRENCIES = (
    ("usd", 40, 500, 50_000),
    ("eur", 20, 500, 50_000),
    ("gbp", 12, 500, 50_000),
    ("jpy", 12, 100, 50_000),
    ("krw", 8, 1_000, 500_000),
    ("kwd", 8, 500, 100_000),
)
ENTITIES = ENTITY_NAMES
GOLD = (
    "dim_customers",
    "fct_payments",
    "fct_invoices",
    "agg_daily_revenue",
    "rpt_webhook_reconciliation",
)
# (output folder, model) for every model the build writes.
MODELS = tuple(
    (layout.silver_entity(entity).rstrip("/"), f"stg_stripe__{entity}")
    for entity in (*ENTITY_NAMES, layout.WEBHOOK_ENTITY)
) + tuple((layout.gold_model(model).rstrip("/"), model) for model in GOLD)
LIST_HEAD = (
    '{"_run_id":"%s","_loaded_at":"' + LOADED_AT + '","_observed_at":%d,"_source":"list",'
    '"_event_id":null,"_event_type":null,"data":'
)
EVENT_HEAD = (
    '{"_run_id":"%s","_loaded_at":"' + LOADED_AT + '","_observed_at":%d,"_source":"event",'
    '"_event_id":"%s","_event_type":"%s","data":'
)
# The wrapper each measured command runs in: argv = [log file, command...]; prints one JSON line.
WRAPPER = """
import json, resource, subprocess, sys, time
with open(sys.argv[1], "w") as log:
    started = time.perf_counter()
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"exit_code": code, "wall_seconds": wall, "peak_rss_kib": peak}))
"""


# ---------------------------------------------------------------------------- the lake


def bronze_file(lake: Path, entity: str, day: int, handles: dict[tuple[str, int], IO[str]]):
    """The open part file of `entity` for the daily run of `day` (days since START)."""
    key = (entity, day)
    if key not in handles:
        date = time.strftime("%Y-%m-%d", time.gmtime(START + day * DAY))
        folder = lake / layout.bronze_run(entity, date, f"bench-{date}")
        folder.mkdir(parents=True, exist_ok=True)
        handles[key] = open(folder / "part-00000.jsonl", "w", buffering=1 << 20)  # noqa: SIM115
    return handles[key]


def fill_in(obj: dict[str, Any], numbers: tuple[str, ...], strings: tuple[str, ...]) -> str:
    """`obj` as compact JSON with `%(name)s` slots for the given top-level fields."""
    marked = dict(obj)
    for name in numbers + strings:
        marked[name] = f"@@{name}@@"
    text = json.dumps(marked, separators=(",", ":")).replace("%", "%%")
    for name in numbers:
        text = text.replace(f'"@@{name}@@"', f"%({name})s")
    for name in strings:
        text = text.replace(f"@@{name}@@", f"%({name})s")
    return text


CHARGE_NUMBERS = ("amount", "amount_captured", "amount_refunded", "created", "refunded")
CHARGE_STRINGS = ("id", "currency", "payment_intent")


def mock_templates(dataset: Dataset, now: int) -> tuple[list[str], list[str], set[str]]:
    """Succeeded and failed charge templates from the mock, and the listed customer ids."""
    customers = {c["id"] for c in dataset.objects("customers", now)}
    ok: list[str] = []
    failed: list[str] = []
    for charge in dataset.objects("charges", now):
        if charge.get("customer") not in customers:
            continue
        text = fill_in(charge, CHARGE_NUMBERS, CHARGE_STRINGS)
        (failed if charge["status"] == "failed" else ok).append(text)
    return ok, failed, customers


PI_TEMPLATE = fill_in(
    {
        "id": "",
        "object": "payment_intent",
        "amount": 0,
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "created": 0,
        "currency": "",
        "customer": "",
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": "",
        "livemode": False,
        "metadata": {},
        "payment_method": "",
        "status": "",
    },
    ("amount", "amount_received", "created", "last_payment_error"),
    ("id", "currency", "customer", "latest_charge", "payment_method", "status"),
)


def charge_values(i: int, n: int, rng: random.Random, failed: bool) -> dict[str, Any]:
    """The varying fields of charge `i` of `n`."""
    currency, _, low, high = rng.choices(CURRENCIES, weights=[c[1] for c in CURRENCIES])[0]
    amount = rng.randint(low, high)
    refunded = 0
    if not failed and rng.random() < REFUND_SHARE:
        refunded = amount if rng.random() < 0.6 else amount // 3
    return {
        "id": f"ch_bench{i:016d}",
        "payment_intent": f"pi_bench{i:016d}",
        "currency": currency,
        "amount": amount,
        "amount_captured": 0 if failed else amount,
        "amount_refunded": refunded,
        "refunded": "true" if refunded == amount else "false",
        "created": START + (i * SPAN_DAYS * DAY) // n + rng.randint(0, 59),
    }


def payment_intent_line(values: dict[str, Any], customer: str, failed: bool) -> str:
    pi = {
        "id": values["payment_intent"],
        "amount": values["amount"],
        "amount_received": 0 if failed else values["amount"],
        "created": values["created"],
        "currency": values["currency"],
        "customer": customer,
        "latest_charge": values["id"],
        "payment_method": "pm_bench" + values["id"][8:],
        "status": "requires_payment_method" if failed else "succeeded",
        "last_payment_error": '{"code":"card_declined"}' if failed else "null",
    }
    return PI_TEMPLATE % pi


def write_charges(lake: Path, n: int, ok: list[str], failed: list[str], seed: int) -> dict:
    """N charges (plus 10% refunded duplicates from events) and one payment intent each."""
    rng = random.Random(seed)
    handles: dict[tuple[str, int], IO[str]] = {}
    duplicates = 0
    try:
        for i in range(n):
            is_failed = rng.random() < FAILED_SHARE
            template = rng.choice(failed if is_failed else ok)
            values = charge_values(i, n, rng, is_failed)
            customer = template.split('"customer":"', 1)[1].split('"', 1)[0]
            day = (values["created"] - START) // DAY
            observed = values["created"] + 3_600
            out = bronze_file(lake, "charges", day, handles)
            out.write(LIST_HEAD % (f"bench-{day}", observed) + template % values + "}\n")
            pis = bronze_file(lake, "payment_intents", day, handles)
            pi = payment_intent_line(values, customer, is_failed)
            pis.write(LIST_HEAD % (f"bench-{day}", observed) + pi + "}\n")
            if not is_failed and rng.random() < DUPLICATE_SHARE / (1 - FAILED_SHARE):
                duplicates += 1
                later = rng.randint(1, 9)
                values.update(amount_refunded=values["amount"], refunded="true")
                head = EVENT_HEAD % (
                    f"bench-{day + later}",
                    observed + later * DAY,
                    f"evt_bench{i:016d}",
                    "charge.refunded",
                )
                events = bronze_file(lake, "charges", day + later, handles)
                events.write(head + template % values + "}\n")
    finally:
        for handle in handles.values():
            handle.close()
    return {"charges": n, "charge_duplicates": duplicates, "payment_intents": n}


def write_mock_entities(lake: Path, dataset: Dataset, now: int) -> dict:
    """Customers, invoices and events as the mock lists them at `now`, one run."""
    counts = {}
    day = (now - START) // DAY
    handles: dict[tuple[str, int], IO[str]] = {}
    try:
        for entity in ("customers", "invoices", "events"):
            out = bronze_file(lake, entity, day, handles)
            objects = dataset.objects(entity, now)
            for obj in objects:
                data = json.dumps(obj, separators=(",", ":"))
                if entity == "events":
                    head = EVENT_HEAD.replace('"event"', '"list"') % (
                        "bench-mock",
                        now,
                        obj["id"],
                        obj["type"],
                    )
                else:
                    head = LIST_HEAD % ("bench-mock", now)
                out.write(head + data + "}\n")
            counts[entity] = len(objects)
    finally:
        for handle in handles.values():
            handle.close()
    return counts


def ensure_lake(work: Path, n: int, seed: int, source: str = "extract") -> tuple[Path, dict]:
    """The Bronze lake for N charges, generated once per parameter set: extracted from the
    real mock (every resource, consistent: the ledger, billing and payouts of those charges;
    the default) or synthetic (charges and payment intents templated from the mock's, for
    sizes whose extraction would take hours; no ledger or billing at scale)."""
    lake = work / f"lake-{n}" if source == "synthetic" else work / f"lake-{n}-extracted"
    marker = lake / "_bench_params.json"
    params = {"charges": n, "seed": seed, "span_days": SPAN_DAYS, "generator": 1}
    if source == "extract":
        params = {"charges": n, "days": EXTRACT_DAYS, "mock_now": MOCK_NOW, "generator": 2}
    if marker.exists():
        stored = json.loads(marker.read_text())
        if stored.get("params") == params:
            print(f"reusing {lake}", flush=True)
            return lake, stored["counts"]
    shutil.rmtree(lake, ignore_errors=True)
    started = time.perf_counter()
    if source == "extract":
        counts = extract_lake(lake, n)
    else:
        dataset = Dataset(MockConfig(seed=42, start_date="2026-01-01", volume=200))
        now = START + 15 * DAY
        ok, failed, _ = mock_templates(dataset, now)
        counts = write_mock_entities(lake, dataset, now)
        counts |= write_charges(lake, n, ok, failed, seed)
        counts["templates"] = len(ok) + len(failed)
    counts["bronze_mib"] = round(dir_bytes(lake / "bronze") / 2**20)
    marker.write_text(json.dumps({"params": params, "counts": counts}, indent=2))
    print(f"generated {lake} in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
    return lake, counts


def extract_lake(lake: Path, n: int) -> dict:
    """`payments-pipeline run-all` (extraction only) of EXTRACT_DAYS days from the real mock,
    its clock frozen at MOCK_NOW and its volume set so that about N charges fall in them."""
    volume = max(1, n // EXTRACT_DAYS)
    with tempfile.TemporaryDirectory(prefix="dbt-bench-mock-") as logs:
        server = start_mock_api(
            {"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume)}, log_dir=Path(logs)
        )
        try:
            env = {
                **os.environ,
                "STRIPE_API_BASE": server.url,
                "LAKE_ROOT": str(lake),
                "STRIPE_RATE_LIMIT_RPS": "100000",
                "EXTRACT_MAX_WORKERS": "4",
                "RUN_ID": "bench-extract",
            }
            command = [sys.executable, "-m", "extractor", "run-all", "--days", str(EXTRACT_DAYS)]
            subprocess.run(command, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        finally:
            server.stop()
    manifest = json.loads((lake / "_state/manifests/run_bench-extract.json").read_text())
    entities = manifest["extract"].get("entities", {})
    return {
        name: (entity.get("records") if isinstance(entity, dict) else entity)
        for name, entity in entities.items()
    }


def dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- the baseline


def generate_baseline(lake: Path, out: Path, work: Path, project: Path) -> Path:
    """The baseline script for `project` on `lake`, writing under `out` (bench/baseline_sql.py:
    `dbt compile`, in its own process; not measured)."""
    sql = work / "duckdb_baseline.sql"
    command = [sys.executable, str(BASELINE_GENERATOR), "--lake", str(lake), "--out", str(out)]
    command += ["--sql", str(sql), "--project-dir", str(project), "--work-dir", str(work)]
    subprocess.run(command, env=dbt_env(lake), cwd=REPO, check=True)
    return sql


def baseline_statements(sql: Path) -> list[tuple[str, str]]:
    """(step name, SQL) from the generated script: a step starts at its `-- step:` line."""
    text = sql.read_text()
    steps = []
    for chunk in re.split(r"^-- step: ", text, flags=re.MULTILINE)[1:]:
        name, sql = chunk.split("\n", 1)
        steps.append((name.strip(), sql.strip()))
    return steps


def run_baseline(sql: Path) -> None:
    """The whole Silver and Gold build as one DuckDB script in this process."""
    steps = baseline_statements(sql)
    # DuckDB creates a partitioned write's folder but not its parents.
    for _, statement in steps:
        for folder in re.findall(r"^\) to '([^']+)'", statement, flags=re.MULTILINE):
            Path(folder).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("set partitioned_write_max_open_files = 10000")
    for name, sql in steps:
        started = time.perf_counter()
        run_step(con, sql)
        step = {"step": name, "seconds": round(time.perf_counter() - started, 3)}
        print(json.dumps(step), flush=True)


def run_step(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """One model's COPY and view. A model with no rows gets dbt-duckdb's treatment: one row
    of nulls written (so the folder has its columns) and a view that shows no row."""
    copy_sql, found, view_sql = sql.partition(";\ncreate view ")
    if not found or not copy_sql.startswith("copy ("):
        con.execute(sql)
        return
    if con.execute(copy_sql).fetchone()[0] == 0:
        query, _, target = copy_sql[len("copy (") :].rpartition("\n) to '")
        con.execute(
            "copy (select m.* from (select 1) as one left join ("
            + query
            + "\n) as m on true) to '"
            + target
        )
        name, _, body = view_sql.partition(" as\n")
        view_sql = f"{name} as select * from ({body.rstrip().rstrip(';')}) where false"
    con.execute("create view " + view_sql)


# ---------------------------------------------------------------------------- measuring


def measure(
    command: list[str], env: dict[str, str], log: Path, sample_tree: bool = False
) -> dict[str, Any]:
    """Run `command` in a fresh wrapper process: exit code, wall seconds, peak RSS. With
    `sample_tree`, also the peak RSS of the wrapper's whole process tree and of its JVM,
    sampled from /proc (bench/proc_tree.py): getrusage misses Spark's JVM, which pyspark
    starts and never waits for."""
    wrapper = [sys.executable, "-c", WRAPPER, str(log), *command]
    process = subprocess.Popen(
        wrapper, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = TreeSampler(process.pid).start() if sample_tree else None
    stdout, stderr = process.communicate()
    if sampler is not None:
        sampler.stop()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, wrapper, stdout, stderr)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = round(result.pop("peak_rss_kib") / 1024, 1)
    result["wall_seconds"] = round(result["wall_seconds"], 2)
    if sampler is not None:
        result["peak_tree_rss_mib"] = round(sampler.peak_total_bytes / 2**20, 1)
        result["peak_jvm_rss_mib"] = (
            round(sampler.peak_named_bytes / 2**20, 1) if sampler.named_seen else None
        )
        result["samples"] = sampler.samples
    if result["exit_code"] != 0:
        print(f"  !! exit {result['exit_code']}: see {log}", flush=True)
    return result


def snapshot_project(work: Path) -> tuple[Path, str]:
    """The dbt project as committed at HEAD, in `work/project`: stable while others edit."""
    commit = git("rev-parse", "HEAD").strip()
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit, "dbt_project.yml", "profiles.yml", "dbt_project"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(project)], input=archive, check=True)
    return project, commit


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout


def dbt_command(verb: str, work: Path, project: Path) -> list[str]:
    dbt = str(Path(sys.executable).parent / "dbt")
    return [
        dbt,
        verb,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "dbt-target"),
        "--log-path",
        str(work / "dbt-logs"),
    ]


def dbt_env(lake: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LAKE_ROOT=str(lake),
        WAREHOUSE_PATH=str(lake / "_state" / "warehouse.duckdb"),
        DUCKDB_EXTENSIONS_HOME=str(REPO / "target" / "duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        # As the pipeline runs dbt (extractor/transform/dbt.py, ADR 0054): dbt's own default
        # file log level is debug, which costs 5-10% of a build's CPU.
        DBT_LOG_LEVEL_FILE=os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
    )
    return env


def reset(root: Path, folders: tuple[str, ...]) -> None:
    """Empty the output folders (and recreate them: DuckDB does not create parents)."""
    for folder in folders:
        path = root / folder
        if path.is_file():
            path.unlink()
        shutil.rmtree(path, ignore_errors=True)
    for folder in layout.EXTERNAL_ROOTS:
        (root / folder).mkdir(parents=True, exist_ok=True)


def node_seconds(work: Path) -> dict[str, float]:
    """Seconds per node kind (model, test, seed, unit_test) from dbt's run_results.json."""
    results = json.loads((work / "dbt-target" / "run_results.json").read_text())["results"]
    totals: dict[str, float] = {}
    for result in results:
        kind = result["unique_id"].split(".", 1)[0]
        totals[kind] = round(totals.get(kind, 0.0) + result["execution_time"], 2)
    return totals


def baseline_steps(log: Path) -> dict[str, float]:
    steps = {}
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            step = json.loads(line)
            steps[step["step"]] = step["seconds"]
    return steps


def one_round(
    lake: Path,
    base_out: Path,
    baseline_sql: Path,
    work: Path,
    project: Path,
    index: int,
    with_run: bool = True,
    exclude: tuple[str, ...] = (),
    dbt_threads: int | None = None,
) -> dict[str, dict]:
    """dbt build (empty outputs), dbt run (same warehouse), baseline (own folder); `exclude`:
    dbt selectors left out of both (`--exclude`); `dbt_threads`: dbt's `--threads` (how many
    nodes run at once; profiles.yml says 2)."""
    excluded = ["--exclude", *exclude] if exclude else []
    if dbt_threads:
        excluded += ["--threads", str(dbt_threads)]
    env = dbt_env(lake)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    reset(lake, ("silver", "gold", "_state/warehouse.duckdb", "_state/transforms"))
    build_command = [*dbt_command("build", work, project), *excluded]
    build = measure(build_command, env, logs / f"dbt-build-{index}.log")
    build["node_seconds"] = node_seconds(work)
    rounds = {"dbt build": build}
    if with_run:
        reset(lake, ("silver", "gold"))
        run_command = [*dbt_command("run", work, project), *excluded]
        run = measure(run_command, env, logs / f"dbt-run-{index}.log")
        run["node_seconds"] = node_seconds(work)
        rounds["dbt run"] = run
    shutil.rmtree(base_out, ignore_errors=True)
    command = [sys.executable, __file__, "--baseline-only", str(baseline_sql)]
    base_log = logs / f"baseline-{index}.log"
    # The script runs as written, with DuckDB's defaults: no allocator setting either.
    base_env = {k: v for k, v in env.items() if k != "DUCKDB_JE_MALLOC_CONF"}
    baseline = measure(command, base_env, base_log)
    baseline["step_seconds"] = baseline_steps(base_log)
    return {**rounds, "baseline script": baseline}


# ---------------------------------------------------------------------------- checking


def parquet_glob(root: Path, folder: str) -> str:
    return (
        f"select * from read_parquet('{root}/{folder}/*/*.parquet', "
        "union_by_name = false, hive_partitioning = false)"
    )


def row_counts(root: Path) -> dict[str, int]:
    """Rows per model in the Parquet under `root`. dbt writes an empty model as one all-null
    row (dt null) that its view filters out; the baseline writes no file: both count 0."""
    con = duckdb.connect()
    counts = {}
    for folder, model in MODELS:
        if not any((root / folder).glob("*/*.parquet")):
            counts[model] = 0
            continue
        query = f"select count(*) from ({parquet_glob(root, folder)}) where dt is not null"
        counts[model] = con.execute(query).fetchone()[0]
    return counts


def same_daily_revenue(lake: Path, base_out: Path) -> dict[str, Any]:
    """agg_daily_revenue from dbt and from the baseline, compared row for row both ways."""
    con = duckdb.connect()
    dbt_rows = parquet_glob(lake, layout.gold_model("agg_daily_revenue"))
    base_rows = parquet_glob(base_out, layout.gold_model("agg_daily_revenue"))
    only_dbt = con.execute(f"select count(*) from ({dbt_rows} except all {base_rows})")
    only_dbt_count = only_dbt.fetchone()[0]
    only_base = con.execute(f"select count(*) from ({base_rows} except all {dbt_rows})")
    only_base_count = only_base.fetchone()[0]
    rows = con.execute(f"select count(*) from ({dbt_rows})").fetchone()[0]
    return {
        "rows": rows,
        "only_in_dbt": only_dbt_count,
        "only_in_baseline": only_base_count,
        "equal": only_dbt_count == 0 and only_base_count == 0,
    }


# ---------------------------------------------------------------------------- reporting


def summarise(rounds: list[dict[str, dict]], rows: dict[str, int]) -> dict[str, dict]:
    summary = {}
    for name in rounds[0]:
        walls = [r[name]["wall_seconds"] for r in rounds]
        peaks = [r[name]["peak_rss_mib"] for r in rounds]
        summary[name] = {
            "median_wall_seconds": round(statistics.median(walls), 2),
            "median_peak_rss_mib": round(statistics.median(peaks), 1),
            "max_peak_rss_mib": max(peaks),
            "fct_payments_rows": rows["fct_payments"],
            "all_exit_zero": all(r[name]["exit_code"] == 0 for r in rounds),
        }
    return summary


def print_table(summary: dict[str, dict], ratios: dict[str, float], check: dict) -> None:
    print(f"\n{'':18} {'median wall s':>14} {'peak RSS MiB':>13} {'fct_payments rows':>18}")
    for name, row in summary.items():
        print(
            f"{name:18} {row['median_wall_seconds']:>14.2f} "
            f"{row['median_peak_rss_mib']:>13.1f} {row['fct_payments_rows']:>18,}"
        )
    for name, ratio in ratios.items():
        print(f"ratio {name}: {ratio:.2f}x")
    print(
        f"agg_daily_revenue dbt vs baseline: {check['rows']} rows, "
        f"{check['only_in_dbt']} only in dbt, {check['only_in_baseline']} only in baseline "
        f"-> {'EQUAL' if check['equal'] else 'DIFFERENT'}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=RESULTS / "work")
    parser.add_argument("--out", type=Path, default=RESULTS / "dbt_bench.json")
    parser.add_argument(
        "--project-dir",
        type=Path,
        help="dbt project to measure (default: the repo's dbt files as committed at HEAD)",
    )
    parser.add_argument("--no-dbt-run", action="store_true", help="measure dbt build only")
    parser.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="SELECTOR",
        help="dbt nodes to leave out of the measured dbt commands (e.g. the tests that fail on "
        "the synthetic lake for want of the resources it does not generate: "
        "bench/spark_bench.py SYNTHETIC_GAPS)",
    )
    parser.add_argument(
        "--lake",
        choices=("extract", "synthetic"),
        default="extract",
        help="Bronze extracted from the mock (every resource; default) or synthetic charges",
    )
    parser.add_argument("--generate-only", action="store_true", help="make the lake and stop")
    parser.add_argument(
        "--memory-limit",
        help="DuckDB memory_limit for dbt (DUCKDB_MEMORY_LIMIT, read by profiles.yml)",
    )
    parser.add_argument("--threads", type=int, help="DuckDB threads for dbt (DUCKDB_THREADS)")
    parser.add_argument(
        "--dbt-threads",
        type=int,
        help="dbt's --threads: nodes run at once, all in one DuckDB and its memory_limit "
        "(default: profiles.yml's 2)",
    )
    parser.add_argument("--name", default="dbt", help="table rows go to bench/results/NAME.json")
    parser.add_argument("--baseline-only", type=Path, metavar="SQL", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.baseline_only:
        run_baseline(args.baseline_only)
        return
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    lake, counts = ensure_lake(work, args.charges, args.seed, args.lake)
    if args.generate_only:
        return
    if args.memory_limit:
        os.environ["DUCKDB_MEMORY_LIMIT"] = args.memory_limit
    if args.threads:
        os.environ["DUCKDB_THREADS"] = str(args.threads)
    if not args.dbt_threads:
        # What the CLI would run this lake's build with (build_resources.LARGE_LAKE).
        threshold = Settings.from_env(dict(os.environ)).large_bronze_bytes
        chosen = large_lake_env(scan_bronze(LocalStorage(lake)).bytes, threshold)
        os.environ.update(chosen)
        if chosen:
            print(f"large lake: the CLI's settings {chosen}", flush=True)
    base_out = work / f"baseline-out-{args.charges}"
    if args.project_dir:
        project, commit = args.project_dir.resolve(), "working tree"
    else:
        project, commit = snapshot_project(work)
    print(f"dbt project: {project} ({commit})", flush=True)
    # Untimed: a first parse fills dbt's partial-parse cache, as on any machine that ran dbt.
    reset(lake, ("silver", "gold", "_state/warehouse.duckdb", "_state/transforms"))
    subprocess.run(dbt_command("parse", work, project), env=dbt_env(lake), cwd=REPO, check=True)
    baseline_sql = generate_baseline(lake, base_out, work, project)
    rounds = []
    for index in range(args.runs):
        rounds.append(
            one_round(
                lake,
                base_out,
                baseline_sql,
                work,
                project,
                index,
                not args.no_dbt_run,
                tuple(args.exclude),
                args.dbt_threads,
            )
        )
        print(f"run {index + 1}: " + json.dumps(rounds[-1]), flush=True)
    rows = row_counts(lake)
    baseline_rows = row_counts(base_out)
    builds_ok = all(r["dbt build"]["exit_code"] == 0 for r in rounds)
    if builds_ok:
        check = same_daily_revenue(lake, base_out)
    else:
        check = {"equal": None, "rows": 0, "only_in_dbt": None, "only_in_baseline": None}
        check["dbt_errors"] = dbt_errors(work / "logs")
    check["row_counts_equal"] = rows == baseline_rows
    summary = summarise(rounds, rows)
    base = summary["baseline script"]["median_wall_seconds"]
    ratios = {
        f"{name} / baseline": round(summary[name]["median_wall_seconds"] / base, 2)
        for name in ("dbt build", "dbt run")
        if name in summary
    }
    print_table(summary, ratios, check)
    print(f"row counts per model equal: {check['row_counts_equal']} {rows}")
    report = {
        "command": "  ".join(sys.argv),
        "dbt_project": {"path": str(project), "commit": commit},
        "dbt_settings": {
            **settings_in_force(os.environ),
            **({"DBT_THREADS": str(args.dbt_threads)} if args.dbt_threads else {}),
        },
        "machine": {"cpus": os.cpu_count(), "platform": sys.platform},
        "lake": counts,
        "summary": summary,
        "ratios": ratios,
        "agg_daily_revenue_check": check,
        "rows_dbt": rows,
        "rows_baseline": baseline_rows,
        "runs": rounds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    rows_out = table_rows(args, summary, rounds, counts, check)
    write_result(args.name, rows_out, {"report": str(args.out)})


def dbt_errors(logs: Path) -> list[str]:
    """The distinct error lines of failed dbt builds (e.g. DuckDB's Out of Memory)."""
    found: list[str] = []
    for log in sorted(logs.glob("dbt-build-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
            if "Error:" in line and line not in found:
                found.append(line)
    return found[:4]


def table_rows(args, summary: dict, rounds: list, counts: dict, check: dict) -> list[dict]:
    """The docs/benchmarks.md rows: dbt build vs the script, goal 1.5x + 3 s and 1 GiB."""
    build = summary["dbt build"]
    base = summary["baseline script"]
    allowed = 1.5 * base["median_wall_seconds"] + 3
    walls = " / ".join(f"{r['dbt build']['wall_seconds']:.1f}" for r in rounds)
    base_walls = " / ".join(f"{r['baseline script']['wall_seconds']:.1f}" for r in rounds)
    settings = ", ".join(
        f"{k}={os.environ[k]}"
        for k in (
            "DBT_THREADS",
            "DUCKDB_MEMORY_LIMIT",
            "DUCKDB_THREADS",
            "DUCKDB_PRESERVE_INSERTION_ORDER",
            "DUCKDB_JE_MALLOC_CONF",
        )
        if k in os.environ
    )
    if args.dbt_threads:
        settings = ", ".join(filter(None, [settings, f"dbt --threads {args.dbt_threads}"]))
    label = f"; {settings}" if settings else "; profiles.yml defaults"
    failed = not build["all_exit_zero"]
    if failed:
        walls += " (failed: " + "; ".join(check.get("dbt_errors") or ["see the dbt log"]) + ")"
    return [
        {
            "benchmark": f"Transforms: `dbt build` (Silver + Gold, tests) on {args.charges:,} "
            f"charges ({counts.get('bronze_mib', '?')} MiB Bronze){label}",
            "figure": f"{build['median_wall_seconds']:.1f} s (runs {walls}); peak RSS max "
            f"{build['max_peak_rss_mib']:,.0f} MiB",
            "baseline": f"one DuckDB script, same SQL: {base['median_wall_seconds']:.1f} s "
            f"(runs {base_walls}), peak RSS {base['median_peak_rss_mib']:,.0f} MiB; "
            f"daily revenue equal: {check['equal']}",
            "ratio": build["median_wall_seconds"] / base["median_wall_seconds"],
            "goal": f"≤ 1.5× script + 3 s (here ≤ {allowed:.1f} s), peak ≤ 1 GiB",
            "met": not failed
            and build["median_wall_seconds"] <= allowed
            and build["max_peak_rss_mib"] <= 1024,
            "peak_rss_mib": build["median_peak_rss_mib"],
            "command": cmdline(),
        }
    ]


if __name__ == "__main__":
    main()
