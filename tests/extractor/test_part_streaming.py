"""The streaming Bronze writer: the same parts as the old buffered writer, byte for byte, and
nothing visible under a part name until that part is whole and durable (local disk and S3)."""

from __future__ import annotations

import errno
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from extractor.extract.bronze import PartFile, PartWriter
from extractor.lake.storage import LocalStorage, Storage, StorageError, storage_for, tempfiles
from extractor.lake.storage import local as local_storage
from extractor.settings import Settings

PREFIX = "bronze/source=stripe/entity=charges/dt=2026-01-05/run_id=r1/"
REPO = Path(__file__).resolve().parents[2]


def lines_of(count: int, seed: int = 7, width: int = 300) -> list[str]:
    """JSON lines with random hex padding (compresses about 2:1, like real objects)."""
    rng = random.Random(seed)
    return [
        json.dumps({"i": i, "pad": rng.randbytes(rng.randint(0, width) // 2).hex()}) + "\n"
        for i in range(count)
    ]


def pages(lines: list[str], seed: int = 3) -> list[list[str]]:
    """Split into pages of random sizes (1..150), as the fetch loop hands them over."""
    rng = random.Random(seed)
    out, start = [], 0
    while start < len(lines):
        size = rng.randint(1, 150)
        out.append(lines[start : start + size])
        start += size
    return out


def buffered_parts(
    lines: list[str], max_records: int, max_bytes: int, compress: bool
) -> list[tuple[str, int, bytes]]:
    """What the buffered writer this replaces wrote: (name, rows, body) per part."""
    parts, buffer, size = [], [], 0
    for line in lines:
        data = line.encode()
        buffer.append(data)
        size += len(data)
        if len(buffer) >= max_records or size >= max_bytes:
            parts.append(buffer)
            buffer, size = [], 0
    if buffer:
        parts.append(buffer)
    out = []
    for number, part in enumerate(parts):
        body, name = b"".join(part), f"part-{number:05d}.jsonl"
        if compress:
            body, name = gzip.compress(body, compresslevel=6, mtime=0), name + ".gz"
        out.append((name, len(part), body))
    return out


def visible(storage: Storage) -> list[str]:
    return [key.rsplit("/", 1)[1] for key in storage.list(PREFIX)]


def glob_matches(folder: Path) -> list[str]:
    """What the dbt sources' `part-*.jsonl*` glob would pick up in a run folder."""
    return sorted(p.name for p in folder.glob("part-*.jsonl*")) if folder.is_dir() else []


@pytest.fixture(params=["o_tmpfile", "named_temp"])
def local(request, tmp_path: Path) -> LocalStorage:
    """Local storage through both of its temp-file paths (O_TMPFILE, and the fallback)."""
    storage = LocalStorage(tmp_path / "lake")
    if request.param == "named_temp":
        storage._tmpfile_ok = False
    elif not storage._tmpfile_ok:
        pytest.skip("no O_TMPFILE here")
    return storage


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    ("max_records", "max_bytes"),
    [(1, 10**9), (97, 10**9), (50_000, 20_000), (50_000, 1), (50_000, 10**9)],
)
def test_parts_are_byte_for_byte_the_buffered_writers(
    local: LocalStorage, compress: bool, max_records: int, max_bytes: int
) -> None:
    lines = lines_of(1_500)
    writer = PartWriter(local, "charges", "r1", "2026-01-05", max_records, max_bytes, compress)
    for page in pages(lines):
        writer.write_lines(page)
    files = writer.close()
    want = buffered_parts(lines, max_records, max_bytes, compress)
    assert files == [PartFile(PREFIX + name, rows, len(body)) for name, rows, body in want]
    for name, _rows, body in want:
        assert local.get(PREFIX + name) == body
    assert writer.rows == len(lines)
    folder = local.root_path / PREFIX
    assert sorted(os.listdir(folder)) == [name for name, _, _ in want]  # no temp left over
    assert {oct(os.stat(folder / name).st_mode & 0o777) for name, _, _ in want} == {"0o600"}


def test_nothing_is_visible_before_a_part_is_closed(local: LocalStorage) -> None:
    folder = local.root_path / PREFIX
    writer = PartWriter(local, "charges", "r1", "2026-01-05", 4, 10**9, compress=True)
    writer.write_lines(lines_of(3))
    assert visible(local) == [] and glob_matches(folder) == []
    if local._tmpfile_ok:
        assert os.listdir(folder) == []  # an unnamed inode: not even a temp name
    else:
        [temp] = os.listdir(folder)
        assert temp.startswith(".part-00000.jsonl.gz.") and temp.endswith(".tmp")
    writer.write_lines(lines_of(2))  # the 4th line fills part 0: published at once
    assert visible(local) == ["part-00000.jsonl.gz"]
    assert glob_matches(folder) == ["part-00000.jsonl.gz"]
    assert len(gzip.decompress(local.get(PREFIX + "part-00000.jsonl.gz")).splitlines()) == 4
    assert [f.rows for f in writer.close()] == [4, 1]
    assert visible(local) == ["part-00000.jsonl.gz", "part-00001.jsonl.gz"]


def test_abort_leaves_nothing(local: LocalStorage) -> None:
    writer = PartWriter(local, "charges", "r1", "2026-01-05", 10, 10**9)
    writer.write_lines(lines_of(15))  # part 0 published, part 1 open
    writer.abort()
    assert visible(local) == ["part-00000.jsonl"]
    assert os.listdir(local.root_path / PREFIX) == ["part-00000.jsonl"]
    writer.abort()  # twice is fine
    assert writer.close() == [PartFile(PREFIX + "part-00000.jsonl", 10, writer.files[0].bytes)]


def test_a_failed_write_raises_storage_error_and_leaves_nothing(
    local: LocalStorage, monkeypatch
) -> None:
    real = tempfiles.write_all
    calls = {"n": 0}

    def write_all(fd: int, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    monkeypatch.setattr(tempfiles, "write_all", write_all)
    writer = PartWriter(local, "charges", "r1", "2026-01-05", 1_000, 10**9)
    writer.write_lines(lines_of(10))
    writer.write_lines(lines_of(10))
    with pytest.raises(StorageError) as failed:
        writer.write_lines(lines_of(10))
    path = local.root_path / PREFIX / "part-00000.jsonl"
    assert str(failed.value) == f"cannot write {path}: No space left on device"
    writer.abort()
    assert writer.close() == []
    assert os.listdir(local.root_path / PREFIX) == []


def test_a_failed_publish_leaves_nothing(local: LocalStorage, monkeypatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    writer = PartWriter(local, "charges", "r1", "2026-01-05", 1_000, 10**9)
    writer.write_lines(lines_of(10))
    monkeypatch.setattr(local_storage.os, "fsync", fsync)
    with pytest.raises(StorageError, match=r"cannot write \S+/part-00000.jsonl: Input/output"):
        writer.close()
    assert os.listdir(local.root_path / PREFIX) == []


def test_a_part_replaces_an_older_one_of_the_same_name(local: LocalStorage) -> None:
    """`put` semantics: a rerun under the same run id overwrites its earlier parts."""
    local.put(PREFIX + "part-00000.jsonl", b"stale\n")
    writer = PartWriter(local, "charges", "r1", "2026-01-05", 1_000, 10**9)
    writer.write_lines(lines_of(5))
    assert local.get(PREFIX + "part-00000.jsonl") == b"stale\n"  # untouched until close
    writer.close()
    assert local.get(PREFIX + "part-00000.jsonl") == "".join(lines_of(5)).encode()
    assert os.listdir(local.root_path / PREFIX) == ["part-00000.jsonl"]


def test_concurrent_workers_land_every_line_once_in_bounded_parts(local: LocalStorage) -> None:
    writer = PartWriter(local, "charges", "r1", "2026-01-05", 250, 40_000, compress=True)
    batches = [lines_of(2_000, seed=s) for s in range(4)]
    threads = [
        threading.Thread(target=lambda b=b: [writer.write_lines(p) for p in pages(b)])
        for b in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    files = writer.close()
    got = []
    for part in files:
        body = gzip.decompress(local.get(part.key))
        assert len(body.splitlines()) == part.rows <= 250
        assert len(body) - len(body.splitlines()[-1]) - 1 < 40_000  # full only at its last line
        got.extend(body.splitlines(keepends=True))
    assert sorted(got) == sorted(line.encode() for batch in batches for line in batch)
    assert [f.key for f in files] == [PREFIX + f"part-{n:05d}.jsonl.gz" for n in range(len(files))]


CHILD = """
import sys, time
from extractor.extract.bronze import PartWriter
from extractor.lake.storage import LocalStorage
storage = LocalStorage(sys.argv[1])
storage._tmpfile_ok = sys.argv[2] == "1"
writer = PartWriter(storage, "charges", "r1", "2026-01-05", 1_000_000, 10**12, True)
for i in range(20_000):
    writer.write_lines(['{"i": %d, "pad": "%s"}\\n' % (i, "x" * 200)])
print("written", flush=True)
time.sleep(60)
"""


def test_a_crash_mid_part_leaves_nothing_a_reader_sees(local: LocalStorage) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(local.root_path), "1" if local._tmpfile_ok else "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "written"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    folder = local.root_path / PREFIX
    assert visible(local) == [] and glob_matches(folder) == []
    left = os.listdir(folder)
    if local._tmpfile_ok:
        assert left == []
    else:  # a hidden temp that `list` and the `part-*.jsonl*` glob both skip
        assert len(left) == 1 and left[0].startswith(".part-") and left[0].endswith(".tmp")


# -- S3 (moto_server) ----------------------------------------------------------------------


@pytest.fixture
def s3(s3_lake: dict[str, str]) -> Storage:
    return storage_for(Settings.from_env(s3_lake))


def pending_uploads(storage) -> list[str]:
    listed = storage.client.list_multipart_uploads(Bucket=storage.bucket)
    return [u["Key"] for u in listed.get("Uploads", [])]


@pytest.mark.integration
@pytest.mark.parametrize("compress", [False, True])
def test_s3_parts_stream_as_multipart_uploads_and_match_the_buffered_writer(
    s3, compress: bool
) -> None:
    # ~32 MB of lines: part 0 (24 MiB of lines, ~12 MiB gzipped) goes past the 8 MiB
    # multipart threshold; the last part stays one PutObject.
    lines = lines_of(80_000, width=800)
    max_bytes = 24 * 1024 * 1024
    writer = PartWriter(s3, "charges", "r1", "2026-01-05", 10**9, max_bytes, compress)
    streamed = False
    for page in pages(lines):
        writer.write_lines(page)
        open_part = writer._part
        if not streamed and open_part and open_part.sink.bytes_written >= 8 * 1024 * 1024:
            streamed = True  # uploaded parts exist, yet nothing is readable
            assert visible(s3) == []
            assert pending_uploads(s3) == [f"lake/{open_part.sink.key}"]
    assert streamed
    files = writer.close()
    want = buffered_parts(lines, 10**9, max_bytes, compress)
    assert len(want) == 2
    assert files == [PartFile(PREFIX + name, rows, len(body)) for name, rows, body in want]
    for name, _rows, body in want:
        assert s3.get(PREFIX + name) == body
    assert pending_uploads(s3) == []


@pytest.mark.integration
def test_s3_abort_leaves_no_object_and_no_upload(s3) -> None:
    writer = PartWriter(s3, "charges", "r1", "2026-01-05", 10**9, 10**12)
    writer.write_lines(lines_of(30_000, width=800))  # > 8 MiB: a multipart upload is open
    assert pending_uploads(s3) != []
    writer.abort()
    assert visible(s3) == [] and pending_uploads(s3) == []


@pytest.mark.integration
def test_s3_failed_upload_is_a_storage_error_and_leaves_nothing(s3, monkeypatch) -> None:
    from botocore.exceptions import ClientError

    real = s3.client.upload_part
    calls = {"n": 0}

    def upload_part(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            error = {"Error": {"Code": "InternalError", "Message": "We encountered an error"}}
            raise ClientError(error, "UploadPart")
        return real(**kwargs)

    monkeypatch.setattr(s3.client, "upload_part", upload_part)
    writer = PartWriter(s3, "charges", "r1", "2026-01-05", 10**9, 10**12)
    with pytest.raises(StorageError) as failed:
        for page in pages(lines_of(60_000, width=800)):
            writer.write_lines(page)
    message = str(failed.value)
    assert message.startswith(f"cannot write {s3.uri_for(PREFIX + 'part-00000.jsonl')}: ")
    assert "InternalError" in message
    writer.abort()
    assert writer.close() == []
    assert visible(s3) == [] and pending_uploads(s3) == []


@pytest.mark.integration
def test_s3_missing_bucket_fails_at_the_part_naming_its_uri(moto_server) -> None:
    env = {"LAKE_ROOT": "s3://no-such-bucket-xyz/lake", "AWS_ENDPOINT_URL": moto_server.url}
    storage = storage_for(Settings.from_env(env))
    writer = PartWriter(storage, "charges", "r1", "2026-01-05", 10**9, 10**12)
    writer.write_lines(lines_of(10))
    with pytest.raises(StorageError, match="s3://no-such-bucket-xyz/lake/bronze/.*part-00000"):
        writer.close()


@pytest.mark.integration
def test_s3_uploads_happen_outside_the_writer_lock_and_concurrent_workers_land_every_line(
    s3, monkeypatch
) -> None:
    writer = PartWriter(s3, "charges", "r1", "2026-01-05", 10**9, 20 * 1024 * 1024)
    real = s3.client.upload_part
    held: list[bool] = []

    def upload_part(**kwargs):
        held.append(writer._lock.locked() and threading.current_thread() is lone[0])
        return real(**kwargs)

    monkeypatch.setattr(s3.client, "upload_part", upload_part)
    # One worker first: while it uploads, nobody else can hold the lock, so it must be free.
    lone = [threading.current_thread()]
    for page in pages(lines_of(25_000, width=800, seed=99)):
        writer.write_lines(page)
    assert held and not any(held)
    lone[0] = None
    batches = [lines_of(25_000, width=800, seed=s) for s in range(3)]
    threads = [
        threading.Thread(target=lambda b=b: [writer.write_lines(p) for p in pages(b)])
        for b in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    files = writer.close()
    assert len(files) >= 2 and sum(f.rows for f in files) == 100_000
    got = [line for f in files for line in s3.get(f.key).splitlines(keepends=True)]
    want = [line.encode() for b in [lines_of(25_000, width=800, seed=99), *batches] for line in b]
    assert sorted(got) == sorted(want)
    assert pending_uploads(s3) == []
