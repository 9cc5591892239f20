"""Every way an API call can fail, classified in one place: retry or stop.

Retryable (docs/architecture.md#errors-and-retries): 429, 409, 5xx, connection errors,
timeouts, broken chunked bodies, unless the API says `Stripe-Should-Retry: false`;
`Stripe-Should-Retry: true` makes any status retryable. Fatal: every other 4xx, and a
malformed page (never skipped).
Messages name the method, path and cursor, and are scrubbed of anything key-shaped, so an
error can be logged, written to a manifest or printed as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import ReadTimeoutError

from extractor.exits import PipelineError, scrub

RETRYABLE_STATUSES = frozenset({409, 429})


class ExtractError(PipelineError):
    """Base class: the message is safe to show and says what failed."""

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class RetryableError(ExtractError):
    """A transient failure; `retry_after` is the server's requested wait, if any."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FatalApiError(ExtractError):
    """The API refused the request in a way retrying cannot fix (auth, bad params, 404)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class MalformedPage(ExtractError):
    """A 200 response that is not a valid list page; the run must stop, not skip it."""


class RetriesExhausted(ExtractError):
    """A retryable failure that kept failing."""


class ApiUnreachable(ExtractError):
    """Nothing answers at STRIPE_API_BASE."""


@dataclass(frozen=True)
class Request:
    """What we say about a request in messages: never headers, never the key."""

    method: str
    path: str
    cursor: str | None = None

    def __str__(self) -> str:
        where = f"{self.method} {self.path}"
        return f"{where} (starting_after={self.cursor})" if self.cursor else where


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, when.timestamp() - current)


def _error_detail(body: object) -> str:
    """`type/code: message` from a Stripe error body, or '' if it has none."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return ""
    err = body["error"]
    kind = "/".join(str(err[k]) for k in ("type", "code") if err.get(k))
    message = str(err.get("message") or "")
    param = f" (param {err['param']})" if err.get("param") else ""
    return f"{kind}: {message}{param}".strip(": ")


def classify_response(
    request: Request, status: int, headers: Mapping[str, str], body: object
) -> ExtractError | None:
    """None for success, else the error to raise (retryable or fatal)."""
    if 200 <= status < 300:
        return None
    detail = _error_detail(body)
    reason = f"{request} returned HTTP {status}" + (f": {detail}" if detail else "")
    should_retry = (headers.get("Stripe-Should-Retry") or "").strip().lower()
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if should_retry == "false":
        return FatalApiError(f"{reason} (server says Stripe-Should-Retry: false)", status)
    if should_retry == "true" or status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(reason, status, retry_after)
    hint = {
        401: "check STRIPE_API_KEY",
        403: "the key lacks permission for this resource",
        404: "check STRIPE_API_BASE and the endpoint path",
        400: "the request parameters were rejected",
    }.get(status, "not retried")
    return FatalApiError(f"{reason}; {hint}", status)


def classify_exception(request: Request, exc: BaseException, api_base: str) -> ExtractError:
    """Map a transport exception from requests to retryable or fatal."""
    name = type(exc).__name__
    # A read that times out while requests reads the body arrives as a ConnectionError.
    if isinstance(exc, requests.exceptions.ConnectionError) and any(
        isinstance(arg, ReadTimeoutError) for arg in exc.args
    ):
        exc, name = requests.exceptions.ReadTimeout(*exc.args), "ReadTimeout"
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.SSLError
    ):
        return RetryableError(f"{request}: connection to {api_base} failed ({name})")
    if isinstance(exc, requests.exceptions.Timeout):
        return RetryableError(
            f"{request}: {api_base} timed out ({name}): no complete answer within "
            "STRIPE_TIMEOUT_SECONDS"
        )
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return RetryableError(
            f"{request}: response body from {api_base} broken in transit ({name})"
        )
    return FatalApiError(f"{request}: {name}: {exc}")
