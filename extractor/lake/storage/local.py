"""The lake on local disk: temp file + fsync + rename for `put`, an unnamed inode linked in
for exclusive create and for streamed objects, and a folder fsync after every new name."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from extractor.lake.storage import tempfiles
from extractor.lake.storage.base import ObjectWriter, Storage, StorageError, validate_key
from extractor.lake.storage.tempfiles import DirectorySync


class LocalStorage(Storage):
    """Local disk: temp file + fsync + rename, and hard-link for exclusive create."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root_path = Path(root).resolve()
        self.root = str(self.root_path)
        self.local_path = self.root_path
        # Folders this process made or saw, so a hot writer (the webhook receiver) does not
        # stat its partition folder on every event; a folder removed behind our back is
        # recreated on the ENOENT that follows.
        self._folders: set[Path] = set()
        self._dir_sync = DirectorySync()
        # Exclusive create through an unnamed O_TMPFILE inode, linked in when complete
        # (Linux); falls back to a named temp file + link + unlink where unsupported.
        self._tmpfile_ok = tempfiles.tmpfile_supported()

    def _path(self, key: str) -> Path:
        return self.root_path / validate_key(key)

    def make_folders(self, prefixes: tuple[str, ...]) -> None:
        for prefix in prefixes:
            try:
                (self.root_path / prefix).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create {self.root_path / prefix}: {exc}") from exc

    def uri_for(self, key: str) -> str:
        return str(self._path(key))

    def _write_temp(self, path: Path, data: bytes) -> str:
        """`data`, fsynced, in a new hidden temp file next to `path`: its name."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfiles.hidden_temp(path.parent, path.name)
        try:
            try:
                tempfiles.write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            tempfiles.unlink_quietly(tmp)
            raise
        return tmp

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            tmp = self._write_temp(path, data)
            os.replace(tmp, path)
            tempfiles.fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def replace_if_unchanged(self, key: str, expected: bytes, data: bytes) -> bool:
        """Compare and replace under an exclusive flock of a hidden sibling file: callers on
        this host take turns, and os.replace never leaves the key missing, so an exclusive
        create (put_if_absent) cannot slip in between."""
        path = self._path(key)
        guard = path.with_name(f".{path.name}.cas")
        try:
            fd = os.open(guard, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = path.read_bytes()
                except FileNotFoundError:
                    return False
                if current != expected:
                    return False
                tmp = self._write_temp(path, data)
                os.replace(tmp, path)
                tempfiles.fsync_dir(path.parent)
                return True
            finally:
                os.close(fd)  # releases the flock
        except OSError as exc:
            raise StorageError(f"cannot replace {path}: {exc.strerror or exc}") from exc

    def open_writer(self, key: str) -> ObjectWriter:
        path = self._path(key)
        try:
            fd, tmp = self._open_temp(path)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return _LocalWriter(key, path, fd, tmp, self._dir_sync)

    def _open_temp(self, path: Path) -> tuple[int, str | None]:
        """A writable file in `path`'s folder that no reader sees (see `_new_temp`), making
        the folder first if this process has not seen it yet."""
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        try:
            return self._new_temp(path.parent, path.name)
        except FileNotFoundError:
            self._folders.discard(path.parent)  # the folder was removed behind our back
            path.parent.mkdir(parents=True, exist_ok=True)
            return self._new_temp(path.parent, path.name)

    def _new_temp(self, folder: Path, name: str) -> tuple[int, str | None]:
        """An unnamed O_TMPFILE inode (temp name None) or, where that is unsupported, a
        hidden `.<name>.<random>.tmp`; the first refusal turns O_TMPFILE off for good."""
        fd, tmp = tempfiles.open_unnamed(folder, name, self._tmpfile_ok)
        if tmp is not None and self._tmpfile_ok:
            self._tmpfile_ok = False  # this filesystem has no O_TMPFILE
        return fd, tmp

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        folder = path.parent  # one object: its str and hash are computed once per call
        try:
            try:
                # A name in the folder was linked in only after its data was fsynced, so a
                # redelivery that finds it has nothing to write: it skips the temp inode and
                # its fsync and only waits for the folder sync below. A miss here still goes
                # through the exclusive link, which alone decides who created the key.
                created = not os.path.lexists(path) and self._link_new(path, folder, data)
            except FileNotFoundError:
                # The folder is new (or was removed since we cached it).
                self._folders.discard(folder)
                folder.mkdir(parents=True, exist_ok=True)
                created = self._link_new(path, folder, data)
            self._folders.add(folder)
            # Durable before True *or* False: a duplicate may arrive while the first copy's
            # directory entry is not yet synced, and its caller must not acknowledge an event
            # that a crash could still lose. Concurrent callers share one directory fsync.
            self._dir_sync.sync(folder)
            return created
        except OSError as exc:
            raise StorageError(f"cannot create {path}: {exc.strerror or exc}") from exc

    def _link_new(self, path: Path, folder: Path, data: bytes) -> bool:
        """Write `data` durably to a new inode, then link it at `path` (in `folder`) unless
        it exists.

        link() is atomic and fails if the target exists: readers never see a half-written
        file and two writers cannot both win. The data is fsynced before the link.
        """
        if folder not in self._folders and not folder.is_dir():
            raise FileNotFoundError(folder)
        fd, tmp = self._new_temp(folder, path.name)
        try:
            tempfiles.write_all(fd, data)
            os.fsync(fd)
            try:
                if tmp is None:
                    tempfiles.link_fd(fd, path)
                else:
                    os.link(tmp, path)
            except FileExistsError:
                return False
            return True
        finally:
            os.close(fd)
            if tmp is not None:
                tempfiles.unlink_quietly(tmp)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        return iter(sorted(rel for rel, _path in self._files(prefix)))

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        found = []
        for rel, path in self._files(prefix):
            try:
                found.append((rel, os.stat(path).st_size))
            except FileNotFoundError:  # deleted since the walk saw it: not in the listing
                continue
            except OSError as exc:
                raise StorageError(f"cannot stat {path}: {exc.strerror or exc}") from exc
        return iter(sorted(found))

    def _files(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, path) of every committed file under `prefix`, unsorted."""
        base = self.root_path / prefix.rstrip("/") if prefix else self.root_path
        if prefix and not prefix.endswith("/"):
            # A key prefix such as "_state/manifests/run_": walk its folder and filter.
            folder, _, stem = prefix.rpartition("/")
            base = self.root_path / folder if folder else self.root_path
        else:
            stem = ""
        if not base.is_dir():
            return
        for dirpath, _dirnames, filenames in os.walk(base):
            for name in filenames:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                path = os.path.join(dirpath, name)
                rel = Path(path).relative_to(self.root_path).as_posix()
                if rel.startswith(prefix) or not stem:
                    yield rel, path

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot delete {path}: {exc.strerror or exc}") from exc


class _LocalWriter(ObjectWriter):
    """Appends to a temp file in the target folder; commit = fsync, link/rename, folder fsync
    (the durability `LocalStorage.put` gives)."""

    def __init__(
        self, key: str, path: Path, fd: int, tmp: str | None, dir_sync: DirectorySync
    ) -> None:
        self.key = key
        self.bytes_written = 0
        self._path = path
        self._fd: int | None = fd
        self._tmp = tmp  # None: an unnamed O_TMPFILE inode
        self._dir_sync = dir_sync

    def _fail(self, exc: OSError) -> StorageError:
        self.abort()
        return StorageError(f"cannot write {self._path}: {exc.strerror or exc}")

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise StorageError(f"cannot write {self._path}: already committed or aborted")
        try:
            tempfiles.write_all(self._fd, data)
        except OSError as exc:
            raise self._fail(exc) from exc
        self.bytes_written += len(data)

    def send(self) -> None:
        """Nothing is queued: `write` goes straight to the file (page cache)."""

    def commit(self) -> None:
        if self._fd is None:
            raise StorageError(f"cannot write {self._path}: already committed or aborted")
        try:
            os.fsync(self._fd)
            self._publish(self._fd)
        except OSError as exc:
            raise self._fail(exc) from exc
        self._tmp = None  # it has its name now
        os.close(self._fd)
        self._fd = None
        try:
            self._dir_sync.sync(self._path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {self._path}: {exc.strerror or exc}") from exc

    def _publish(self, fd: int) -> None:
        """Give the (fsynced) temp file its name, replacing any older object there."""
        path = self._path
        if self._tmp is not None:
            os.replace(self._tmp, path)
            return
        try:
            tempfiles.link_fd(fd, path)
        except FileExistsError:
            # `put` semantics: replace. Link under a hidden name, then rename over the old.
            fd2, spare = tempfiles.hidden_temp(path.parent, path.name)
            os.close(fd2)
            os.unlink(spare)
            try:
                tempfiles.link_fd(fd, spare)
                os.replace(spare, path)
            except BaseException:
                tempfiles.unlink_quietly(spare)
                raise

    def abort(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tempfiles.unlink_quietly(tmp)
