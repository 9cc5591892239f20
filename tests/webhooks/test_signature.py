"""Signature parsing and verification (docs/architecture.md#webhook-signatures),
cross-checked against Stripe's own library."""

from __future__ import annotations

import time

import pytest
import stripe

from tests.webhooks.conftest import NOW, OTHER_SECRET, SECRET
from webhook_app.signature import (
    MalformedSignatureHeader,
    MissingSignatureHeader,
    NoV1Signature,
    SignatureMismatch,
    TimestampInFuture,
    TimestampTooOld,
    Verifier,
    compute_signature,
    parse_header,
    sign_header,
)

BODY = b'{\n  "id": "evt_1",\n  "type": "charge.succeeded"\n}'
SIG = "a" * 64


def verifier(tolerance: int = 300, secrets: tuple[str, ...] = (SECRET,)) -> Verifier:
    return Verifier(secrets, tolerance, clock=lambda: float(NOW))


def test_our_signature_is_what_stripes_library_accepts() -> None:
    now = int(time.time())
    header = sign_header(BODY, [SECRET], now)
    # Raises if Stripe's reference implementation disagrees with ours.
    stripe.WebhookSignature.verify_header(BODY, header, SECRET, tolerance=300)
    assert header == stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), SECRET, timestamp=now
    )


def test_we_accept_what_stripes_library_generates() -> None:
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, NOW)
    assert verifier().verify(BODY, header).timestamp == NOW


def test_two_secrets_give_two_v1_signatures_in_order() -> None:
    header = sign_header(BODY, [OTHER_SECRET, SECRET], NOW)
    assert header == (
        f"t={NOW},v1={compute_signature(OTHER_SECRET, NOW, BODY)},"
        f"v1={compute_signature(SECRET, NOW, BODY)}"
    )


@pytest.mark.parametrize(
    ("header", "error", "message"),
    [
        (None, MissingSignatureHeader, "missing Stripe-Signature header"),
        ("  ", MissingSignatureHeader, "missing Stripe-Signature header"),
        (f"v1={SIG}", MalformedSignatureHeader, "no t= timestamp"),
        (f"t=abc,v1={SIG}", MalformedSignatureHeader, "t='abc' is not a unix timestamp"),
        (f"t=-5,v1={SIG}", MalformedSignatureHeader, "t='-5' is not a unix timestamp"),
        (f"t=1,t=2,v1={SIG}", MalformedSignatureHeader, "more than one t="),
        (f"t={NOW};v1={SIG}", MalformedSignatureHeader, "t='1795000000;v1"),
        (f"t={NOW},{SIG}", MalformedSignatureHeader, "expected key=value pairs"),
        (f"t={NOW},v1=", MalformedSignatureHeader, "expected key=value pairs"),
        (f"t={NOW},v1=XYZ", MalformedSignatureHeader, "must be 64 lowercase hex characters"),
        (f"t={NOW},v1={SIG.upper()}", MalformedSignatureHeader, "64 lowercase hex"),
        (f"t={NOW},v0={SIG}", NoV1Signature, "no v1 signature in Stripe-Signature header"),
        (f"t={NOW}", NoV1Signature, "no v1 signature"),
        ("t=1," + ",".join([f"v1={SIG}"] * 9), MalformedSignatureHeader, "9 v1 signatures"),
    ],
)
def test_bad_headers_are_named(header: str | None, error: type, message: str) -> None:
    with pytest.raises(error) as caught:
        parse_header(header)
    assert message in str(caught.value)


def test_header_ignores_other_schemes_and_spaces() -> None:
    parsed = parse_header(f"t={NOW}, v0={'b' * 64}, v1={SIG}, x=y")
    assert (parsed.timestamp, parsed.v1) == (NOW, (SIG,))


@pytest.mark.parametrize(
    ("signed_at", "tolerance", "error", "message"),
    [
        (NOW - 300, 300, None, None),
        (NOW + 300, 300, None, None),
        (NOW - 301, 300, TimestampTooOld, "timestamp is 301 s old, more than the 300 s"),
        (NOW + 301, 300, TimestampInFuture, "timestamp is 301 s in the future"),
        (NOW - 31, 30, TimestampTooOld, "timestamp is 31 s old, more than the 30 s tolerance"),
        (NOW - 3000, 3600, None, None),
    ],
)
def test_tolerance_both_directions_and_configurable(
    signed_at: int, tolerance: int, error: type | None, message: str | None
) -> None:
    header = sign_header(BODY, [SECRET], signed_at)
    if error is None:
        assert verifier(tolerance).verify(BODY, header).timestamp == signed_at
    else:
        with pytest.raises(error, match=message):
            verifier(tolerance).verify(BODY, header)


def test_stale_and_forged_reports_mismatch_not_staleness() -> None:
    # Only a correctly signed request learns that its clock was the problem.
    header = sign_header(BODY, ["whsec_wrong"], NOW - 10_000)
    with pytest.raises(SignatureMismatch, match="no v1 signature matches"):
        verifier().verify(BODY, header)


def test_receiver_with_two_secrets_accepts_either() -> None:
    both = verifier(secrets=(SECRET, OTHER_SECRET))
    for secret in (SECRET, OTHER_SECRET):
        assert both.verify(BODY, sign_header(BODY, [secret], NOW)).timestamp == NOW
    with pytest.raises(SignatureMismatch):
        both.verify(BODY, sign_header(BODY, ["whsec_third"], NOW))


def test_verifier_refuses_empty_secrets_and_hides_them() -> None:
    with pytest.raises(ValueError, match="at least one non-empty secret"):
        Verifier(("",))
    assert SECRET not in repr(verifier()) and "<1 hidden>" in repr(verifier())
