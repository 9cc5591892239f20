"""The receiver through Flask's test client: the accept/reject table, body checks, size limit,
storage failures and the stored envelope."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from extractor.lake.storage import LocalStorage, StorageError
from tests.webhooks.conftest import (
    NOW,
    OTHER_SECRET,
    SECRET,
    body_of,
    make_event,
    stored_keys,
)
from webhook_app.app import WebhookConfigError, create_app
from webhook_app.signature import compute_signature, sign_header

URL = "/webhooks/stripe"
EVENT = make_event()
BODY = body_of(EVENT)
KEY = "bronze/source=stripe/entity=webhook_events/dt=2026-11-18/evt_1Test.json"


def post(client: FlaskClient, body: bytes, header: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post(URL, data=body, headers=headers)


# Each case builds (body sent, Stripe-Signature header) for the valid BODY signed at NOW.
Delivery = Callable[[], tuple[bytes, str | None]]

ACCEPT_REJECT: list[tuple[str, Delivery, int, str | None, str]] = [
    ("valid", lambda: (BODY, sign_header(BODY, [SECRET], NOW)), 200, None, ""),
    (
        "tampered body",
        lambda: (BODY.replace(b"2000", b"2001"), sign_header(BODY, [SECRET], NOW)),
        400,
        "signature_mismatch",
        "no v1 signature matches the raw body with our signing secret",
    ),
    (
        "wrong secret",
        lambda: (BODY, sign_header(BODY, ["whsec_not_ours"], NOW)),
        400,
        "signature_mismatch",
        "no v1 signature matches the raw body with our signing secret",
    ),
    (
        "missing header",
        lambda: (BODY, None),
        400,
        "missing_signature_header",
        "missing Stripe-Signature header",
    ),
    (
        "malformed header",
        lambda: (BODY, f"t={NOW} v1={compute_signature(SECRET, NOW, BODY)}"),
        400,
        "malformed_signature_header",
        "is not a unix timestamp",
    ),
    (
        "v0 only",
        lambda: (BODY, f"t={NOW},v0={compute_signature(SECRET, NOW, BODY)}"),
        400,
        "no_v1_signature",
        "no v1 signature in Stripe-Signature header (only v1 is accepted)",
    ),
    (
        "two v1, one valid",
        lambda: (BODY, sign_header(BODY, [OTHER_SECRET, SECRET], NOW)),
        200,
        None,
        "",
    ),
    (
        "t 301 s old",
        lambda: (BODY, sign_header(BODY, [SECRET], NOW - 301)),
        400,
        "timestamp_too_old",
        "timestamp is 301 s old, more than the 300 s tolerance",
    ),
    (
        "t 301 s ahead",
        lambda: (BODY, sign_header(BODY, [SECRET], NOW + 301)),
        400,
        "timestamp_in_future",
        "timestamp is 301 s in the future, more than the 300 s tolerance",
    ),
    (
        "body re-serialised as JSON",
        lambda: (json.dumps(json.loads(BODY)).encode(), sign_header(BODY, [SECRET], NOW)),
        400,
        "signature_mismatch",
        "the body was changed or re-serialised",
    ),
]


@pytest.mark.parametrize(
    ("delivery", "status", "code", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in ACCEPT_REJECT],
)
def test_accept_reject_table(
    client: FlaskClient, lake: Path, delivery: Delivery, status: int, code: str | None, message: str
) -> None:
    body, header = delivery()
    response = post(client, body, header)
    assert response.status_code == status
    if status == 200:
        assert response.get_json() == {"received": True, "duplicate": False}
        assert stored_keys(lake) == [KEY]
    else:
        payload = response.get_json()
        assert payload["received"] is False
        assert payload["error"] == code
        assert message in payload["message"]
        assert stored_keys(lake) == []


def signed(body: bytes) -> tuple[bytes, str]:
    return body, sign_header(body, [SECRET], NOW)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"{not json", "invalid_json", "body is not valid JSON: Expecting property name"),
        (b"", "invalid_json", "body is not valid JSON"),
        ('{"id": "caf\u00e9"}'.encode("latin-1"), "invalid_json", "body is not UTF-8"),
        (b"[1, 2]", "invalid_event", "body is JSON but not an object"),
        (body_of({**EVENT, "id": None}), "missing_event_id", "event has no string 'id'"),
        (
            body_of({k: v for k, v in EVENT.items() if k != "id"}),
            "missing_event_id",
            "no string 'id'",
        ),
        (body_of({**EVENT, "id": ""}), "missing_event_id", "event has no string 'id'"),
        (
            body_of({k: v for k, v in EVENT.items() if k != "type"}),
            "missing_event_type",
            "no string 'type'",
        ),
        (body_of({**EVENT, "type": 7}), "missing_event_type", "event has no string 'type'"),
        (body_of({**EVENT, "type": "Charge Succeeded"}), "invalid_event_type", "is not like"),
        (
            body_of({**EVENT, "id": "../../../etc/passwd"}),
            "invalid_event_id",
            "must be 1-250 letters",
        ),
        (
            body_of({**EVENT, "id": "evt_1/../../x"}),
            "invalid_event_id",
            "letters, digits, '_' or '-'",
        ),
        (body_of({**EVENT, "id": ".hidden"}), "invalid_event_id", "must be 1-250 letters"),
        (body_of({**EVENT, "id": "evt_" + "a" * 300}), "invalid_event_id", "must be 1-250"),
        (body_of({**EVENT, "id": "e" * 251}), "invalid_event_id", "must be 1-250"),
        (
            body_of(EVENT)[:-1] + b', "id": "evt_2"}',
            "invalid_json",
            "body repeats the key 'id' in one object",
        ),
        (body_of(EVENT)[:-1] + b', "x": "\\ud800"}', "invalid_json", "half a UTF-16"),
        (body_of(EVENT)[:-1] + b', "x": "a\\udc00"}', "invalid_json", "half a UTF-16"),
        (
            body_of(EVENT)[:-1] + b', "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            "invalid_json",
            "nested too deeply",
        ),
        (body_of({**EVENT, "created": "yesterday"}), "invalid_created", "no integer 'created'"),
        (body_of({**EVENT, "created": True}), "invalid_created", "no integer 'created'"),
        (body_of({k: v for k, v in EVENT.items() if k != "created"}), "invalid_created", "created"),
    ],
    ids=[
        "invalid json",
        "empty body",
        "not utf-8",
        "json array",
        "id null",
        "no id",
        "empty id",
        "no type",
        "type not a string",
        "type not dotted",
        "id path traversal",
        "id with slash",
        "id dot-file",
        "id too long",
        "id over the file-name limit",
        "duplicate key",
        "lone high surrogate",
        "lone low surrogate",
        "deeply nested",
        "created a string",
        "created a boolean",
        "no created",
    ],
)
def test_signed_bodies_that_are_not_usable_events_are_refused(
    client: FlaskClient, lake: Path, body: bytes, code: str, message: str
) -> None:
    response = post(client, *signed(body))
    assert response.status_code == 400
    assert response.get_json()["error"] == code
    assert message in response.get_json()["message"]
    assert stored_keys(lake) == []
    assert not (lake.parent / "etc").exists()


def test_the_longest_id_and_a_whole_surrogate_pair_are_stored(
    client: FlaskClient, lake: Path
) -> None:
    body = body_of({**EVENT, "id": "e" * 250})[:-1] + b', "emoji": "\\ud83d\\ude00"}'
    assert post(client, *signed(body)).status_code == 200
    assert [key.rsplit("/", 1)[1] for key in stored_keys(lake)] == ["e" * 250 + ".json"]


def test_stored_object_is_the_bronze_envelope_with_the_body_verbatim(
    client: FlaskClient, lake: Path
) -> None:
    assert post(client, *signed(BODY)).status_code == 200
    raw = (lake / KEY).read_bytes()
    stored = json.loads(raw)
    assert stored["data"] == EVENT
    assert BODY in raw  # byte-for-byte, as signed
    assert {k: stored[k] for k in stored if k != "data"} == {
        "_run_id": None,
        "_loaded_at": "2026-11-18T11:06:40.000000Z",
        "_received_at": "2026-11-18T11:06:40.000000Z",
        "_observed_at": EVENT["created"],
        "_source": "webhook",
        "_event_id": "evt_1Test",
        "_event_type": "charge.succeeded",
        "_api_version": EVENT.get("api_version"),
    }
    assert SECRET.encode() not in raw


def test_partition_is_the_event_created_date_not_the_arrival_date(
    client: FlaskClient, lake: Path
) -> None:
    late = make_event("evt_late", created=NOW - 3 * 86400)  # a retry three days later
    assert post(client, *signed(body_of(late))).status_code == 200
    assert stored_keys(lake) == [
        "bronze/source=stripe/entity=webhook_events/dt=2026-11-15/evt_late.json"
    ]


def test_a_redelivery_is_a_duplicate_and_the_first_copy_is_kept(
    client: FlaskClient, lake: Path
) -> None:
    first = post(client, *signed(BODY))
    # Stripe re-signs every attempt; the second copy carries a different timestamp.
    second = post(client, BODY, sign_header(BODY, [SECRET], NOW - 60))
    assert first.get_json() == {"received": True, "duplicate": False}
    assert second.status_code == 200
    assert second.get_json() == {"received": True, "duplicate": True}
    assert stored_keys(lake) == [KEY]


@pytest.mark.parametrize(
    ("size", "status"),
    [(1000, 200), (1001, 413), (50_000, 413)],
)
def test_body_size_limit_is_configurable(
    app_config: dict[str, Any], lake: Path, size: int, status: int
) -> None:
    client = create_app({**app_config, "MAX_BODY_BYTES": 1000}).test_client()
    event = make_event(padding="")
    event["padding"] = "x" * (size - len(body_of(event)))
    body = body_of(event)
    assert len(body) == size
    response = post(client, *signed(body))
    assert response.status_code == status
    if status == 413:
        assert response.get_json() == {
            "received": False,
            "error": "body_too_large",
            "message": f"body is {size} bytes; the limit is 1000 bytes",
        }
        assert stored_keys(lake) == []
    else:
        assert len(stored_keys(lake)) == 1


def test_oversize_body_without_content_length_is_refused_by_the_read_length(
    app_config: dict[str, Any], lake: Path
) -> None:
    client = create_app({**app_config, "MAX_BODY_BYTES": 100}).test_client()
    body = body_of(make_event())
    # A chunked request: no Content-Length, so only the bounded read can catch it.
    response = client.post(
        URL,
        input_stream=io.BytesIO(body),
        headers={
            "Stripe-Signature": sign_header(body, [SECRET], NOW),
            "Transfer-Encoding": "chunked",
        },
        # What waitress sets after de-chunking a request body.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.get_json()["message"] == "body is more than that; the limit is 100 bytes"
    assert stored_keys(lake) == []


class FailingStorage(LocalStorage):
    """A lake whose exclusive create always fails, like a full disk or an S3 outage."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        raise StorageError(f"cannot create {self.uri_for(key)}: No space left on device")


class BrokenStorage(LocalStorage):
    def put_if_absent(self, key: str, data: bytes) -> bool:
        raise RuntimeError("a bug nobody foresaw")


def test_storage_failure_is_503_so_stripe_retries(app_config: dict[str, Any], lake: Path) -> None:
    client = create_app({**app_config, "STORAGE": FailingStorage(lake)}).test_client()
    response = post(client, *signed(BODY))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.get_json() == {
        "received": False,
        "error": "storage_unavailable",
        "message": "the event could not be stored durably; retry later",
    }
    assert stored_keys(lake) == []


def test_unexpected_error_is_500_never_2xx(app_config: dict[str, Any], lake: Path) -> None:
    client = create_app({**app_config, "STORAGE": BrokenStorage(lake)}).test_client()
    response = post(client, *signed(BODY))
    assert response.status_code == 500
    assert response.get_json()["message"] == "unexpected error; the event was not stored"


def test_verification_without_a_secret_refuses_to_build(lake: Path) -> None:
    with pytest.raises(WebhookConfigError, match="no webhook signing secret is configured"):
        create_app({"STORAGE": LocalStorage(lake), "WEBHOOK_SECRETS": ("",)})


@pytest.mark.parametrize("config", [{}, {"STORAGE": None}, {"LAKE_ROOT": "/tmp/lake"}])
def test_an_app_without_a_storage_refuses_to_build(config: dict[str, Any]) -> None:
    with pytest.raises(WebhookConfigError, match="create_app needs STORAGE"):
        create_app({**config, "WEBHOOK_SECRETS": (SECRET,)})


def test_insecure_mode_accepts_unsigned_events(app_config: dict[str, Any], lake: Path) -> None:
    client = create_app({**app_config, "VERIFY_SIGNATURES": False}).test_client()
    response = post(client, BODY, None)
    assert response.get_json() == {"received": True, "duplicate": False}
    assert stored_keys(lake) == [KEY]


def test_health_and_json_errors_for_other_routes(client: FlaskClient) -> None:
    assert client.get("/health").get_json() == {"status": "ok", "verifying_signatures": True}
    response = client.get(URL)
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_flask_route_answers_like_the_wsgi_hot_path(app, lake: Path) -> None:
    """The hot path is plain WSGI in front of Flask; the Flask route it shadows (kept for the
    405s and for anyone mounting `app.wsgi_app` itself) must answer the same way."""
    from werkzeug.test import Client

    flask_only = Client(app.wsgi_app.flask_wsgi)
    header = sign_header(BODY, [SECRET], NOW)
    first = flask_only.post(URL, data=BODY, headers={"Stripe-Signature": header})
    again = app.test_client().post(URL, data=BODY, headers={"Stripe-Signature": header})
    forged = flask_only.post(URL, data=BODY, headers={"Stripe-Signature": f"t={NOW},v1={'0' * 64}"})
    assert (first.status_code, first.get_json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.get_json()) == (200, {"received": True, "duplicate": True})
    assert forged.status_code == 400 and forged.get_json()["error"] == "signature_mismatch"
    assert stored_keys(lake) == [KEY]
