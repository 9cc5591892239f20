"""Structured JSON logs: one object per line on stderr, each carrying the run id.

Call `configure(run_id, secrets=[...])` once per process; then `log(event, **fields)`.
Known secrets are scrubbed from every line as a last line of defence: code should never
pass them in the first place.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "payments_pipeline"
_state: dict[str, Any] = {"run_id": None, "secrets": [], "fields": {}}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "run_id": _state["run_id"],
            "event": record.getMessage(),
        }
        payload.update(_state["fields"])
        payload.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            payload["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        line = json.dumps(payload, default=str, separators=(",", ":"))
        for secret in _state["secrets"]:
            if secret:
                line = line.replace(secret, "[REDACTED]")
        return line


def configure(
    run_id: str | None = None,
    secrets: list[str] | None = None,
    stream=None,
    fields: dict[str, Any] | None = None,
) -> None:
    """Send JSON lines to `stream` (stderr by default); safe to call again to change run id.

    `fields` are added to every line (the webhook server's workers tag their lines with
    their pid, for example).
    """
    _state["run_id"] = run_id
    _state["secrets"] = [s for s in (secrets or []) if s]
    _state["fields"] = dict(fields or {})
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def set_run_id(run_id: str) -> None:
    _state["run_id"] = run_id


def set_fields(**fields: Any) -> None:
    """Fields added to every later line (a webhook worker tags its lines with its pid)."""
    _state["fields"].update(fields)


def add_secrets(secrets: list[str]) -> None:
    """More values to redact, keeping those registered already."""
    _state["secrets"] = [
        *_state["secrets"],
        *(s for s in secrets if s and s not in _state["secrets"]),
    ]


def log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event, e.g. log("page_fetched", step="extract", entity="charges")."""
    logging.getLogger(LOGGER_NAME).log(level, event, extra={"fields": fields})


def warn(event: str, **fields: Any) -> None:
    log(event, logging.WARNING, **fields)


def error(event: str, **fields: Any) -> None:
    log(event, logging.ERROR, **fields)


class Timer:
    """`with Timer() as t: ...; t.seconds` for durations in log fields."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = round(time.perf_counter() - self.start, 3)
