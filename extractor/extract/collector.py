"""Fewer runs of Python's cyclic garbage collector while an extraction runs.

Every page decodes into thousands of dicts and lists (each object's nested values), alive
until the page is written, then freed by reference counting: JSON makes no cycles. With the
default threshold (a young-generation collection per 700 net new containers), decoding one
page set off several collections, each walking the pages the other workers held, and the
older generations walked them again: about a tenth of the extractor's CPU, spent finding
no garbage. A threshold above what the workers hold at once (a page of 100 events is about
2,000 containers; four workers) leaves collections to the slow drift of objects that do
live on. Memory stays flat: a cycle made meanwhile (an exception's traceback) waits for at
most one threshold's worth of allocations.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000


@contextmanager
def fewer_collections(young: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Raise the youngest generation's threshold for the block; the old one comes back after
    (the process may go on to other work, such as a transform)."""
    before = gc.get_threshold()
    if before[0] == 0:  # automatic collection switched off by the host: leave it off
        yield
        return
    gc.set_threshold(max(young, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
