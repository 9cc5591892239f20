"""The storage interface behaves the same on local disk and on a real S3 endpoint (moto)."""

from __future__ import annotations

import os
import threading

import pytest

from extractor.lake.storage import LocalStorage, Storage, StorageError, storage_for
from extractor.settings import Settings


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "lake")
    env = request.getfixturevalue("s3_lake")
    return storage_for(Settings.from_env(env))


@pytest.mark.integration
def test_put_get_list_delete_roundtrip(storage: Storage) -> None:
    storage.put("a/b/one.json", b'{"n": 1}')
    storage.put("a/b/two.json", b'{"n": 2}')
    storage.put("a/c.json", b"c")
    storage.put("a/b/one.json", b'{"n": 11}')  # replace
    assert storage.get("a/b/one.json") == b'{"n": 11}'
    assert storage.get("a/missing.json") is None
    assert list(storage.list("a/b/")) == ["a/b/one.json", "a/b/two.json"]
    assert list(storage.list("a/")) == ["a/b/one.json", "a/b/two.json", "a/c.json"]
    assert list(storage.list("a/b/t")) == ["a/b/two.json"]
    assert list(storage.list("nothing/")) == []
    # With sizes, from the same one listing (how a build sizes Bronze).
    assert list(storage.list_sizes("a/")) == [
        ("a/b/one.json", 9),
        ("a/b/two.json", 8),
        ("a/c.json", 1),
    ]
    assert list(storage.list_sizes("a/b/t")) == [("a/b/two.json", 8)]
    assert list(storage.list_sizes("nothing/")) == []
    storage.delete("a/c.json")
    storage.delete("a/c.json")  # deleting twice is fine
    assert not storage.exists("a/c.json")


@pytest.mark.integration
def test_put_if_absent_has_one_winner_under_concurrency(storage: Storage) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def create(i: int) -> None:
        won = storage.put_if_absent("locks/the.json", f"writer-{i}".encode())
        with lock:
            results.append(won)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert storage.get("locks/the.json").decode().startswith("writer-")


@pytest.mark.parametrize("key", ["../escape.json", "/abs.json", "a//b", "a/./b", "a/../../b", ""])
def test_keys_that_escape_the_lake_are_refused(tmp_path, key: str) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(StorageError, match="invalid storage key"):
        storage.put(key, b"x")


def test_local_write_failure_names_the_path(tmp_path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "blocked").write_text("a file where a folder must go")
    storage = LocalStorage(root)
    with pytest.raises(StorageError, match=r"cannot write .*blocked/x.json"):
        storage.put("blocked/x.json", b"x")


def test_local_put_leaves_no_temp_files(tmp_path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put("d/x.json", b"1")
    assert storage.put_if_absent("d/y.json", b"2")
    assert not storage.put_if_absent("d/y.json", b"3")
    assert sorted(os.listdir(tmp_path / "d")) == ["x.json", "y.json"]
    assert storage.get("d/y.json") == b"2"


@pytest.mark.integration
def test_s3_failure_is_a_storage_error_naming_the_uri(moto_server, monkeypatch) -> None:
    env = {"LAKE_ROOT": "s3://no-such-bucket-xyz/lake", "AWS_ENDPOINT_URL": moto_server.url}
    storage = storage_for(Settings.from_env(env))
    with pytest.raises(StorageError, match="s3://no-such-bucket-xyz/lake/k.json"):
        storage.put("k.json", b"x")
    with pytest.raises(StorageError, match="cannot list s3://no-such-bucket-xyz/lake/bronze/"):
        list(storage.list_sizes("bronze/"))


@pytest.mark.integration
def test_open_writer_publishes_on_commit_only(storage: Storage) -> None:
    storage.put("s/old.jsonl", b"old\n")
    writer = storage.open_writer("s/old.jsonl")
    writer.write(b"new 1\n")
    writer.write(b"new 2\n")
    writer.send()
    assert storage.get("s/old.jsonl") == b"old\n"  # the old object until commit
    new = storage.open_writer("s/new.jsonl")
    new.write(b"x\n")
    assert list(storage.list("s/")) == ["s/old.jsonl"]
    writer.commit()
    assert storage.get("s/old.jsonl") == b"new 1\nnew 2\n" and writer.bytes_written == 12
    new.abort()
    new.abort()
    assert list(storage.list("s/")) == ["s/old.jsonl"]
    with pytest.raises(StorageError):
        new.write(b"after abort\n")
