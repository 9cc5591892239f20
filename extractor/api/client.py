"""The Stripe list client: one pooled session, auth, pagination, retries, rate limit.

Pagination follows `starting_after` until `has_more` is false. Each request first takes
a token from the run's shared `TokenBucket`, then is retried by `backoff` as classified
in `extractor.api.errors`, waiting max(capped jittered exponential, Retry-After). The key is
only ever placed in the session's Authorization header; nothing here logs headers.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import backoff
import requests

from extractor import logs
from extractor.api.deadline import DeadlineAdapter, request_deadline
from extractor.api.errors import (
    ApiUnreachable,
    ExtractError,
    MalformedPage,
    Request,
    RetriesExhausted,
    RetryableError,
    classify_exception,
    classify_response,
)
from extractor.api.ratelimit import TokenBucket
from extractor.api.rawjson import RawJsonError, Span, parse_document
from extractor.settings import Settings

# A server asking for a longer pause than this is treated as asking for this.
MAX_RETRY_AFTER_SECONDS = 60.0
# A list page's `data` array is split into its elements (each object's own text).
_SPLIT_DATA = frozenset({"data"})


@dataclass
class CallStats:
    """Counters for one entity, shared by its workers."""

    api_calls: int = 0
    retries: int = 0
    pages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, api_calls: int = 0, retries: int = 0, pages: int = 0) -> None:
        with self._lock:
            self.api_calls += api_calls
            self.retries += retries
            self.pages += pages


class Item(NamedTuple):
    """One object of a page: its id, parsed form, and exact source text.

    A NamedTuple (one is made per record): immutable like a frozen dataclass, cheaper to make.
    """

    id: str
    raw: str
    value: dict[str, Any]
    # Where the object is in the page's text; `span.inner` is the member the page was asked
    # to `capture` (an event's `data.object`), if any.
    span: Span


@dataclass(frozen=True)
class Page:
    text: str
    items: list[Item]
    has_more: bool
    # When the page was served, on the API's clock (its Date header): the `_observed_at` of
    # listed objects, comparable with `event.created` because both are the API's clock.
    served_at: int


@dataclass(frozen=True)
class Snapshot:
    """A single object read (not a list): its text, parsed form and serving time."""

    text: str
    value: dict[str, Any]
    served_at: int


def retry_waits(
    base: float, cap: float, rng: Callable[[], float] = random.random
) -> Iterator[float | None]:
    """`backoff` wait generator: it is sent each exception, and yields the next delay.

    Capped exponential with equal jitter (half fixed, half random), never less than the
    server's Retry-After (itself capped at MAX_RETRY_AFTER_SECONDS).
    """
    attempt = 0
    exc = yield None
    while True:
        expo = min(cap, base * (2**attempt))
        delay = expo / 2 + rng() * expo / 2
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER_SECONDS))
        attempt += 1
        exc = yield delay


class StripeClient:
    """GETs Stripe list pages; safe to share between threads."""

    def __init__(
        self,
        settings: Settings,
        limiter: TokenBucket | None = None,
        session: requests.Session | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.api_base = settings.api_base
        self.page_limit = min(100, settings.page_limit)
        self.timeout = settings.request_timeout_seconds
        self.max_tries = settings.max_retries + 1
        self.limiter = limiter or TokenBucket(settings.rate_limit_rps)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.session = session or requests.Session()
        pool = max(4, settings.max_workers * 2)
        adapter = DeadlineAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {settings.api_key.reveal()}",
                "Stripe-Version": settings.stripe_version,
                "User-Agent": "payments-pipeline/0.1",
                "Accept": "application/json",
            }
        )
        read_environment_once(self.session, self.api_base)

    def __repr__(self) -> str:
        return f"StripeClient(api_base={self.api_base!r})"

    def close(self) -> None:
        self.session.close()

    def check_reachable(self, timeout: float = 3.0) -> None:
        """Fail in one line, without retries, if nothing listens at STRIPE_API_BASE."""
        parts = urlsplit(self.api_base)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                return
        except OSError as exc:
            raise ApiUnreachable(
                f"the Stripe API at {self.api_base} is not reachable ({exc.strerror or exc}); "
                "start the mock with `make mock-api` or set STRIPE_API_BASE"
            ) from None

    def server_time(self, stats: CallStats | None = None) -> int:
        """The API's clock, from the Date header of a one-object list call.

        Windows compare against `created`, which is the API's clock, so the run start is
        taken from the API rather than from this host (a skewed host clock cannot open a
        gap). Falls back to local time if the server sends no Date header.
        """
        response = self._get(Request("GET", "/v1/events"), "/v1/events", {"limit": 1}, stats)
        return _served_at(response)

    def iter_pages(
        self,
        path: str,
        params: dict[str, Any],
        stats: CallStats,
        should_stop: Callable[[], bool] = lambda: False,
        capture: tuple[str, ...] = (),
    ) -> Iterator[Page]:
        """Every page of a list, newest first, until `has_more` is false; with a `capture`
        path, each item's `span.inner` locates that member of the object (decoded once)."""
        cursor: str | None = None
        while not should_stop():
            query = {**params, "limit": self.page_limit}
            if cursor:
                query["starting_after"] = cursor
            request = Request("GET", path, cursor)
            response = self._get(request, path, query, stats)
            page = self._parse_page(request, response, capture)
            stats.add(pages=1)
            yield page
            if not page.has_more:
                return
            if not page.items:
                raise MalformedPage(f"{request}: has_more is true but data is empty")
            cursor = page.items[-1].id

    def get_object(self, path: str, stats: CallStats) -> Snapshot:
        """One object that is not a list (`GET /v1/balance`): its exact text and when it
        was served."""
        request = Request("GET", path)
        response = self._get(request, path, {}, stats)
        stats.add(pages=1)
        try:
            text = response.content.decode("utf-8")
            value = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedPage(f"{request}: response is not valid JSON ({exc})") from None
        if not isinstance(value, dict) or not isinstance(value.get("object"), str):
            raise MalformedPage(f"{request}: response is not an object with an 'object' field")
        return Snapshot(text, value, _served_at(response))

    def _get(
        self, request: Request, path: str, query: dict[str, Any], stats: CallStats | None
    ) -> requests.Response:
        stats = stats or CallStats()
        attempts = 0

        def on_backoff(details: dict[str, Any]) -> None:
            stats.add(retries=1)
            logs.warn(
                "api_retry",
                step="extract",
                request=str(request),
                attempt=details["tries"],
                wait_seconds=round(details["wait"], 3),
                error=str(details["exception"]),
            )

        @backoff.on_exception(
            lambda: retry_waits(self.backoff_base, self.backoff_cap),
            RetryableError,
            max_tries=self.max_tries,
            jitter=None,
            on_backoff=on_backoff,
        )
        def attempt() -> requests.Response:
            nonlocal attempts
            attempts += 1
            self.limiter.acquire()
            stats.add(api_calls=1)
            try:
                # `timeout` bounds each socket operation; the deadline, the whole request
                # (a server trickling bytes would otherwise hold it forever).
                with request_deadline(self.timeout):
                    response = self.session.get(
                        self.api_base + path, params=query, timeout=self.timeout, stream=True
                    )
                    read_body(response)
                error = classify_response(
                    request, response.status_code, response.headers, _json_or_none(response)
                )
            except requests.RequestException as exc:
                raise classify_exception(request, exc, self.api_base) from None
            if error is not None:
                raise error
            return response

        try:
            return attempt()
        except RetryableError as exc:
            raise RetriesExhausted(f"{exc} (gave up after {attempts} attempts)") from None

    def _parse_page(
        self, request: Request, response: requests.Response, capture: tuple[str, ...] = ()
    ) -> Page:
        try:
            text = response.content.decode("utf-8")
            members = parse_document(text, _SPLIT_DATA, capture)
        except (UnicodeDecodeError, RawJsonError) as exc:
            raise MalformedPage(f"{request}: response is not valid JSON ({exc})") from None
        data = members.get("data")
        has_more = members.get("has_more")
        if not isinstance(data, list):
            raise MalformedPage(f"{request}: response has no 'data' array")
        if not isinstance(has_more, Span) or not isinstance(has_more.value, bool):
            raise MalformedPage(f"{request}: response has no boolean 'has_more'")
        items = []
        for element in data:
            obj = element.value
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                raise MalformedPage(f"{request}: a 'data' element is not an object with an id")
            items.append(Item(obj["id"], text[element.start : element.end], obj, element))
        return Page(text, items, has_more.value, _served_at(response))


# requests reads a body in 10 KiB chunks, each through urllib3's and http.client's layers and
# a deadline check per socket read: a page of 100 charges (~400 KB) took 40 such passes.
BODY_READ_BYTES = 1 << 20


def read_body(response: requests.Response) -> None:
    """Read the whole body now, in reads of up to BODY_READ_BYTES (the same bytes as
    `response.content` would read; requests keeps them where `.content` returns them). Its
    errors are requests' own (a timeout: ConnectionError; a cut body: ChunkedEncodingError; a
    bad gzip body: ContentDecodingError; SSLError), and the connection goes back to the pool
    once the body is read, as without `stream`; after an error it is closed."""
    try:
        response._content = b"".join(response.iter_content(BODY_READ_BYTES))
    except BaseException:
        response.close()
        raise


def read_environment_once(session: requests.Session, api_base: str) -> None:
    """Apply the proxy and CA bundle settings of the environment to `session` now, for the one
    host the client calls, and stop requests reading them again on every request.

    With `trust_env`, requests scans the environment for proxies (and whether `api_base`
    bypasses them), the CA bundle variables and `~/.netrc` for each request: a sixth of its
    CPU per page (0.19 of 1.2 ms), for answers that cannot change during a run. The proxies
    and bundle are what requests would find (`merge_environment_settings`); `~/.netrc` is not
    read: an entry for the API's host would replace the key's Authorization header.
    """
    if not session.trust_env:
        return
    # The environment's proxies win over the session's, as in requests.
    session.proxies.update(requests.utils.get_environ_proxies(api_base))
    if session.verify is True:
        session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
    session.trust_env = False


def _served_at(response: requests.Response) -> int:
    """Unix second of the response on the server's clock; this host's clock if no Date."""
    date = response.headers.get("Date")
    if date:
        try:
            return int(parsedate_to_datetime(date).timestamp())
        except (TypeError, ValueError):
            pass
    return int(time.time())


def _json_or_none(response: requests.Response) -> object:
    """The parsed error body of a failed response (for its message), else None."""
    if 200 <= response.status_code < 300:
        return None
    try:
        return response.json()
    except ValueError:
        return None


__all__ = ["CallStats", "ExtractError", "Item", "Page", "Snapshot", "StripeClient", "retry_waits"]
