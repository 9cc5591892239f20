"""One small storage interface for the lake, with a local-disk and an S3 implementation.

Everything the pipeline persists (Bronze parts, webhook events, watermarks, manifests, the
run lock) goes through `Storage`, so that no caller branches on where the lake lives.
Keys are '/'-separated paths relative to LAKE_ROOT. Large objects (Bronze parts) can also be
streamed through `open_writer`, so that no caller has to hold a whole object in memory.

`base` holds the interface, `local` and `s3` the two backends, `tempfiles` the durable-file
primitives the local backend is built from.
"""

from __future__ import annotations

from extractor.lake.storage.base import ObjectWriter, Storage, StorageError, validate_key
from extractor.lake.storage.local import LocalStorage
from extractor.lake.storage.tempfiles import DirectorySync
from extractor.settings import Settings

__all__ = [
    "DirectorySync",
    "LocalStorage",
    "ObjectWriter",
    "S3Storage",
    "Storage",
    "StorageError",
    "storage_for",
    "validate_key",
]


def storage_for(settings: Settings) -> Storage:
    """The one place that chooses local vs S3; the run context calls it once per command."""
    if settings.is_s3:
        from extractor.lake.storage.s3 import S3Storage

        return S3Storage(settings.lake_root, endpoint_url=settings.aws_endpoint_url)
    return LocalStorage(settings.lake_root)


def __getattr__(name: str) -> object:
    """`S3Storage` on first use: botocore costs time and memory a local lake never needs."""
    if name == "S3Storage":
        from extractor.lake.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
