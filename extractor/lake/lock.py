"""One run at a time per lake: `_state/lock.json`, created with an exclusive write.

`Storage.put_if_absent` is a hard-link on local disk and an S3 conditional write
(`If-None-Match: *`), so two runs racing for the lock cannot both win, on either lake.
A lock left by a run that died (same host, pid no longer alive) is taken over
automatically; any other held lock stops the run with a message naming the holder and
the command that clears it (`payments-pipeline unlock`).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extractor.exits import PipelineError
from extractor.lake import layout
from extractor.lake.storage import Storage
from extractor.logs import warn

LOCK_KEY = layout.LOCK_KEY


class LockHeld(PipelineError):
    """Another run holds the lake's lock."""


def pid_alive(pid: int) -> bool:
    """True if a process with `pid` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class LockInfo:
    run_id: str
    host: str
    pid: int
    started_at: str
    started_at_unix: float
    command: str

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockInfo:
        doc: dict[str, Any] = json.loads(raw)
        return cls(
            run_id=str(doc.get("run_id", "?")),
            host=str(doc.get("host", "?")),
            pid=int(doc.get("pid", 0)),
            started_at=str(doc.get("started_at", "?")),
            started_at_unix=float(doc.get("started_at_unix", 0)),
            command=str(doc.get("command", "?")),
        )

    def to_bytes(self) -> bytes:
        return json.dumps(self.__dict__, indent=2).encode()

    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def holder_dead(self, alive: Callable[[int], bool] = pid_alive) -> bool:
        """Only provable for a lock taken on this host."""
        return self.is_local() and not alive(self.pid)

    def describe(self, now: float) -> str:
        age = max(0, int(now - self.started_at_unix))
        return (
            f"run {self.run_id} ({self.command}) on host {self.host}, pid {self.pid}, "
            f"started {self.started_at} ({age}s ago)"
        )


def read_lock(storage: Storage) -> LockInfo | None:
    raw = storage.get(LOCK_KEY)
    return None if raw is None else parse_lock(raw)


def parse_lock(raw: bytes) -> LockInfo:
    try:
        return LockInfo.from_bytes(raw)
    except (ValueError, TypeError):
        # An unreadable lock is still a lock: report it rather than ignore it.
        return LockInfo("<unreadable>", "?", 0, "?", 0.0, "?")


class RunLock:
    """`with RunLock(storage, run_id, command): ...` holds the lake for one run."""

    def __init__(
        self,
        storage: Storage,
        run_id: str,
        command: str,
        clock: Callable[[], float] = time.time,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.alive = alive
        now = clock()
        self.info = LockInfo(
            run_id=run_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            started_at_unix=now,
            command=command,
        )
        self.held = False

    def acquire(self) -> None:
        if self.storage.put_if_absent(LOCK_KEY, self.info.to_bytes()):
            self.held = True
            return
        raw = self.storage.get(LOCK_KEY)
        current = parse_lock(raw) if raw is not None else None
        if raw is not None and current is not None and current.holder_dead(self.alive):
            # Replace exactly the dead run's lock: of several runs taking it over at once,
            # one wins; the others see the winner's live lock.
            if self.storage.replace_if_unchanged(LOCK_KEY, raw, self.info.to_bytes()):
                warn("stale_lock_taken_over", step="lock", previous=current.__dict__)
                self.held = True
                return
            current = read_lock(self.storage)
        if current is None:  # released between our two reads: try once more
            if self.storage.put_if_absent(LOCK_KEY, self.info.to_bytes()):
                self.held = True
                return
            current = read_lock(self.storage)
        holder = current.describe(self.clock()) if current else "another run"
        raise LockHeld(
            f"lake {self.storage.uri_for(LOCK_KEY)} is locked by {holder}; "
            "wait for it to finish, or if no run is alive clear it with "
            "`payments-pipeline unlock` (add --force for a lock held elsewhere)"
        )

    def release(self) -> None:
        """Delete the lock only if it is still ours."""
        if not self.held:
            return
        current = read_lock(self.storage)
        if current is not None and current.run_id == self.info.run_id:
            self.storage.delete(LOCK_KEY)
        self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def unlock(
    storage: Storage,
    force: bool = False,
    clock: Callable[[], float] = time.time,
    alive: Callable[[int], bool] = pid_alive,
) -> str:
    """Clear the lock if safe (or forced); returns a one-line account, raises LockHeld if not."""
    current = read_lock(storage)
    if current is None:
        return "no lock held"
    now = clock()
    if not force:
        if current.is_local() and alive(current.pid):
            raise LockHeld(
                f"refusing to unlock: {current.describe(now)} is still alive on this host; "
                "stop it first or pass --force"
            )
        if not current.is_local():
            raise LockHeld(
                f"refusing to unlock: {current.describe(now)} was taken on another host and "
                "cannot be checked from here; make sure it is gone, then pass --force"
            )
    storage.delete(LOCK_KEY)
    return f"cleared lock of {current.describe(now)}"
