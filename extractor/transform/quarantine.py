"""Quarantine of webhook captures DuckDB cannot read, so one bad file never fails every build.

The receiver refuses (400) what the lake cannot read, but a capture can be unreadable anyway:
written by an older receiver, edited by hand, truncated on disk. Before each build the
transform step reads every capture as the staging model does (the same read_json, format and
envelope types); only if that fails does it look for the culprits, in chunks of files: the
file DuckDB's error names, else halving the chunk until one file is left. The result is
rewritten on every run to `_state/quarantine/webhook_events.json` (file key + DuckDB's
reason), which the dbt macro `bronze()` leaves out of the read; the run's log, manifest and
gate report name each file. Nothing in Bronze is moved or deleted: once a file is fixed, the
next run's check finds it readable and the build reads it again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import yaml

from extractor import logs
from extractor.exits import PipelineError
from extractor.lake import layout
from extractor.lake.storage import Storage
from extractor.settings import REPO_ROOT, Settings
from extractor.transform.warehouse import connect_lake

if TYPE_CHECKING:
    import duckdb

# Files read together once the whole read failed (bounds the SQL text of a file list).
CHUNK = 500
# DuckDB names the file in the errors of a read that fails on one file's content.
_FILE_IN_ERROR = re.compile(r'in file "([^"]+)"')
# The envelope's logical types as DuckDB reads them (dbt macro duckdb__bronze_reader). The
# model reads `data` as a STRUCT of the members it uses (id, type, api_version, created, data:
# stripe_event_columns); DuckDB refuses a STRUCT member that is named twice, so the check
# reads every top-level field of Stripe's event object (https://docs.stripe.com/api/events/object).
_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "bigint": "BIGINT"}
EVENT_FIELDS = (
    "id", "object", "account", "api_version", "context", "created", "data", "livemode",
    "pending_webhooks", "request", "type",
)  # fmt: skip
_DATA_TYPE = "STRUCT(" + ", ".join(f'"{name}" JSON' for name in EVENT_FIELDS) + ")"


@dataclass(frozen=True)
class Quarantined:
    key: str  # relative to the lake root, as every lake key
    reason: str  # DuckDB's error


@cache
def capture_columns() -> str:
    """read_json's `columns=` for a capture, from the layout's envelope (dbt_project.yml)."""
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    envelope = project["vars"]["lake_layout"]["envelope"]
    fields = [
        f"'{c['name']}': '{_DATA_TYPE if c['type'] == 'json' else _TYPES[c['type']]}'"
        for c in envelope
    ]
    return "{" + ", ".join(fields) + "}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def unreadable_captures(con: duckdb.DuckDBPyConnection, storage: Storage) -> list[Quarantined]:
    """Every capture the staging model's read would fail on, with DuckDB's reason."""
    prefix = storage.root.rstrip("/") + "/"
    pattern = prefix + layout.CAPTURE_GLOB
    files = [row[0] for row in con.execute(f"select file from glob({_quote(pattern)})").fetchall()]
    if not files or _reason(con, _quote(pattern)) is None:
        return []  # the usual case: one read of every capture, as the build does
    found = []
    for start in range(0, len(files), CHUNK):
        found += _culprits(con, files[start : start + CHUNK])
    return [Quarantined(path.removeprefix(prefix), reason) for path, reason in found]


def _culprits(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[tuple[str, str]]:
    """The files of `files` that cannot be read, with the reason: the file DuckDB's error
    names, else halves until one file is left (in case an error names no file)."""
    reason = _reason(con, "[" + ", ".join(_quote(f) for f in files) + "]")
    if reason is None:
        return []
    if len(files) == 1:
        return [(files[0], reason)]
    named = _FILE_IN_ERROR.search(reason)
    if named and named.group(1) in files:
        rest = [f for f in files if f != named.group(1)]
        return [(named.group(1), reason), *_culprits(con, rest)]
    half = len(files) // 2
    return _culprits(con, files[:half]) + _culprits(con, files[half:])


def _reason(con: duckdb.DuckDBPyConnection, files: str) -> str | None:
    """Why reading `files` (a quoted glob or list) fails, or None when it does not. An error
    that is not about a file's content (the bucket is unreachable) stops the run."""
    import duckdb

    try:
        # count(columns(*)): every column is converted (count(*) would read none of them).
        con.execute(
            f"select count(columns(*)) from read_json({files}, format='auto', "
            f"columns={capture_columns()})"
        ).fetchall()
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        return str(exc).splitlines()[0]
    return None


def check_captures(storage: Storage, settings: Settings, checked_at: str) -> list[dict[str, Any]]:
    """Find the unreadable captures, record and log them; returns the record's files."""
    import duckdb

    con = connect_lake(storage, settings)
    try:
        found = unreadable_captures(con, storage)
    except duckdb.Error as exc:  # not a file's content: the lake itself cannot be read
        raise PipelineError(
            f"cannot read the webhook captures in {storage.root} to check them: {exc}"
        ) from exc
    finally:
        con.close()
    record_quarantine(storage, found, checked_at)
    return [{"key": q.key, "reason": q.reason} for q in found]


def record_quarantine(storage: Storage, found: list[Quarantined], checked_at: str) -> None:
    """Rewrite the quarantine record (an empty list once every capture reads again; no
    record at all in a lake that never had an unreadable capture)."""
    if not found and not storage.exists(layout.QUARANTINE_KEY):
        return
    record = {
        "entity": layout.WEBHOOK_ENTITY,
        "checked_at": checked_at,
        "files": [{"key": q.key, "reason": q.reason} for q in found],
    }
    # One line: both engines' JSON readers take it as one record.
    storage.put(layout.QUARANTINE_KEY, (json.dumps(record) + "\n").encode())
    for q in found:
        logs.warn(
            "webhook_capture_quarantined",
            step="transform",
            key=q.key,
            reason=q.reason,
            detail="left out of this build, not moved or deleted; fix or remove the file and "
            "the next run reads it again",
        )


def read_quarantine(storage: Storage) -> list[dict[str, Any]]:
    """The files the last check quarantined ([] when none, or never checked)."""
    raw = storage.get(layout.QUARANTINE_KEY)
    return json.loads(raw)["files"] if raw else []


def quarantine_warnings(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The quarantined files as gate warnings (the shape of dbt's)."""
    return [
        {
            "name": f["key"],
            "kind": "quarantine",
            "status": "warn",
            "message": f"unreadable webhook capture left out of the build: {f['reason']}",
            "failures": None,
        }
        for f in files
    ]


def quarantine_summary(files: list[dict[str, Any]]) -> str:
    lines = [
        f"{len(files)} unreadable webhook capture(s) quarantined (left out of the build, "
        f"still in Bronze; listed in {layout.QUARANTINE_KEY}):"
    ]
    lines += [f"  {f['key']}: {f['reason']}" for f in files]
    return "\n".join(lines)
