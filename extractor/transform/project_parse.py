"""dbt's parse of the project, shared by every lake on this machine (issue 19).

dbt reuses its partial-parse file (`partial_parse.msgpack`, in the target folder) only while
the profile's connection settings are the ones it was written with. Those hold the lake's
root (`external_root`, and the warehouse file under it), so every lake's own target folder
began with a full parse: 5-9 s of the first build of each new lake, where a partial one
takes about 1 s. `make test` builds some 80 lakes.

The parsed project does not depend on the lake it is built into: the lake root is read by
macros when the nodes run, not when they are parsed (two parses under two roots give the
same manifest but for timestamps). So the dbt child parses with the lake root replaced by a
placeholder, in one target folder per profile settings (under PARSE_CACHE_ENV, default
target/parse/), and hands that manifest to its commands, which run with the real root. If
a node of that manifest names the placeholder all the same (a config computed from the
lake root, one day), building it would write to the wrong place: the child then parses
for its own lake alone, as before, and says why.

Runs inside the dbt child (dbt_session.py), which has imported dbt.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Where the shared parses live (default: target/parse/ in the project folder); one folder
# per profile settings below it.
PARSE_CACHE_ENV = "PIPELINE_PARSE_CACHE"
# No lake is ever here: a node that names it was parsed with the lake root in it.
PLACEHOLDER = "pipeline-parse-placeholder"
# The variables that carry the lake's place into the profile (profiles.yml).
LAKE_PLACE = ("LAKE_ROOT", "WAREHOUSE_PATH")
# Read by the profile for DuckDB's S3 secret only, which dbt's parse check leaves out: a
# rotated session token must not cost a full parse and a new folder.
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def placeholder_environment(environ: dict[str, str]) -> dict[str, str]:
    """The lake's place replaced by the placeholder, keeping what the profile decides on: the
    root's scheme (an s3:// root selects the s3 target) and the warehouse file's name (dbt's
    database name, which every parsed node carries)."""
    root = environ.get("LAKE_ROOT", "")
    scheme = "s3://" if root.startswith("s3://") else "/"
    placed = {"LAKE_ROOT": f"{scheme}{PLACEHOLDER}/lake"}
    if "WAREHOUSE_PATH" in environ:
        placed["WAREHOUSE_PATH"] = f"/{PLACEHOLDER}/{Path(environ['WAREHOUSE_PATH']).name}"
    return placed


def profile_variables(profiles: Path) -> list[str]:
    """The environment variables profiles.yml reads."""
    return sorted(set(re.findall(r"env_var\(\s*['\"]([A-Za-z0-9_]+)['\"]", profiles.read_text())))


def cache_folder(environ: dict[str, str], project_dir: Path, profiles_dir: Path) -> Path:
    """One folder per checkout and profile settings (a lake's own place and credentials
    aside): two lakes with different DuckDB settings would otherwise take turns throwing
    each other's parse away, and a parse keeps its project's path (a seed is read from
    there), which dbt's own check does not compare."""
    settings = {**environ, **placeholder_environment(environ)}
    names = profile_variables(profiles_dir / "profiles.yml")
    read = {name: settings.get(name) for name in names if name not in CREDENTIALS}
    read["checkout"] = [str(project_dir.resolve()), str(profiles_dir.resolve())]
    key = hashlib.sha256(json.dumps(read, sort_keys=True).encode()).hexdigest()[:16]
    base = Path(environ.get(PARSE_CACHE_ENV) or project_dir / "target" / "parse")
    return base / key


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` for the duration (dbt reads it at every invoke)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One parse at a time in a folder: two runs on this machine may parse at once."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# Every kind of resource a parsed manifest holds that a command may run or read.
RESOURCES = (
    "nodes",
    "sources",
    "unit_tests",
    "functions",
    "exposures",
    "semantic_models",
    "saved_queries",
    "metrics",
    "disabled",
)


def naming_placeholder(manifest: Any) -> str | None:
    """The first resource of a parsed manifest whose parsed form names the placeholder."""
    for kind in RESOURCES:
        for uid, resource in (getattr(manifest, kind, None) or {}).items():
            if PLACEHOLDER in repr(resource):
                return uid
    return None


def with_target_path(args: list[str], folder: Path) -> list[str]:
    """`args` with --target-path set to `folder`."""
    out = list(args)
    if "--target-path" in out:
        out[out.index("--target-path") + 1] = str(folder)
    else:
        out += ["--target-path", str(folder)]
    return out


def parse(parse_args: list[str]) -> Any:
    """dbt's parse result (`dbtRunnerResult`) for the commands of this lake: the shared one,
    or the lake's own if the shared one names the placeholder."""
    from dbt.cli.main import dbtRunner

    def folder_of(option: str) -> Path:
        return Path(parse_args[parse_args.index(option) + 1])

    folder = cache_folder(dict(os.environ), folder_of("--project-dir"), folder_of("--profiles-dir"))
    shared_args = ["parse", "--no-write-json", *with_target_path(parse_args, folder)]
    with locked(folder), environment(placeholder_environment(dict(os.environ))):
        parsed = dbtRunner().invoke(shared_args)
    if not parsed.success:
        return parsed
    node = naming_placeholder(parsed.result)
    if node is None:
        return parsed
    print(
        f"dbt session: {node} depends on the lake root when parsed, so the parse shared"
        f" between lakes ({folder}) cannot serve it; parsing for this lake alone",
        file=sys.stderr,
    )
    return dbtRunner().invoke(["parse", "--no-write-json", *parse_args])
