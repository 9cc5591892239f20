"""Which Bronze runs a `dbt build` still has to fold into Silver (ADR 0040).

A small state file, `_state/transforms/folded_bronze.json`, lists the Bronze parts that a
successful build had folded into Silver. The next build passes the runs holding any other
part to dbt (environment PIPELINE_BRONZE_RUN_IDS, a JSON list, which unlike `--vars` keeps
dbt's partial parsing), and the staging models merge only those runs into
the Silver partitions they touch. The file is written only after the build succeeded, so a
crash between a Silver write and the state write just folds the same runs again next time,
which Silver's de-duplication makes a no-op. Parts are tracked (not only run ids) because one
run id can gain parts later (`RUN_ID` fixed across several `run-batch` calls).

The file also holds a fingerprint of the dbt code that shapes Silver (the staging models,
the macros, dbt_project.yml). Folding new runs into Silver written by different code would
mix two versions of a table, so a changed fingerprint makes the next build a full one.

And a fingerprint of the whole dbt project with the pinned dependencies and the settings
it reads (PROJECT_ENV): dbt's unit tests
check the models' code against fixed rows, never the lake, so an incremental build whose
project is byte-identical to the last passing build's leaves them out (issue 19: ~4 s of
every small run); a full build, or any change to the project, the pins or the installed dbt
and DuckDB, runs them, unless every unit test of this very project already passed on this
machine (unit_test_record, ADR 0059).

A model's output is a function of the Bronze it reads, the captures and the project. So when
the project, the warehouse and every Silver and Gold file are as the last passing build left
them, only the sources with new Bronze (unfolded parts; the webhook captures if they
changed) and everything downstream of them are rebuilt and tested, plus the tests tagged
`time_dependent` (their answer moves with the clock) (ADR 0056). When no source has
anything new that is those tests alone (ADR 0054); the gate's freshness check runs as
always.

Freshness (`max(_loaded_at)` per source) needs only the newest Bronze lines, which are in the
runs the latest build with new parts of that source folded: the state records those runs per
entity (`latest_runs`), and dbt's freshness query reads only them (environment
PIPELINE_FRESHNESS_RUN_IDS, a JSON object of entity -> run ids; ADR 0057). Without that, a
run with nothing new read all of each source's Bronze again, which grows with the lake.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extractor.exits import PipelineError
from extractor.lake import layout
from extractor.lake.storage import Storage
from extractor.settings import LARGE_BRONZE_BYTES
from extractor.streams import ENTITY_NAMES
from extractor.transform.build_resources import json_bytes, large_lake_env, settings_in_force
from extractor.transform.dbt_commands import NO_RELATION_CACHE
from extractor.transform.unit_test_record import installed_versions, passed_here
from extractor.transform.warehouse import REPO_ROOT

STATE_KEY = layout.FOLD_STATE_KEY
# The environment variable dbt's macro bronze_run_ids() reads.
RUN_IDS_ENV = "PIPELINE_BRONZE_RUN_IDS"
# And the one its macro freshness_run_ids() reads: per entity, the runs with its newest lines.
FRESHNESS_ENV = "PIPELINE_FRESHNESS_RUN_IDS"
# What decides Silver's content: a change to any of these makes the next build full.
SILVER_CODE = ("dbt_project.yml", "dbt_project/models/staging", "dbt_project/macros")
# What decides a unit test's result: the whole project and the pinned dbt and DuckDB (the
# installed ones too: project_fingerprint).
PROJECT_CODE = ("dbt_project.yml", "profiles.yml", "requirements.lock", "dbt_project")
# The environment variables the dbt project reads that change a model's or a test's answer
# (docs/architecture.md, settings): part of the project's fingerprint.
PROJECT_ENV = ("LEDGER_WHOLE_HISTORY",)
# What a build with nothing new still runs: the tests whose answer depends on the time.
TIME_DEPENDENT_SELECTOR = "tag:time_dependent"


class FoldStateError(PipelineError):
    """The fold state file exists but cannot be read."""


@dataclass
class FoldPlan:
    """What one build reads: all of Bronze (full) or only `run_ids` (incremental)."""

    incremental: bool
    reason: str
    run_ids: list[str] = field(default_factory=list)
    # Every batch Bronze part listed before the build, by run id: the state after success.
    parts: dict[str, list[str]] = field(default_factory=dict)
    # The Silver code this build runs (code_fingerprint), recorded with the parts.
    code: str = ""
    # The whole project's fingerprint, and whether this build runs dbt's unit tests.
    project_code: str = ""
    # Why this build leaves dbt's unit tests out, or "" when it runs them
    # (unit_tests_skip_reason).
    unit_tests_skipped: str = ""
    # The webhook captures' fingerprint (captures_fingerprint).
    captures: str = ""
    # The dbt sources with new Bronze since the last passing build, when that build's
    # outputs can be kept for the rest; None: rebuild every model.
    changed_sources: list[str] | None = None
    # With changed sources: the empty models, whose placeholders the build removes and
    # so must write again (placeholder_models).
    placeholders: list[str] = field(default_factory=list)
    # Per entity, the Bronze runs that hold its newest lines (newest_runs).
    latest_runs: dict[str, list[str]] = field(default_factory=dict)
    # With changed sources: models rebuilt although none of their sources changed, because
    # their answer moves with the extractor's state (refresh_pending_reconciliation).
    refreshed_models: list[str] = field(default_factory=list)
    # All of batch Bronze's bytes of JSON lines: from `large_bronze_bytes` on, a build runs
    # one dbt node at a time (build_resources).
    bronze_bytes: int = 0
    large_bronze_bytes: int = LARGE_BRONZE_BYTES

    @property
    def unit_tests(self) -> bool:
        return not self.unit_tests_skipped

    @property
    def nothing_new(self) -> bool:
        return self.changed_sources == []

    @property
    def rebuilds_models(self) -> bool:
        """Whether the build writes models (then the empty models' placeholders go first)."""
        return not self.nothing_new or bool(self.refreshed_models)

    def build_command(self) -> str:
        """`dbt build`; only downstream of the changed sources (and the refreshed models),
        and the time-dependent tests, when the rest can be kept; without the unit tests when
        the project is unchanged or its unit tests passed on this machine (ADR 0059)."""
        command = "build"
        if self.changed_sources is not None:
            selectors = [f"source:{layout.SOURCE}.{name}+" for name in self.changed_sources]
            selectors += self.refreshed_models
            if selectors:
                selectors += self.placeholders
            command += " --select " + " ".join([*selectors, TIME_DEPENDENT_SELECTOR])
            if not selectors:
                # Only the time-dependent tests (the tag is on tests alone): no model to write.
                command += " " + NO_RELATION_CACHE
        if not self.unit_tests:
            command += " --exclude-resource-type unit_test"
        return command

    def dbt_env(self) -> dict[str, str | None]:
        """The environment dbt gets: the run ids, or the variable removed (a full build), the
        runs freshness reads (removed when unknown: it then reads all of Bronze), and a large
        lake's settings (`DBT_THREADS=1`, `build_resources.LARGE_LAKE`)."""
        return {
            RUN_IDS_ENV: json.dumps(self.run_ids) if self.incremental else None,
            FRESHNESS_ENV: json.dumps(self.latest_runs, sort_keys=True)
            if self.latest_runs
            else None,
            **large_lake_env(self.bronze_bytes, self.large_bronze_bytes),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": "incremental" if self.incremental else "full",
            "reason": self.reason,
            "bronze_run_ids": self.run_ids if self.incremental else None,
            "bronze_runs_listed": len(self.parts),
            "unit_tests": "run" if self.unit_tests else "skipped: " + self.unit_tests_skipped,
            "changed_sources": self.changed_sources,
            "models": self._models_note(),
            "bronze_bytes": self.bronze_bytes,
            "dbt_settings": settings_in_force(
                {**os.environ, **large_lake_env(self.bronze_bytes, self.large_bronze_bytes)}
            ),
        }

    def _models_note(self) -> str:
        refreshed = (
            f"; refreshed: {', '.join(self.refreshed_models)}" if self.refreshed_models else ""
        )
        if self.changed_sources is None:
            return "built"
        if not self.changed_sources:
            return (
                "skipped: nothing new since the last passing build (only the time-dependent "
                f"tests ran{refreshed})"
            )
        return (
            "built downstream of the sources with new data ("
            + ", ".join(self.changed_sources)
            + f"); the rest unchanged since the last passing build{refreshed}"
        )


def code_fingerprint(root: Path = REPO_ROOT, entries: tuple[str, ...] = SILVER_CODE) -> str:
    """sha256 over the paths and bytes of every file under `entries`, in path order."""
    digest = hashlib.sha256()
    for entry in entries:
        base = root / entry
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def project_fingerprint() -> str:
    """The whole project's code, the environment it reads (PROJECT_ENV) and the installed
    dbt and DuckDB (unit_test_record.ENGINE_PACKAGES)."""
    settings = json.dumps(
        {
            "environment": {name: os.environ.get(name) for name in PROJECT_ENV},
            "installed": installed_versions(),
        },
        sort_keys=True,
    )
    code = code_fingerprint(entries=PROJECT_CODE)
    return hashlib.sha256(f"{code}\0{settings}".encode()).hexdigest()


@dataclass
class BronzeScan:
    """Batch Bronze part keys (relative to bronze/source=stripe/) by run id, and their bytes
    of JSON lines (a gzipped part counted as what it holds: build_resources.json_bytes)."""

    parts: dict[str, list[str]]
    bytes: int


def scan_bronze(storage: Storage) -> BronzeScan:
    """One listing of batch Bronze. Webhook captures are not runs:
    stg_stripe__webhook_events always rebuilds fully."""
    by_run: dict[str, list[str]] = {}
    total = 0
    for entity in ENTITY_NAMES:
        for key, size in storage.list_sizes(layout.bronze_entity(entity)):
            run_id = layout.run_id_of(key)
            if run_id is None or not layout.is_part(key):
                continue
            by_run.setdefault(run_id, []).append(key[len(layout.BRONZE) :])
            total += json_bytes(key, size)
    parts = {run_id: sorted(keys) for run_id, keys in sorted(by_run.items())}
    return BronzeScan(parts, total)


def captures_fingerprint(storage: Storage) -> str:
    """sha256 over the keys of every webhook capture and the captures the last quarantine
    check left out. The receiver writes a capture once and never changes it, so its key
    stands for its content; a capture fixed in place by hand (issue 16's way out of the
    quarantine) leaves the quarantine list, which changes the fingerprint."""
    digest = hashlib.sha256()
    for key in sorted(storage.list(layout.bronze_entity(layout.WEBHOOK_ENTITY))):
        digest.update(key.encode() + b"\0")
    record = storage.get(layout.QUARANTINE_KEY)
    if record is not None:
        try:  # the files only: `checked_at` changes on every check
            files = json.loads(record).get("files", [])
        except (ValueError, AttributeError):
            files = record.decode(errors="replace")
        digest.update(json.dumps(files, sort_keys=True).encode())
    return digest.hexdigest()


def list_outputs(storage: Storage) -> list[str]:
    """The keys of every Silver and Gold file, sorted."""
    return [key for layer in (layout.SILVER, layout.GOLD) for key in sorted(storage.list(layer))]


def outputs_fingerprint(storage: Storage, keys: list[str] | None = None) -> str:
    """sha256 over the keys of every Silver and Gold file: models are left out of a build
    only while the files the last passing build left are all still there."""
    digest = hashlib.sha256()
    for key in list_outputs(storage) if keys is None else keys:
        digest.update(key.encode() + b"\0")
    return digest.hexdigest()


def placeholder_models(keys: list[str]) -> list[str]:
    """The models whose folder holds dbt-duckdb's placeholder for an empty model (a null `dt`
    partition). The CLI removes those before a build that rebuilds models
    (dbt.remove_null_partitions), so such a build must rebuild each of them. The folder of
    `stg_stripe__<entity>` is Silver's entity=<entity>, any other model's Gold's
    model=<name> (the macro lake_location)."""
    models = set()
    for key in keys:
        if layout.NULL_PARTITION not in key:
            continue
        if key.startswith(layout.SILVER) and (entity := layout.entity_of(key)):
            models.add(f"stg_stripe__{entity}")
        elif key.startswith(layout.GOLD) and (model := layout.gold_model_of(key)):
            models.add(model)
    return sorted(models)


@dataclass
class FoldState:
    """What the last passing build recorded ("" for a fingerprint a file predates)."""

    runs: dict[str, list[str]]
    silver_code: str
    project_code: str
    captures: str
    outputs: str
    latest_runs: dict[str, list[str]] = field(default_factory=dict)


def read_state(storage: Storage) -> FoldState | None:
    """The last passing build's folded parts by run id and its fingerprints."""
    raw = storage.get(STATE_KEY)
    if raw is None:
        return None
    try:
        document = json.loads(raw)
        runs = {str(run_id): list(keys) for run_id, keys in document["runs"].items()}
        latest = {
            str(entity): [str(run_id) for run_id in run_ids]
            for entity, run_ids in document.get("latest_runs", {}).items()
        }
        return FoldState(
            runs,
            str(document.get("silver_code", "")),
            str(document.get("project_code", "")),
            str(document.get("captures", "")),
            str(document.get("outputs", "")),
            latest,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FoldStateError(
            f"{storage.uri_for(STATE_KEY)} is not a fold state file ({exc}): delete it, or run "
            "`payments-pipeline run-transforms --full-refresh`, to rebuild Silver from all Bronze"
        ) from exc


def plan_fold(
    storage: Storage,
    full_refresh: bool = False,
    code: str | None = None,
    warehouse_current: bool = True,
    large_bronze_bytes: int = LARGE_BRONZE_BYTES,
) -> FoldPlan:
    """Incremental when an earlier build recorded its parts, with the same Silver code, and no
    full refresh was asked. `warehouse_current` False (the warehouse file deleted, an S3
    lake's warehouse on another machine, or views over the lake's root spelled otherwise)
    makes every model run: the models a build keeps keep their views."""
    scan = scan_bronze(storage)
    parts = scan.parts
    code = code_fingerprint() if code is None else code
    project = project_fingerprint()
    state = None if full_refresh else read_state(storage)
    same_project = state is not None and state.project_code == project
    skipped = unit_tests_skip_reason(project, same_project)
    full = {
        "parts": parts,
        "code": code,
        "project_code": project,
        "unit_tests_skipped": skipped,
        "captures": captures_fingerprint(storage),
        "bronze_bytes": scan.bytes,
        "large_bronze_bytes": large_bronze_bytes,
    }
    if full_refresh:
        return FoldPlan(False, "--full-refresh", **full, latest_runs=newest_runs(parts, None))
    full["latest_runs"] = newest_runs(parts, state)
    if state is None:
        return FoldPlan(False, "no earlier build recorded in " + STATE_KEY, **full)
    if state.silver_code != code:
        return FoldPlan(False, "the Silver models or macros changed since the last build", **full)
    new_runs = [
        run_id for run_id, keys in parts.items() if not set(keys) <= set(state.runs.get(run_id, ()))
    ]
    captures = full["captures"]
    outputs = list_outputs(storage) if same_project and warehouse_current else None
    keeps_outputs = outputs is not None and state.outputs == outputs_fingerprint(storage, outputs)
    return FoldPlan(
        True,
        f"{len(new_runs)} Bronze runs not yet folded",
        new_runs,
        parts,
        code,
        project_code=project,
        unit_tests_skipped=skipped,
        captures=captures,
        bronze_bytes=scan.bytes,
        large_bronze_bytes=large_bronze_bytes,
        changed_sources=changed_sources(state, parts, captures) if keeps_outputs else None,
        placeholders=placeholder_models(outputs) if keeps_outputs and outputs else [],
        latest_runs=full["latest_runs"],
    )


def unit_tests_skip_reason(project_code: str, same_project: bool) -> str:
    """Why a build leaves dbt's unit tests out, or "" when it runs them: this lake's last
    passing build ran the same project (checked first: no file to read), or every unit test
    of this project already passed on this machine (unit_test_record, ADR 0059)."""
    if same_project:
        return "project unchanged since the last passing build"
    record = passed_here(project_code)
    if record is None:
        return ""
    return f"this project's unit tests passed on this machine in run {record.get('run_id')}"


def newest_runs(parts: dict[str, list[str]], state: FoldState | None) -> dict[str, list[str]]:
    """Per entity, Bronze runs that together hold its newest lines: the runs with a part the
    last passing build did not fold (they were written after it); else the runs the state
    recorded for it, while they are all still in Bronze; else every run with a part of it
    (a superset is always right). Runs are written one at a time under the lake lock, so a
    later run's `_loaded_at` is later."""
    every: dict[str, set[str]] = {}
    unfolded: dict[str, set[str]] = {}
    for run_id, keys in parts.items():
        folded = set(state.runs.get(run_id, ())) if state else set()
        for key in keys:
            entity = layout.entity_of(key)
            if entity is None:
                continue
            every.setdefault(entity, set()).add(run_id)
            if key not in folded:
                unfolded.setdefault(entity, set()).add(run_id)
    newest = {}
    for entity, run_ids in every.items():
        recorded = set(state.latest_runs.get(entity, ())) if state else set()
        if entity in unfolded:
            newest[entity] = sorted(unfolded[entity])
        elif recorded and recorded <= run_ids:
            newest[entity] = sorted(recorded)
        else:
            newest[entity] = sorted(run_ids)
    return dict(sorted(newest.items()))


def freshness_runs(storage: Storage, parts: dict[str, list[str]]) -> dict[str, list[str]]:
    """newest_runs for a freshness check outside a build (`run-quality`), from `parts`
    (scan_bronze); {} (read all of Bronze) when the fold state is unreadable: the check must
    not depend on it."""
    try:
        state = read_state(storage)
    except FoldStateError:
        state = None
    return newest_runs(parts, state)


def changed_sources(state: FoldState, parts: dict[str, list[str]], captures: str) -> list[str]:
    """The dbt sources (entities) with a Bronze part the last passing build did not fold, and
    the webhook captures when they changed."""
    changed = {
        layout.entity_of(key)
        for run_id, keys in parts.items()
        for key in set(keys) - set(state.runs.get(run_id, ()))
    }
    if state.captures != captures:
        changed.add(layout.WEBHOOK_ENTITY)
    return sorted(name for name in changed if name)


def forget_fold(storage: Storage) -> None:
    """After a failed build: it may have written Silver partitions before a test stopped it,
    and folding new runs into those would keep its rows after the bad Bronze is fixed. With
    no fold state the next build rebuilds Silver from all of Bronze."""
    storage.delete(STATE_KEY)


def record_fold(storage: Storage, plan: FoldPlan) -> None:
    """After a successful build only: every part listed before it is now in Silver."""
    document = {
        "runs": plan.parts,
        "silver_code": plan.code,
        "project_code": plan.project_code,
        "captures": plan.captures,
        # After the build: what it left in Silver and Gold.
        "outputs": outputs_fingerprint(storage),
        "latest_runs": plan.latest_runs,
    }
    storage.put(STATE_KEY, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode())
