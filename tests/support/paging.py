"""Page through a whole Stripe-style list, over HTTP or straight from a `Dataset`.

The tests' one "follow has_more" loop: forwards with `starting_after` from the top, or
backwards with `ending_before` from an id up to the top. Either way it returns the items in
list order (newest first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

# cursor params ({} or {"starting_after": id} or {"ending_before": id}) -> (data, has_more)
Fetch = Callable[[dict[str, str]], tuple[list[dict], bool]]


def walk_pages(fetch: Fetch, *, ending_before: str | None = None) -> list[dict]:
    """Every item `fetch` pages out, in list order; given `ending_before`, those before it."""
    param = "ending_before" if ending_before else "starting_after"
    cursor = ending_before
    out: list[dict] = []
    while True:
        data, has_more = fetch({param: cursor} if cursor else {})
        out = data + out if ending_before else out + data
        if not has_more:
            return out
        following = data[0]["id"] if ending_before else data[-1]["id"]
        assert following != cursor, f"paging is stuck at {param}={cursor}"
        cursor = following


def page_all(
    session: requests.Session,
    url: str,
    *,
    limit: int = 100,
    ending_before: str | None = None,
    **params: Any,
) -> list[dict]:
    """Every item of the list at `url` (with filters `params`), each page a 200."""

    def fetch(cursor: dict[str, str]) -> tuple[list[dict], bool]:
        response = session.get(url, params={"limit": limit, **params, **cursor}, timeout=30)
        assert response.status_code == 200, (url, params, cursor, response.text[:500])
        body = response.json()
        return body["data"], body["has_more"]

    return walk_pages(fetch, ending_before=ending_before)


def page_all_of(list_page: Callable[..., Any], *args: Any, **kwargs: Any) -> list[dict]:
    """Every item a `Dataset` list method (one returning a `Page`) pages out, called with
    `args` and `kwargs` (limit, filters) each time."""

    def fetch(cursor: dict[str, str]) -> tuple[list[dict], bool]:
        page = list_page(*args, **kwargs, **cursor)
        return page.data, page.has_more

    return walk_pages(fetch)
