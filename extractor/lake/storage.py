"""One small storage interface for the lake, with a local-disk and an S3 implementation.

Everything the pipeline persists (Bronze parts, webhook events, watermarks, manifests, the
run lock) goes through `Storage`, so that no caller branches on where the lake lives.
Keys are '/'-separated paths relative to LAKE_ROOT. Large objects (Bronze parts) can also be
streamed through `open_writer`, so that no caller has to hold a whole object in memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from extractor.exits import PipelineError
from extractor.settings import Settings


class StorageError(PipelineError):
    """A read or write against the lake failed; the message says which key and where."""


def validate_key(key: str) -> str:
    """Refuse keys that could escape the lake root (absolute paths, '..', empty parts)."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise StorageError(f"invalid storage key {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise StorageError(f"invalid storage key {key!r}: empty, '.' or '..' path component")
    return key


class ObjectWriter(ABC):
    """One object written piece by piece: invisible under its key until `commit()`.

    `commit()` makes it durable and visible at once (replacing what was there, like `put`);
    `abort()` discards it. A failed `write` or `commit` aborts by itself and raises
    `StorageError`; a crash leaves nothing under the key (local: an unnamed or hidden `.tmp`
    file; S3: an incomplete multipart upload, which no listing or read shows).
    """

    key: str
    bytes_written: int

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Append `data`."""

    @abstractmethod
    def send(self) -> None:
        """Do the slow I/O `write` may have queued (S3 uploads); call it without holding the
        lock that orders your writes, so other writers are not held up by the network."""

    @abstractmethod
    def commit(self) -> None:
        """Publish everything written, atomically and durably."""

    @abstractmethod
    def abort(self) -> None:
        """Discard the object; safe to call more than once and after a failure."""


class Storage(ABC):
    """The lake as a key -> bytes store. Writes are all-or-nothing."""

    root: str  # absolute: a resolved local path or s3://bucket/prefix
    # The lake's folder when it is on this machine's disk, else None: what a caller needs to
    # know about where the lake lives (a DuckDB file can only sit on a local disk).
    local_path: Path | None = None

    def make_folders(self, prefixes: tuple[str, ...]) -> None:  # noqa: B027 - a no-op default
        """Make sure these folder prefixes exist; object stores have no folders."""

    @abstractmethod
    def uri_for(self, key: str) -> str:
        """Where `key` lives, as a path or s3:// URI a person (or DuckDB) can use."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write `data` at `key` atomically, replacing what was there."""

    @abstractmethod
    def open_writer(self, key: str) -> ObjectWriter:
        """Start streaming an object to `key`; nothing is visible there until its commit()."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create `key` only if it does not exist; True if this call created it."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The bytes at `key`, or None if there is no such key."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix` (a folder-like prefix ending in '/' or a key prefix), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""

    def exists(self, key: str) -> bool:
        return self.get(key) is not None


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
        self._tmpfile_ok = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")

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
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            tmp = self._write_temp(path, data)
            os.replace(tmp, path)
            self._fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def open_writer(self, key: str) -> ObjectWriter:
        path = self._path(key)
        try:
            fd, tmp = self._open_temp(path)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return _LocalWriter(self, key, path, fd, tmp)

    def _open_temp(self, path: Path) -> tuple[int, str | None]:
        """A writable file in `path`'s folder that no reader sees: an unnamed O_TMPFILE inode
        (temp name None) or, where that is unsupported, a hidden `.<name>.<random>.tmp`."""
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        try:
            return self._new_temp(path)
        except FileNotFoundError:
            self._folders.discard(path.parent)  # the folder was removed behind our back
            path.parent.mkdir(parents=True, exist_ok=True)
            return self._new_temp(path)

    def _new_temp(self, path: Path) -> tuple[int, str | None]:
        if self._tmpfile_ok:
            try:
                # 0o600, like the mkstemp files `put` renames into place.
                return os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o600), None
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise
                self._tmpfile_ok = False  # this filesystem has no O_TMPFILE
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)

    def _publish(self, fd: int, tmp: str | None, path: Path) -> None:
        """Give the (fsynced) temp file its name, replacing any older object there."""
        if tmp is not None:
            os.replace(tmp, path)
            return
        try:
            os.link(str(fd), path, src_dir_fd=_proc_fd_dir(), follow_symlinks=True)
        except FileExistsError:
            # `put` semantics: replace. Link under a hidden name, then rename over the old.
            fd2, spare = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd2)
            os.unlink(spare)
            try:
                os.link(str(fd), spare, src_dir_fd=_proc_fd_dir(), follow_symlinks=True)
                os.replace(spare, path)
            except BaseException:
                _unlink_quietly(spare)
                raise

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
        if self._tmpfile_ok:
            try:
                fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise
                self._tmpfile_ok = False  # this filesystem has no O_TMPFILE
            else:
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                    try:
                        # linkat(AT_SYMLINK_FOLLOW) through /proc names the open inode;
                        # a src_dir_fd makes os.link use linkat with that flag.
                        os.link(str(fd), path, src_dir_fd=_proc_fd_dir(), follow_symlinks=True)
                    except FileExistsError:
                        return False
                    return True
                finally:
                    os.close(fd)
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            _unlink_quietly(tmp)
        return True

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root_path / prefix.rstrip("/") if prefix else self.root_path
        if prefix and not prefix.endswith("/"):
            # A key prefix such as "_state/manifests/run_": walk its folder and filter.
            folder, _, stem = prefix.rpartition("/")
            base = self.root_path / folder if folder else self.root_path
        else:
            stem = ""
        if not base.is_dir():
            return iter(())
        keys = []
        for dirpath, _dirnames, filenames in os.walk(base):
            for name in filenames:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                rel = Path(dirpath, name).relative_to(self.root_path).as_posix()
                if rel.startswith(prefix) or not stem:
                    keys.append(rel)
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot delete {path}: {exc.strerror or exc}") from exc


class S3Storage(Storage):
    """S3 (or an S3-compatible endpoint such as moto_server) through boto3."""

    def __init__(self, uri: str, endpoint_url: str | None = None, client=None) -> None:
        if not uri.startswith("s3://"):
            raise StorageError(f"not an s3:// URI: {uri!r}")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}".rstrip("/")
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            )
        self.client = client

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {action} {self.uri_for(key)}: {exc}")

    def put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("write", key, exc) from exc

    def open_writer(self, key: str) -> ObjectWriter:
        self._key(key)  # validate now, not at the first upload
        return _S3Writer(self, key)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # S3 conditional write: fails with 412 if the key already exists.
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (
                409,
                412,
            ):
                return False
            raise self._fail("create", key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("create", key, exc) from exc

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("read", key, exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot list s3://{self.bucket}/{full}: {exc}") from exc
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("delete", key, exc) from exc


class _LocalWriter(ObjectWriter):
    """Appends to a temp file in the target folder; commit = fsync, link/rename, folder fsync
    (the durability `LocalStorage.put` gives)."""

    def __init__(
        self, storage: LocalStorage, key: str, path: Path, fd: int, tmp: str | None
    ) -> None:
        self.key = key
        self.bytes_written = 0
        self._storage = storage
        self._path = path
        self._fd: int | None = fd
        self._tmp = tmp

    def _fail(self, exc: OSError) -> StorageError:
        self.abort()
        return StorageError(f"cannot write {self._path}: {exc.strerror or exc}")

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise StorageError(f"cannot write {self._path}: already committed or aborted")
        try:
            _write_all(self._fd, data)
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
            self._storage._publish(self._fd, self._tmp, self._path)
        except OSError as exc:
            raise self._fail(exc) from exc
        self._tmp = None  # it has its name now
        os.close(self._fd)
        self._fd = None
        try:
            self._storage._dir_sync.sync(self._path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {self._path}: {exc.strerror or exc}") from exc

    def abort(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            _unlink_quietly(tmp)


# S3 multipart parts must be >= 5 MiB except the last; 8 MiB is boto3's own default chunk.
S3_PART_BYTES = 8 * 1024 * 1024


class _S3Writer(ObjectWriter):
    """An object under `S3_PART_BYTES` is one PutObject at commit; a bigger one is a multipart
    upload of `S3_PART_BYTES` chunks, completed at commit and aborted on failure.

    `write` only buffers and queues full chunks; `send` uploads the queue (several threads
    may send at once, chunks carry their part numbers). So memory is bounded by one chunk
    being filled plus one per sender, whatever the object's size.
    """

    def __init__(self, storage: S3Storage, key: str) -> None:
        self.key = key
        self.bytes_written = 0
        self._storage = storage
        self._s3_key = storage._key(key)
        self._part_bytes = S3_PART_BYTES
        self._buffer = bytearray()  # touched only by write/commit, which the caller orders
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queued: list[tuple[int, bytes]] = []
        self._next_number = 1
        self._in_flight = 0
        self._parts: dict[int, dict[str, object]] = {}
        self._upload_id: str | None = None
        self._error: Exception | None = None
        self._closed = False

    def _storage_error(self, exc: Exception) -> StorageError:
        return self._storage._fail("write", self.key, exc)

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._error is not None:
                raise self._storage_error(self._error)
            if self._closed:
                raise StorageError(f"cannot write {self._storage.uri_for(self.key)}: closed")
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= self._part_bytes:
            with self._lock:
                self._queued.append((self._next_number, bytes(self._buffer)))
                self._next_number += 1
            self._buffer = bytearray()

    def send(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client, bucket = self._storage.client, self._storage.bucket
        while True:
            with self._lock:
                if self._error is not None or not self._queued:
                    break
                number, body = self._queued.pop(0)
                self._in_flight += 1
                try:
                    if self._upload_id is None:
                        created = client.create_multipart_upload(Bucket=bucket, Key=self._s3_key)
                        self._upload_id = created["UploadId"]
                    upload_id = self._upload_id
                except (BotoCoreError, ClientError) as exc:
                    self._error = exc
                    self._in_flight -= 1
                    self._idle.notify_all()
                    break
            try:
                answer = client.upload_part(
                    Bucket=bucket,
                    Key=self._s3_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                )
            except (BotoCoreError, ClientError) as exc:
                with self._lock:
                    self._error = self._error or exc
                    self._in_flight -= 1
                    self._idle.notify_all()
                break
            del body
            part: dict[str, object] = {"ETag": answer["ETag"], "PartNumber": number}
            for name in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1"):
                if answer.get(name):
                    part[name] = answer[name]
            with self._lock:
                self._parts[number] = part
                self._in_flight -= 1
                self._idle.notify_all()
        with self._lock:
            error = self._error
        if error is not None:
            self.abort()
            raise self._storage_error(error) from error

    def commit(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        with self._lock:
            if self._closed and self._error is None:
                raise StorageError(f"cannot write {self._storage.uri_for(self.key)}: closed")
            self._closed = True
            if self._next_number > 1:  # a multipart upload: send the rest as its last part
                if self._buffer:  # the last part may be smaller than 5 MiB
                    self._queued.append((self._next_number, bytes(self._buffer)))
                    self._next_number += 1
                self._buffer = bytearray()
        self.send()
        with self._idle:
            while self._in_flight:
                self._idle.wait()
            error, upload_id = self._error, self._upload_id
            parts = [self._parts[number] for number in sorted(self._parts)]
        if error is not None:
            self.abort()
            raise self._storage_error(error) from error
        client, bucket = self._storage.client, self._storage.bucket
        try:
            if upload_id is None:
                client.put_object(Bucket=bucket, Key=self._s3_key, Body=bytes(self._buffer))
            else:
                client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=self._s3_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except (BotoCoreError, ClientError) as exc:
            self.abort()
            raise self._storage_error(exc) from exc
        self._buffer = bytearray()

    def abort(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        with self._lock:
            self._closed = True
            self._queued.clear()
            self._buffer = bytearray()
            upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            # Best effort: an upload left behind is invisible, and a bucket lifecycle rule
            # (AbortIncompleteMultipartUpload) reclaims it.
            with contextlib.suppress(BotoCoreError, ClientError):
                self._storage.client.abort_multipart_upload(
                    Bucket=self._storage.bucket, Key=self._s3_key, UploadId=upload_id
                )


def storage_for(settings: Settings) -> Storage:
    """The one place that chooses local vs S3; the run context calls it once per command."""
    if settings.is_s3:
        return S3Storage(settings.lake_root, endpoint_url=settings.aws_endpoint_url)
    return LocalStorage(settings.lake_root)


_PROC_FD: dict[int, int] = {}


def _proc_fd_dir() -> int:
    """A descriptor of /proc/self/fd, one per process (a fork gets its own)."""
    pid = os.getpid()
    fd = _PROC_FD.get(pid)
    if fd is None:
        fd = _PROC_FD[pid] = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
                    LocalStorage._fsync_dir(folder)
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


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
