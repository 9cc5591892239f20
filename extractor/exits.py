"""How a command ends: one exit-code table, one error base class, one way to say why.

Every command returns an `ExitCode`. Errors the pipeline expects (a failed API call, an
unreadable state file, a storage outage, a dbt that could not start) derive from
`PipelineError`, so the CLI maps them to an exit code in one place instead of every command
listing them; `LockHeld` is the one that maps to `LOCKED`.
"""

from __future__ import annotations

import re
import sys
from enum import IntEnum

# Stripe secret/restricted/publishable keys; error bodies may echo a (partial) key.
_KEY_PATTERN = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+")


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the run failed: a step, a test of the gate, storage, the API
    USAGE = 2  # bad arguments or settings; nothing was run
    LOCKED = 3  # another run holds the lake
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


class PipelineError(RuntimeError):
    """An expected failure; its message says what failed and where, and is safe to print."""


class UsageError(ValueError):
    """The command's arguments cannot be run as given; nothing was started."""


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> ExitCode:
    """Say why on stderr, in the one format every command uses, and return `code`."""
    print(f"payments-pipeline: error: {message}", file=sys.stderr)
    return code


def scrub(text: str) -> str:
    """Replace anything that looks like an API key; a last line of defence."""
    return _KEY_PATTERN.sub("[REDACTED]", text)


def error_line(exc: BaseException) -> str:
    """An exception as one printable line, scrubbed of anything key-shaped."""
    return scrub(" ".join(str(exc).split()) or type(exc).__name__)
