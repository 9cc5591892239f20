"""Run ids and entity names: generated and validated in one place.

Both end up inside lake paths (`run_id=<id>/`, `entity=<name>/`), so anything that could
escape a folder or confuse a reader is refused before it reaches storage.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from extractor.streams import ENTITY_NAMES

# dbt reads the same pattern (var lake_layout.run_id_pattern; tests/foundation/test_layout.py).
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_RUN_ID = re.compile(f"^{RUN_ID_PATTERN}$")


class InvalidName(ValueError):
    """A run id or entity name that is not safe to use in a lake path."""


def new_run_id(now: datetime | None = None) -> str:
    """A sortable UTC id such as 20261128T120000Z-1a2b."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def validate_run_id(run_id: str) -> str:
    """Letters, digits, '_', '-', '.'; no '..'; at most 128 characters."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or ".." in run_id:
        raise InvalidName(
            f"invalid run id {run_id!r}: use letters, digits, '_', '-' or '.' "
            "(at most 128, no '..', no '/')"
        )
    return run_id


def validate_entity(entity: str) -> str:
    if entity not in ENTITY_NAMES:
        raise InvalidName(f"unknown entity {entity!r}: expected one of {', '.join(ENTITY_NAMES)}")
    return entity


def resolve_run_id(cli_value: str | None, env_value: str | None) -> str:
    """--run-id wins over RUN_ID, which wins over a fresh id."""
    return validate_run_id(cli_value or env_value or new_run_id())
