"""Which versions of the project have passed dbt's unit tests on this machine (issue 19).

A unit test checks one model's SQL against rows written in the project's YAML, never the
lake: its answer depends only on the project's code, the dbt and DuckDB that run it, and the
settings that change a model's answer, which together are `fold.project_fingerprint()`. So
once a build has passed every unit test of one fingerprint here, a build of any lake on this
machine with the same fingerprint leaves them out (ADR 0059). They cost about 4 s of every
full build at small sizes, and `make test` fully builds dozens of lakes.

The record is one small file per fingerprint in one folder (PIPELINE_UNIT_TEST_RECORD,
default target/unit-tests-passed/), written only after a build that ran every unit test of
the project and passed. Losing it costs one run of the unit tests; it never decides what a
build writes. `run-quality` and a plain `dbt build` always run them.
"""

from __future__ import annotations

import contextlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from extractor import logs
from extractor.settings import REPO_ROOT, absolute_path

RECORD_ENV = "PIPELINE_UNIT_TEST_RECORD"
DEFAULT_FOLDER = REPO_ROOT / "target" / "unit-tests-passed"
# The installed packages that run a unit test (dbt-adapters ships its materialization), in
# the project's fingerprint: requirements.lock pins them, but a venv upgraded by hand must
# not reuse a pass recorded under other versions.
ENGINE_PACKAGES = ("dbt-core", "dbt-common", "dbt-adapters", "dbt-duckdb", "duckdb")


def installed_versions() -> dict[str, str | None]:
    """The installed versions of the packages a unit test's answer depends on."""
    found: dict[str, str | None] = {}
    for name in ENGINE_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def record_folder(environ: dict[str, str] | None = None) -> Path:
    """The record's folder; a relative path is refused (it would depend on the cwd)."""
    return absolute_path(os.environ if environ is None else environ, RECORD_ENV) or DEFAULT_FOLDER


def unit_tests_in(project: Path) -> int:
    """How many unit tests the project's YAML declares (what a build of every model runs)."""
    import yaml  # here: the CLI's start-up reads this module for its setting alone

    count = 0
    for path in sorted(project.rglob("*.yml")):
        text = path.read_text()
        if "unit_tests:" not in text:
            continue  # most of the YAML, and parsing it all takes 0.4 s
        document = yaml.safe_load(text) or {}
        count += len(document.get("unit_tests") or []) if isinstance(document, dict) else 0
    return count


def passed_here(project_code: str, environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The record of a passing run of every unit test of `project_code`, or None. An
    unreadable record counts as none: the unit tests then run again."""
    path = record_folder(environ) / f"{project_code}.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return (
        record if isinstance(record, dict) and record.get("project_code") == project_code else None
    )


def record_passed(
    project_code: str, run_id: str, lake: str, passed: int, environ: dict[str, str] | None = None
) -> None:
    """Note that `passed` unit tests, all of them, passed for `project_code` in run `run_id`.
    Written whole or not at all; a folder that cannot be written is a warning, not a failed
    run (the unit tests just run again next time)."""
    folder = record_folder(environ)
    document = {"project_code": project_code, "run_id": run_id, "lake": lake, "passed": passed}
    temporary = folder / f".{project_code}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(document, sort_keys=True) + "\n")
        os.replace(temporary, folder / f"{project_code}.json")
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        logs.warn(
            "unit_test_record_not_written",
            step="transform",
            folder=str(folder),
            detail=f"{type(error).__name__}: {error}; the next full build runs the unit tests",
        )
