"""The run context: what every command works with, built once per process in `cli.main`.

Settings are read once, the run id is resolved once (`--run-id`, else `RUN_ID`, else a new
one), the lake's storage is chosen once (`storage_for`, the one place that decides local or
S3), and the JSON logs are configured once with the run id and every secret to redact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from extractor import logs
from extractor.lake.ids import resolve_run_id
from extractor.lake.lock import RunLock
from extractor.lake.storage import Storage, storage_for
from extractor.settings import Settings
from extractor.transform.dbt import warehouse_path
from extractor.transform.warehouse import connect

if TYPE_CHECKING:  # duckdb costs ~40 MiB: loaded only by commands that query
    import duckdb


@dataclass(frozen=True)
class RunContext:
    settings: Settings
    storage: Storage
    # The run this command writes under; None for commands that start no run (status,
    # query, report, unlock, run-webhooks).
    run_id: str | None = None

    @classmethod
    def create(cls, settings: Settings, run_id: str | None, starts_run: bool) -> RunContext:
        """Resolve the run id (raises InvalidName), choose the storage, configure logs."""
        resolved = resolve_run_id(run_id, settings.run_id) if starts_run else None
        logs.configure(resolved, secrets=settings.secrets())
        return cls(settings=settings, storage=storage_for(settings), run_id=resolved)

    @property
    def run(self) -> str:
        """The run id, for commands that start a run."""
        if self.run_id is None:
            raise RuntimeError("this command was not given a run id")
        return self.run_id

    def lock(self, command: str) -> RunLock:
        """The lake's one-run-at-a-time lock, for this run."""
        return RunLock(self.storage, self.run, command)

    @property
    def warehouse(self) -> Path:
        """The DuckDB file of views over Silver and Gold."""
        return warehouse_path(self.storage)

    def connect_warehouse(self, config: dict[str, str] | None = None) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the warehouse (httpfs and the secret for S3); `config`:
        DuckDB settings fixed at connect."""
        return connect(self.warehouse, self.storage, self.settings, read_only=True, config=config)
