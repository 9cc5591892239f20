"""Durable-file primitives for the local backend: unnamed temp files, linking them in,
folder fsyncs (grouped across threads), and small I/O helpers.

The durability order every local write follows: write and fsync the data in a file no
reader sees, give it its name (link or rename), then fsync the folder holding the name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from pathlib import Path

# What open(O_TMPFILE) fails with on a filesystem (or kernel) that has no unnamed files.
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL)


def tmpfile_supported() -> bool:
    """Whether this platform can make unnamed files and link them in (Linux)."""
    return hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


def hidden_temp(folder: Path, name: str) -> tuple[int, str]:
    """A new named temp file `.<name>.<random>.tmp` in `folder` (0o600), which `list` and
    the `part-*` globs skip: the descriptor (open for writing) and its path."""
    return tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)


def open_unnamed(folder: Path, name: str, tmpfile: bool) -> tuple[int, str | None]:
    """A new writable file in `folder` that no reader sees, for an object to be named `name`.

    With `tmpfile`, an unnamed O_TMPFILE inode (temp path None); without it, or when the
    filesystem has no O_TMPFILE, a hidden `hidden_temp` file (its path returned), so a
    caller that asked for O_TMPFILE and got a path knows to stop asking.
    """
    if tmpfile:
        try:
            # 0o600, like the mkstemp files of the fallback.
            return os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600), None
        except OSError as exc:
            if exc.errno not in _NO_TMPFILE:
                raise
    return hidden_temp(folder, name)


def link_fd(fd: int, path: str | os.PathLike[str]) -> None:
    """Give the open (O_TMPFILE) file `fd` the name `path`; FileExistsError if it is taken.

    linkat(AT_SYMLINK_FOLLOW) through /proc names the open inode; a src_dir_fd makes
    os.link use linkat with that flag.
    """
    os.link(str(fd), path, src_dir_fd=_proc_fd_dir(), follow_symlinks=True)


_PROC_FD: dict[int, int] = {}


def _proc_fd_dir() -> int:
    """A descriptor of /proc/self/fd, one per process (a fork gets its own)."""
    pid = os.getpid()
    fd = _PROC_FD.get(pid)
    if fd is None:
        fd = _PROC_FD[pid] = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    return fd


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class DirectorySync:
    """Group commit for directory fsyncs.

    `sync(folder)` returns only after an fsync of `folder` that *started after the call*
    has succeeded (so it covers every entry the caller made before calling), and raises
    that fsync's error otherwise. Callers arriving while one runs wait for the next one,
    which then covers all of them: with N writers in flight a folder costs about one fsync
    per round instead of N.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folders: dict[Path, _FolderSync] = {}

    def sync(self, folder: Path) -> None:
        with self._lock:
            state = self._folders.get(folder)
            if state is None:
                state = self._folders[folder] = _FolderSync()
        state.sync(folder)


class _FolderSync:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.started = 0  # fsyncs begun
        self.done = 0  # fsyncs finished (in order: one at a time)
        self.running = False
        self.errors: dict[int, OSError] = {}

    def sync(self, folder: Path) -> None:
        with self.cond:
            target = self.started + 1  # the first fsync to begin after this call
            while self.done < target:
                if self.running:
                    self.cond.wait()
                    continue
                self.running = True
                self.started += 1
                generation = self.started
                error: OSError | None = None
                self.cond.release()
                try:
                    fsync_dir(folder)
                except OSError as exc:
                    error = exc
                finally:
                    self.cond.acquire()
                    self.running = False
                    self.done = generation
                    if error is not None:
                        self.errors[generation] = error
                    for old in [g for g in self.errors if g < generation - 1000]:
                        del self.errors[old]
                    self.cond.notify_all()
            error = self.errors.get(target)
        if error is not None:
            raise error
