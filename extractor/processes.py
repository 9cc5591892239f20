"""Child processes that do not outlive us.

Linux's PR_SET_PDEATHSIG asks the kernel to signal a child when its parent dies, however it
dies (SIGKILL included), so a killed CLI leaves no dbt build writing to the lake and no
webhook worker holding the port.
"""

from __future__ import annotations

import contextlib
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Call in the child: `sig` arrives when the parent dies. If the parent (pid `parent`)
    died before the request took effect, exit now."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)
    if parent is not None and os.getppid() != parent:
        os._exit(1)
