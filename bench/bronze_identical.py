"""Does this tree's extractor write the same Bronze as another commit's? Line by line.

    .venv/bin/python bench/bronze_identical.py [--base-ref main] [--charges 2000] [--days 5]

Extracts the base commit (`git archive`, nothing in the repo changes) into a temp folder, starts
one mock with its clock frozen at MOCK_NOW, and runs `python -m extractor run-all` from both
trees into two lakes, twice, in step: a first run (parts capped at 7,000 records, so parts
roll), then, with the mock's clock two hours on, an incremental run with gzip parts (new
objects and events, the safety window read again, unchanged re-reads dropped, children of
new parents). Both trees run with the same RUN_ID, so the only envelope field that may
differ is `_loaded_at`: this host's clock when the page was written. Every other byte of
every line must match; lines are compared as a sorted multiset per entity and run, because
four workers append pages to a part in whatever order they finish (the order differs between
two runs of one tree). Part boundaries differ for the same reason, so files are compared by
total rows and bytes. The state the runs leave (watermarks, re-read digests, listed parents)
and the manifests' counts must match too, except their times. Exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import MOCK_NOW, MOCK_NOW_TS  # noqa: E402
from tests.support.servers import start_mock_api  # noqa: E402

PYTHON = REPO / ".venv" / "bin" / "python"
# Every line starts with the run id and the load time; the time is this host's, per page.
LOADED_AT = re.compile(
    rb'^(\{"_run_id":"[^"]+",)"_loaded_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",'
)
# Per run: (the mock's clock, extra settings). The second run is incremental.
RUNS = (
    (MOCK_NOW_TS, {"BRONZE_PART_MAX_RECORDS": "7000"}),
    (MOCK_NOW_TS + 7200, {"BRONZE_GZIP": "1"}),
)
# Fields that are times of this host (or durations), not what was extracted.
TIMES = {"updated_at", "started_at", "ended_at", "duration_seconds", "records_per_second"}


def export(ref: str, into: Path) -> Path:
    """The tree of `ref`, as files in `into`."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def extract(tree: Path, lake: Path, api_base: str, run: int, extra: dict[str, str]) -> None:
    env = {
        **os.environ,
        **extra,
        "PYTHONPATH": str(tree),
        "STRIPE_API_BASE": api_base,
        "LAKE_ROOT": str(lake),
        "STRIPE_RATE_LIMIT_RPS": "100000",
        "EXTRACT_MAX_WORKERS": "4",
        "RUN_ID": f"cmp-{run}",
    }
    command = [str(PYTHON), "-m", "extractor", "run-all", "--days", str(ARGS.days)]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: run {run} failed:\n{done.stdout}\n{done.stderr}")


def bronze_lines(lake: Path) -> dict[str, Counter[bytes]]:
    """entity/run -> its lines with `_loaded_at` blanked, and the file totals."""
    out: dict[str, Counter[bytes]] = {}
    for path in sorted((lake / "bronze").rglob("part-*")):
        parts = dict(p.split("=", 1) for p in path.parent.relative_to(lake / "bronze").parts)
        body = path.read_bytes()
        if path.suffix == ".gz":
            body = gzip.decompress(body)
        if not body.endswith(b"\n"):
            raise SystemExit(f"{path}: last line has no newline")
        lines = out.setdefault(f"{parts['entity']}/{parts['run_id']}", Counter())
        for line in body.split(b"\n")[:-1]:
            blanked, found = LOADED_AT.subn(rb'\1"_loaded_at":"-",', line)
            if not found:
                raise SystemExit(f"{path}: a line does not start with _run_id, _loaded_at")
            lines[blanked] += 1
    return out


def without_times(value: object) -> object:
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def state(lake: Path) -> dict[str, object]:
    """Watermarks, re-read digests, listed parents, and each manifest's counts."""
    out: dict[str, object] = {}
    for path in sorted((lake / "_state").rglob("*.json")):
        doc = json.loads(path.read_text())
        key = str(path.relative_to(lake))
        if "manifests" in path.parts:
            section = doc["extract"]
            entities = {}
            for name, entity in section["entities"].items():
                files = entity.pop("files")
                entity["file_rows"] = sum(f["rows"] for f in files)
                # gzip's bytes depend on the order of the lines (and their load times)
                plain = [f["bytes"] for f in files if not f["key"].endswith(".gz")]
                entity["file_bytes"] = sum(plain) if len(plain) == len(files) else None
                entities[name] = entity
            gzipped = any(e["file_bytes"] is None for e in entities.values())
            skip = {"files", "bytes"} if gzipped else {"files"}
            totals = {k: v for k, v in section["totals"].items() if k not in skip}
            doc = {"status": section["status"], "entities": entities, "totals": totals}
        out[key] = without_times(doc)
    return out


def compare(base: Path, mine: Path) -> list[str]:
    problems = []
    a, b = bronze_lines(base), bronze_lines(mine)
    for key in sorted(set(a) | set(b)):
        la, lb = a.get(key, Counter()), b.get(key, Counter())
        total = sum(la.values())
        if la == lb:
            print(f"  {key}: {total:,} lines identical")
            continue
        only_a, only_b = la - lb, lb - la
        problems.append(
            f"{key}: {sum(only_a.values())} lines only in base, {sum(only_b.values())} only "
            f"in this tree (of {total:,} / {sum(lb.values()):,})"
        )
        for line in list(only_a)[:1]:
            problems.append(f"    base: {line[:300]!r}")
        for line in list(only_b)[:1]:
            problems.append(f"    this: {line[:300]!r}")
    sa, sb = state(base), state(mine)
    for key in sorted(set(sa) | set(sb)):
        if sa.get(key) != sb.get(key):
            problems.append(f"{key} differs:\n    base: {sa.get(key)}\n    this: {sb.get(key)}")
    print(f"  state files identical but for times: {sum(sa.get(k) == sb.get(k) for k in sa)}")
    return problems


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bronze-identical-"))
    base_tree = export(ARGS.base_ref, work / "base")
    volume = max(1, ARGS.charges // ARGS.days)
    server = start_mock_api({"MOCK_NOW": MOCK_NOW, "MOCK_VOLUME": str(volume)}, log_dir=work)
    try:
        for run, (now, extra) in enumerate(RUNS, 1):
            server.set_clock(now)
            for tree, lake in ((base_tree, work / "lake-base"), (REPO, work / "lake-this")):
                extract(tree, lake, server.url, run, extra)
        print(f"base {ARGS.base_ref} vs {REPO}:")
        problems = compare(work / "lake-base", work / "lake-this")
    finally:
        server.stop()
        if not ARGS.keep:
            shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print(problem)
    print("IDENTICAL" if not problems else "DIFFERENT", f"(work folder {work})" * ARGS.keep)
    return 1 if problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-ref", default="main")
    parser.add_argument("--charges", type=int, default=2000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the lakes and mock log")
    ARGS = parser.parse_args()
    sys.exit(main())
