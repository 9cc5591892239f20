"""The baseline script of bench/dbt_bench.py, generated from `dbt compile` so it cannot drift.

    .venv/bin/python bench/baseline_sql.py --lake LAKE --out OUT --sql FILE
        [--project-dir DIR] [--work-dir DIR]

The script is every model of the dbt project, in dependency order, as the SQL dbt compiles for
the lake `LAKE` (macros expanded: Bronze read with `read_json(... columns={...})`, dedup,
timestamps, money). Each model's result is written straight to Parquet with the COPY options
of its dbt config (`options`: partition_by dt, overwrite_or_ignore, write_partition_columns)
into the folder the project's `lake_location` macro gives under `OUT`, and read back by the
downstream models through a view over the files with its `parquet_read_options`, as
dbt-duckdb's external materialization does. A `ref()` becomes that view's name; the seed is a
table read from its CSV with its `column_types`. What it leaves out is dbt's own work: process
start and parsing, the intermediate table in the warehouse file before each COPY, the data
tests. Each step starts with a `-- step: <name>` line, which the runner times on its own.

Nothing about the lake's layout is spelled here: paths come from the project's macros.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# A model whose optional Bronze has no files yet (webhook captures) compiles to its no-rows
# branch, marked by this comment (macro staging_model). A COPY of no rows writes no file to
# read back, so such a model is a view of its query, as before.
NO_ROWS_MARK = "-- Nothing captured yet"

# Each model's folder and Parquet files under the root given, from the project's macros.
LOCATIONS_INLINE = """
{%- for node in graph.nodes.values() if node.resource_type == 'model' %}
{{ node.name }} {{ lake_location(node.name, '@root@') }} {{ lake_table_files(node.name, '@root@') }}
{%- endfor %}
"""


def dbt(args: list[str], project: Path, work: Path, manifest: Any = None) -> Any:
    """One in-process dbt invocation (the parsed manifest is reused when given)."""
    from dbt.cli.main import dbtRunner

    flags = [
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "baseline-target"),
        "--log-path",
        str(work / "baseline-logs"),
        "--quiet",
    ]
    result = dbtRunner(manifest=manifest).invoke([*args, *flags])
    if not result.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {result.exception}")
    return result.result


def compile_project(lake: Path, project: Path, work: Path) -> tuple[dict, dict[str, tuple]]:
    """The manifest after `dbt compile` of the models, and each model's (folder, files)."""
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        LAKE_ROOT=str(lake),
        # Its own warehouse file: compiling opens one, and the measured builds must start empty.
        WAREHOUSE_PATH=str(work / "baseline-compile.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    os.environ.pop("PIPELINE_BRONZE_RUN_IDS", None)  # the full build, as the bench measures
    manifest = dbt(["parse"], project, work)
    dbt(["compile", "--select", "resource_type:model"], project, work, manifest)
    inline = dbt(["compile", "--inline", LOCATIONS_INLINE], project, work, manifest)
    locations = {}
    for line in inline.results[0].node.compiled_code.strip().splitlines():
        name, folder, files = line.split()
        locations[name] = (folder, files)
    compiled = json.loads((work / "baseline-target" / "manifest.json").read_text())
    return compiled, locations


def sql_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def copy_options(config: dict) -> str:
    """dbt-duckdb's COPY options from a model's config: format, then `options`."""
    options = [f"format {config.get('format', 'parquet')}"]
    for key, value in (config.get("options") or {}).items():
        options.append(f"{key} ({value})" if key == "partition_by" else f"{key} {sql_value(value)}")
    return ", ".join(options)


def read_options(config: dict) -> str:
    options = config.get("parquet_read_options") or {}
    return "".join(f", {key} = {sql_value(value)}" for key, value in options.items())


def in_dependency_order(nodes: dict[str, dict]) -> list[str]:
    """Unique ids, every node after the nodes it depends on (ties in name order)."""
    done: list[str] = []
    pending = sorted(nodes, key=lambda uid: nodes[uid]["name"])
    while pending:
        ready = [
            uid
            for uid in pending
            if all(dep in done or dep not in nodes for dep in depends_on(nodes[uid]))
        ]
        if not ready:
            raise SystemExit(f"dependency cycle among {pending}")
        done.extend(ready)
        pending = [uid for uid in pending if uid not in ready]
    return done


def depends_on(node: dict) -> list[str]:
    return (node.get("depends_on") or {}).get("nodes") or []


def seed_step(node: dict, project: Path) -> str:
    types = node["config"].get("column_types") or {}
    columns = ", ".join(f"'{name}': '{kind.upper()}'" for name, kind in types.items())
    csv = project / node["original_file_path"]
    return (
        f"create table {node['name']} as\n"
        f"    select * from read_csv('{csv}', header = true,\n"
        f"        columns = {{{columns}}});"
    )


def model_step(node: dict, sql: str, folder: str, files: str) -> str:
    view = (
        f"create view {node['name']} as\n"
        f"    select * from read_parquet('{files}'{read_options(node['config'])});"
    )
    if NO_ROWS_MARK in sql:
        return f"create view {node['name']} as\n{sql};"
    return f"copy (\n{sql}\n) to '{folder}'\n    ({copy_options(node['config'])});\n{view}"


def generate(lake: Path, out: Path, project: Path, work: Path) -> str:
    manifest, locations = compile_project(lake, project, work)
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed")
    }
    names = {node["relation_name"]: node["name"] for node in nodes.values()}
    # Longest first, so no relation name is replaced inside a longer one.
    pattern = re.compile("|".join(re.escape(r) for r in sorted(names, key=len, reverse=True)))
    steps = [
        "-- Generated by bench/baseline_sql.py from `dbt compile` of "
        f"{project}; do not edit.\n-- Lake {lake}, output {out}."
    ]
    for uid in in_dependency_order(nodes):
        node = nodes[uid]
        if node["resource_type"] == "seed":
            steps.append(f"-- step: seed {node['name']}\n{seed_step(node, project)}")
            continue
        sql = pattern.sub(lambda m: names[m.group(0)], node["compiled_code"].strip())
        folder, files = (p.replace("@root@", str(out)) for p in locations[node["name"]])
        steps.append(f"-- step: {node['name']}\n{model_step(node, sql, folder, files)}")
    return "\n\n".join(steps) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lake", type=Path, required=True, help="the lake whose Bronze is read")
    parser.add_argument("--out", type=Path, required=True, help="where Silver and Gold go")
    parser.add_argument("--sql", type=Path, required=True, help="the script to write")
    parser.add_argument("--project-dir", type=Path, default=REPO)
    parser.add_argument("--work-dir", type=Path, help="dbt's target and logs (default: by --sql)")
    args = parser.parse_args()
    work = (args.work_dir or args.sql.parent).resolve()
    text = generate(args.lake.resolve(), args.out.resolve(), args.project_dir.resolve(), work)
    args.sql.parent.mkdir(parents=True, exist_ok=True)
    args.sql.write_text(text)
    print(f"wrote {args.sql} ({text.count('-- step: ')} steps)", file=sys.stderr)


if __name__ == "__main__":
    main()
