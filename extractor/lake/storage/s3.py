"""The lake on S3 (or an S3-compatible endpoint such as moto_server) through boto3:
conditional PutObject for exclusive create, multipart uploads for big streamed objects."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from extractor.lake.storage.base import ObjectWriter, Storage, StorageError, validate_key

# S3 multipart parts must be >= 5 MiB except the last; 8 MiB is boto3's own default chunk.
S3_PART_BYTES = 8 * 1024 * 1024


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
            # Here, not at the top: boto3 and botocore.config take ~0.35 s to import, which
            # a process on a local lake (the webhook workers, the CLI) should not pay.
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            )
        self.client = client

    def object_key(self, key: str) -> str:
        """The S3 object key of lake key `key` (validated), under this lake's prefix."""
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def error(self, action: str, key: str, exc: Exception) -> StorageError:
        """The StorageError for a failed `action` ("write", "read", ...) on `key`."""
        return StorageError(f"cannot {action} {self.uri_for(key)}: {exc}")

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self.error("write", key, exc) from exc

    def open_writer(self, key: str) -> ObjectWriter:
        self.object_key(key)  # validate now, not at the first upload
        return _S3Writer(self, key)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            # S3 conditional write: fails with 412 if the key already exists.
            self.client.put_object(
                Bucket=self.bucket, Key=self.object_key(key), Body=data, IfNoneMatch="*"
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
            raise self.error("create", key, exc) from exc
        except BotoCoreError as exc:
            raise self.error("create", key, exc) from exc

    def replace_if_unchanged(self, key: str, expected: bytes, data: bytes) -> bool:
        """Read the object and its ETag, then a conditional put (`If-Match: <etag>`): S3
        refuses it with 412 if anyone wrote the key in between."""
        try:
            current = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            if current["Body"].read() != expected:
                return False
            self.client.put_object(
                Bucket=self.bucket, Key=self.object_key(key), Body=data, IfMatch=current["ETag"]
            )
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "PreconditionFailed", "ConditionalRequestConflict"):
                return False
            if status in (404, 409, 412):
                return False
            raise self.error("replace", key, exc) from exc
        except BotoCoreError as exc:
            raise self.error("replace", key, exc) from exc

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self.error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self.error("read", key, exc) from exc

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: list[tuple[str, int]] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                found.extend(
                    (item["Key"][strip:], item["Size"]) for item in page.get("Contents", [])
                )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot list s3://{self.bucket}/{full}: {exc}") from exc
        return iter(sorted(found))

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self.error("delete", key, exc) from exc


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
        self._s3_key = storage.object_key(key)
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
        return self._storage.error("write", self.key, exc)

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


def duckdb_credentials(environ: dict[str, str]) -> dict[str, str]:
    """The AWS credentials for DuckDB's S3 secret (dbt's `s3` target, the warehouse's
    readers), as environment variables. DuckDB reads only a key pair, a session token and a
    region from them, where boto3 (the extractor) also follows the rest of the credential
    chain: a profile, the SSO cache, a web identity, an instance or container role. So when
    `environ` has no key, the chain's current credentials are handed to DuckDB: dbt then reads
    the lake with the credentials the extractor wrote it with. Empty when `environ` has a key
    (used as is) or the chain finds none (an endpoint that takes unsigned requests).
    They are resolved once per process, when the dbt build starts (after the extraction)
    or a reader connects: a build longer than temporary credentials' lifetime fails when
    they expire (docs/runbook.md)."""
    if environ.get("AWS_ACCESS_KEY_ID"):
        return {}
    where = tuple(environ.get(name) for name in CHAIN_SETTINGS)
    return dict(
        _chain_credentials(
            where, bool(environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"))
        )
    )


# Where boto3's chain looks, as the environment says: one lookup per process for each.
CHAIN_SETTINGS = ("AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")


@functools.cache
def _chain_credentials(where: tuple, has_region: bool) -> tuple[tuple[str, str], ...]:
    """boto3's chain, asked once per process (a silent metadata endpoint costs seconds)."""
    del where  # the cache key: boto3 reads the same variables from os.environ
    import boto3  # here for the reason in S3Storage.__init__

    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        return ()
    frozen = credentials.get_frozen_credentials()
    found = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        found["AWS_SESSION_TOKEN"] = frozen.token
    if not has_region and session.region_name:
        found["AWS_REGION"] = session.region_name
    return tuple(found.items())
