"""Stripe webhook signatures (docs/architecture.md#webhook-signatures): parse the header,
sign, verify.

`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`; each `v1` is HMAC-SHA256(secret,
"<t>.<raw body>") in lowercase hex. A request is authentic when any `v1` matches any of our
secrets (compared in constant time), and fresh when `t` is within the tolerance of our clock
in either direction. Every way to fail has its own exception class and a message that says
what was wrong, so the HTTP layer can answer with it and a sender can fix it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

HEADER = "Stripe-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
# Stripe sends one v1 per active secret (two while a secret is being rolled); a header with
# dozens is not a Stripe header, and capping it bounds the HMAC work one request can cause.
MAX_SIGNATURES = 8
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,12}")

Clock = Callable[[], float]


class SignatureError(ValueError):
    """The request is not an authentic, fresh Stripe webhook; `code` names the reason."""

    code = "invalid_signature"


class MissingSignatureHeader(SignatureError):
    code = "missing_signature_header"


class MalformedSignatureHeader(SignatureError):
    code = "malformed_signature_header"


class NoV1Signature(SignatureError):
    code = "no_v1_signature"


class SignatureMismatch(SignatureError):
    code = "signature_mismatch"


class TimestampTooOld(SignatureError):
    code = "timestamp_too_old"


class TimestampInFuture(SignatureError):
    code = "timestamp_in_future"


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    v1: tuple[str, ...]


def parse_header(header: str | None) -> SignatureHeader:
    """Split the header into its timestamp and v1 signatures; other schemes are ignored."""
    if header is None or not header.strip():
        raise MissingSignatureHeader(f"missing {HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for raw_item in header.split(","):
        item = raw_item.strip()
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise MalformedSignatureHeader(
                f"malformed {HEADER} header: expected key=value pairs, got {item[:40]!r}"
            )
        if key == "t":
            if timestamp is not None:
                raise MalformedSignatureHeader(f"malformed {HEADER} header: more than one t=")
            if not _DIGITS.fullmatch(value):
                raise MalformedSignatureHeader(
                    f"malformed {HEADER} header: t={value[:20]!r} is not a unix timestamp"
                )
            timestamp = int(value)
        elif key == SCHEME:
            if not _HEX64.fullmatch(value):
                raise MalformedSignatureHeader(
                    f"malformed {HEADER} header: a v1 signature must be 64 lowercase hex characters"
                )
            signatures.append(value)
    if timestamp is None:
        raise MalformedSignatureHeader(f"malformed {HEADER} header: no t= timestamp")
    if not signatures:
        raise NoV1Signature(f"no v1 signature in {HEADER} header (only v1 is accepted)")
    if len(signatures) > MAX_SIGNATURES:
        raise MalformedSignatureHeader(
            f"malformed {HEADER} header: {len(signatures)} v1 signatures, at most "
            f"{MAX_SIGNATURES} accepted"
        )
    return SignatureHeader(timestamp, tuple(signatures))


def compute_signature(secret: str, timestamp: int, payload: bytes) -> str:
    """HMAC-SHA256(secret, "<t>.<payload>") as lowercase hex."""
    message = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_header(payload: bytes, secrets: Iterable[str], timestamp: int) -> str:
    """The header Stripe would send: one v1 per secret (two while rotating)."""
    parts = [f"t={timestamp}"]
    parts += [f"{SCHEME}={compute_signature(s, timestamp, payload)}" for s in secrets]
    return ",".join(parts)


@dataclass(frozen=True)
class Verifier:
    """Checks a raw body against its header with our secrets, tolerance and clock."""

    secrets: tuple[str, ...]
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
    clock: Clock = time.time

    # The secrets as HMAC keys, encoded once rather than on every request.
    _keys: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.secrets or not all(self.secrets):
            raise ValueError("a Verifier needs at least one non-empty secret")
        if self.tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must be >= 0")
        object.__setattr__(self, "_keys", tuple(s.encode("utf-8") for s in self.secrets))

    def __repr__(self) -> str:  # never show the secrets
        return f"Verifier(secrets=<{len(self.secrets)} hidden>, tolerance={self.tolerance_seconds})"

    def verify(
        self, payload: bytes, header: str | None, parsed: SignatureHeader | None = None
    ) -> SignatureHeader:
        """Return the parsed header if authentic and fresh; raise a SignatureError otherwise.

        `parsed` is the header already parsed by the caller (it is not parsed twice). The
        signature is checked before the clock so that only a correctly signed request
        learns that its timestamp was the problem.
        """
        if parsed is None:
            parsed = parse_header(header)
        message = str(parsed.timestamp).encode("ascii") + b"." + payload
        matched = False
        for key in self._keys:
            expected = hmac.digest(key, message, "sha256").hex()
            for candidate in parsed.v1:
                # No short-circuit: the time taken does not depend on which one matched.
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise SignatureMismatch(
                "no v1 signature matches the raw body with our signing secret "
                "(wrong secret, or the body was changed or re-serialised)"
            )
        age = self.clock() - parsed.timestamp
        if age > self.tolerance_seconds:
            raise TimestampTooOld(
                f"timestamp is {int(age)} s old, more than the {self.tolerance_seconds} s "
                "tolerance (replayed or delayed delivery)"
            )
        if -age > self.tolerance_seconds:
            raise TimestampInFuture(
                f"timestamp is {int(-age)} s in the future, more than the "
                f"{self.tolerance_seconds} s tolerance (check the sender's clock)"
            )
        return parsed
