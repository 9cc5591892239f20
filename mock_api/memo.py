"""The mock's memos: plain dicts bounded by emptying them when full."""

from __future__ import annotations

from typing import Any, TypeVar

V = TypeVar("V")


def keep(memo: dict[Any, V], key: Any, value: V, limit: int) -> V:
    """Store `value` under `key` and return it; a memo holding `limit` entries is emptied
    first. That bounds its memory with no bookkeeping on a hit (the callers look up with
    `.get` inline, the hot path): pages ask for objects in index order, so least-recently-used
    eviction would keep little more than starting again."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
