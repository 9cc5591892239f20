"""Cost model inputs, measured: bytes per million charges per layer, and S3 requests per run.

    .venv/bin/python bench/cost_model.py [--lake bench/results/work/lake-1000000]
                                         [--runs 3] [--skip-storage] [--skip-s3]

Storage: on the 1M-charge lake that `bench/dbt_bench.py` generates (and built Silver on), the
bytes of Bronze JSONL, of the same files gzipped at level 6 (what `BRONZE_GZIP=1` writes:
`gzip.compress(body, compresslevel=6)` per part) and of Silver Parquet, per million charges.
That lake is synthetic (mock-rendered templates), so a cross-check extracts a small lake from
the real mock twice, plain and with `BRONZE_GZIP=1`, and compares bytes per charge line.

S3 requests: a `moto_server` on loopback logs one line per HTTP request
(`"PUT /bucket/key HTTP/1.1" 200`). The mock API runs with a frozen clock; each run is
`python -m extractor run-pipeline --days 1` on `s3://<bucket>/lake`, then the clock moves a day
(`POST /_mock/clock {"advance": 86400}`), as a daily schedule would. The log lines of each run
are counted by S3 price class: PUT/POST/COPY/LIST (ListObjects is a GET on the bucket with
`list-type` or `prefix`), GET/HEAD, DELETE (free).

Writes `bench/results/cost_model.json` and prints the tables that `docs/cost_model.md` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
import duckdb  # noqa: E402

from extractor.lake import layout  # noqa: E402
from extractor.streams import ENTITY_NAMES  # noqa: E402
from tests.support.cli import child_env, run_cli  # noqa: E402
from tests.support.servers import start_mock_api, start_moto  # noqa: E402

RESULTS = REPO / "bench" / "results"
DEFAULT_LAKE = RESULTS / "work" / "lake-1000000"
MOCK_NOW = "2026-02-20T00:00:00Z"
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
LOG_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
MIB = 1 << 20
ENTITIES = ENTITY_NAMES


# ---------------------------------------------------------------------------- storage


def gzip_size(path: str) -> tuple[int, int, int]:
    """(raw bytes, gzip level-6 bytes, lines) of one file, streamed in 16 MiB chunks."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip container, as gzip.compress
    raw = packed = lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(16 * MIB):
            raw += len(chunk)
            lines += chunk.count(b"\n")
            packed += len(comp.compress(chunk))
    packed += len(comp.flush())
    return raw, packed, lines


def layer_bytes(folder: Path, pattern: str) -> tuple[int, int]:
    files = list(folder.rglob(pattern)) if folder.exists() else []
    return sum(f.stat().st_size for f in files), len(files)


def measure_lake(lake: Path, workers: int) -> dict:
    """Bytes per layer of the 1M-charge bench lake, per million charges."""
    params = json.loads((lake / "_bench_params.json").read_text())
    charges = params["counts"]["charges"]
    out: dict = {"lake": str(lake.relative_to(REPO)), "charges": charges, "entities": {}}
    for entity in ENTITIES:
        bronze = lake / layout.bronze_entity(entity)
        files = sorted(str(p) for p in bronze.rglob("*.jsonl"))
        started = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            sizes = list(pool.map(gzip_size, files))
        silver, silver_files = layer_bytes(lake / layout.silver_entity(entity), "*.parquet")
        silver_rows = duckdb.sql(
            "select count(*) from read_parquet(?)",
            params=[str(lake / layout.silver_entity(entity) / "*/*.parquet")],
        ).fetchone()[0]
        out["entities"][entity] = {
            "bronze_files": len(files),
            "bronze_lines": sum(s[2] for s in sizes),
            "bronze_jsonl_bytes": sum(s[0] for s in sizes),
            "bronze_gzip6_bytes": sum(s[1] for s in sizes),
            "silver_files": silver_files,
            "silver_rows": silver_rows,
            "silver_parquet_bytes": silver,
            "gzip_seconds": round(time.perf_counter() - started, 1),
        }
        print(f"  {entity}: {out['entities'][entity]}", flush=True)
    gold, gold_files = layer_bytes(lake / "gold", "*.parquet")
    out["gold_parquet_bytes"], out["gold_files"] = gold, gold_files
    return out


def extract_cross_check(volume: int, days: int) -> dict:
    """Bytes per charge line from the real extractor and mock, plain vs BRONZE_GZIP=1."""
    result: dict = {"mock_volume": volume, "days": days}
    with tempfile.TemporaryDirectory(prefix="cost-model-") as tmp:
        mock = start_mock_api({"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume)}, Path(tmp))
        try:
            for label, gz in (("plain", "0"), ("gzip", "1")):
                lake = Path(tmp) / f"lake-{label}"
                env = child_env(lake, mock.url, BRONZE_GZIP=gz)
                run_cli("run-all", "--days", str(days), env=env, timeout=None).check_returncode()
                folder = lake / layout.bronze_entity("charges")
                files = [p for p in folder.rglob("part-*") if p.is_file()]
                lines = 0
                for p in files:
                    body = p.read_bytes()
                    if p.suffix == ".gz":
                        body = zlib.decompress(body, 31)
                    lines += body.count(b"\n")
                result[label] = {
                    "charge_lines": lines,
                    "bytes": sum(p.stat().st_size for p in files),
                }
        finally:
            mock.stop()
    return result


# ---------------------------------------------------------------------------- S3 requests


def classify(method: str, target: str) -> str:
    """S3 price class of one request, from its method and path?query."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket_level = parts.path.strip("/").count("/") == 0
    if method == "GET" and bucket_level and ("list-type" in query or "prefix" in query):
        return "LIST"
    if method in ("PUT", "POST", "COPY"):
        return "PUT"
    if method in ("GET", "HEAD"):
        return "GET"
    if method == "DELETE":
        return "DELETE"
    return method


def prefix_of(target: str) -> str:
    """The lake area a request touched: bronze, silver, gold, _state or (bucket)."""
    parts = urlsplit(target)
    path = parts.path.strip("/").split("/")
    query = parse_qs(parts.query)
    key = "/".join(path[1:]) if len(path) > 1 else query.get("prefix", [""])[0]
    key = key.removeprefix("lake/").lstrip("/")
    return key.split("/", 1)[0] or "(bucket)"


def count_requests(lines: list[str]) -> dict:
    by_class: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    for line in lines:
        match = LOG_LINE.search(line)
        if not match:
            continue
        kind = classify(match["method"], match["target"])
        by_class[kind] += 1
        by_area[f"{prefix_of(match['target'])} {kind}"] += 1
    return {"by_class": dict(by_class), "by_area": dict(sorted(by_area.items()))}


def s3_runs(runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="cost-model-s3-") as tmp:
        logs = Path(tmp)
        moto = start_moto(logs)
        mock = start_mock_api({"MOCK_NOW": MOCK_NOW}, logs)
        try:
            bucket = "cost-model-lake"
            boto3.client("s3", endpoint_url=moto.url, **_creds()).create_bucket(Bucket=bucket)
            env = child_env(f"s3://{bucket}/lake", mock.url, **MOTO_ENV, AWS_ENDPOINT_URL=moto.url)
            out = []
            for n in range(1, runs + 1):
                before = len(moto.log_text().splitlines())
                started = time.perf_counter()
                proc = run_cli("run-pipeline", "--days", "1", env=env, timeout=None)
                wall = time.perf_counter() - started
                if proc.returncode != 0:
                    raise RuntimeError(f"run {n} failed:\n{proc.stderr[-3000:]}")
                time.sleep(0.5)  # let moto flush its last log lines
                lines = moto.log_text().splitlines()[before:]
                record = _records(proc.stdout)
                counts = count_requests(lines)
                out.append({"run": n, "wall_seconds": round(wall, 1), **record, **counts})
                print(f"  run {n}: {counts['by_class']} records={record}", flush=True)
                _post(f"{mock.url}/_mock/clock", {"advance": 86_400})
            return {"mock_now": MOCK_NOW, "mock_volume": 200, "runs": out}
        finally:
            mock.stop()
            moto.stop()


def _creds() -> dict:
    return {
        "aws_access_key_id": MOTO_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": MOTO_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": MOTO_ENV["AWS_REGION"],
    }


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()


def _records(stdout: str) -> dict:
    """Records extracted per entity, from run-pipeline's summary table."""
    records = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[0] in ENTITIES and fields[1].isdigit():
            records[fields[0]] = int(fields[1])
    return {"records": records}


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", type=Path, default=DEFAULT_LAKE)
    parser.add_argument("--runs", type=int, default=3, help="daily S3 runs to count")
    parser.add_argument("--workers", type=int, default=2, help="processes for gzip")
    parser.add_argument("--cross-check-volume", type=int, default=2000)
    parser.add_argument("--cross-check-days", type=int, default=2)
    parser.add_argument("--skip-storage", action="store_true")
    parser.add_argument("--skip-s3", action="store_true")
    args = parser.parse_args()

    os.environ.update(MOTO_ENV)
    target = RESULTS / "cost_model.json"
    result = json.loads(target.read_text()) if target.exists() else {}
    if not args.skip_storage:
        if not (args.lake / "_bench_params.json").exists():
            print(f"no bench lake at {args.lake}: run bench/dbt_bench.py first", file=sys.stderr)
            return 2
        print("storage, 1M-charge bench lake:", flush=True)
        result["storage"] = measure_lake(args.lake.resolve(), args.workers)
        print("cross-check on a lake extracted from the mock:", flush=True)
        result["cross_check"] = extract_cross_check(args.cross_check_volume, args.cross_check_days)
        print(f"  {result['cross_check']}", flush=True)
    if not args.skip_s3:
        print("S3 requests per run-pipeline --days 1 on moto_server:", flush=True)
        result["s3"] = s3_runs(args.runs)
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {target.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
