"""Named crash points for the reliability suite (like a database's failpoints).

`PIPELINE_FAILPOINTS="extract.part_written:2,extract.before_watermarks"` makes the process
SIGKILL itself the 2nd time it reaches `extract.part_written`, or the first time it reaches
`extract.before_watermarks`. Unset (always, outside tests), `hit()` is one dict lookup.
A SIGKILL, not an exception: nothing after the point runs, no `finally`, no cleanup, exactly
like a power cut or the OOM killer.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "PIPELINE_FAILPOINTS"
# Every point the code declares; tests name them, so a typo fails loudly.
POINTS = (
    "extract.page_fetched",  # a page fetched, its lines not yet handed to the writer
    "extract.part_written",  # a Bronze part durable, more to come
    "extract.children_listed",  # one parent's children written (a payout's, an invoice's lines)
    "extract.before_manifest",  # every part durable, manifest not yet saying succeeded
    "extract.before_watermarks",  # manifest says succeeded, no watermark moved yet
    "extract.between_watermarks",  # the first watermark moved, the others not yet
    "extract.before_rereads",  # every watermark moved, the re-read versions not yet stored
)

_lock = threading.Lock()
_hits: dict[str, int] = {}


def _armed() -> dict[str, int]:
    armed = {}
    for item in filter(None, (os.environ.get(ENV) or "").split(",")):
        name, _, nth = item.strip().partition(":")
        if name not in POINTS:
            raise ValueError(f"{ENV}: unknown failpoint {name!r}; known: {', '.join(POINTS)}")
        armed[name] = int(nth or 1)
    return armed


def hit(name: str) -> None:
    """Kill this process here if `name` is armed and this is its n-th hit."""
    if ENV not in os.environ:
        return
    target = _armed().get(name)
    if target is None:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        count = _hits[name]
    if count == target:
        os.kill(os.getpid(), signal.SIGKILL)
