"""The extractor's per-record and per-page shortcuts give exactly what the plain ways give:
an event's object located while the event is decoded (not by decoding it again), envelope
heads built without `json.dumps`, a page that fits its part appended in one write, the
collector's threshold put back after an extraction, and the environment's proxies and CA
bundle read once per client instead of by requests on every request."""

from __future__ import annotations

import gc
import json

import pytest
import requests

from extractor.api.client import Item, Page, StripeClient
from extractor.api.errors import ExtractError
from extractor.api.rawjson import RawJsonError, Span, parse_document, path_span
from extractor.extract.bronze import PartWriter, envelope_head, envelope_line
from extractor.extract.collector import fewer_collections
from extractor.extract.route import EVENT_OBJECT, route_events
from extractor.lake.storage import LocalStorage
from extractor.settings import Settings

EVENTS = [
    '{"id":"evt_1","object":"event","created":5,"data":{"object":{"id":"ch_1","amount":1.10,'
    '"n":"\\u00e9"}},"type":"charge.succeeded"}',
    # Stripe's pretty printing, a previous_attributes after the object, keys with escapes
    '{\n  "id": "evt_2",\n  "data": {\n    "object": {\n      "id": "cus_1",\n      "a\\"b": [1, '
    '{"c": null}]\n    },\n    "previous_attributes": {"email": "x"}\n  },\n  "t\\u0079pe": '
    '"customer.updated"\n}',
    '{"id":"evt_3","data":{"previous_attributes":{},"object":{}}}',  # object last, and empty
    '{"id":"evt_4","data":{"object":"not an object"}}',
    '{"id":"evt_5","data":[{"object":{"id":"x"}}]}',  # data is no object: nothing to find
    '{"id":"evt_6","data":{}}',
    '{"id":"evt_7"}',
    "{}",
    '{ "id" : "evt_8" , "data" : { "object" : { "id" : "y" } } }',
]


def page(elements: list[str], sep: str = ",") -> str:
    return '{"object":"list","data":[' + sep.join(elements) + '],"has_more":false}'


@pytest.mark.parametrize("sep", [",", " ,\n  "])
def test_capture_finds_what_decoding_again_finds(sep):
    text = page(EVENTS, sep)
    plain = parse_document(text, frozenset({"data"}))["data"]
    captured = parse_document(text, frozenset({"data"}), EVENT_OBJECT)["data"]
    assert [json.loads(text[s.start : s.end]) for s in captured] == [json.loads(e) for e in EVENTS]
    for old, new in zip(plain, captured, strict=True):
        assert (new.start, new.end, new.value) == (old.start, old.end, old.value)
        if isinstance(old.value.get("data", {}), dict):  # else path_span refuses the event
            assert new.inner == path_span(text, old, EVENT_OBJECT)
    objects = [text[s.inner.start : s.inner.end] if s.inner else None for s in captured]
    assert objects[0] == '{"id":"ch_1","amount":1.10,"n":"\\u00e9"}'
    assert objects[1] == '{\n      "id": "cus_1",\n      "a\\"b": [1, {"c": null}]\n    }'
    assert objects[2:] == ["{}", '"not an object"', None, None, None, None, '{ "id" : "y" }']
    assert captured[1].value["type"] == "customer.updated"  # an escaped key, decoded


def test_capture_keeps_the_last_of_a_repeated_key_like_the_decoder():
    text = page(['{"data":{"object":{"id":"a"}},"data":{"object":{"id":"b"},"object":{"id":"c"}}}'])
    (span,) = parse_document(text, frozenset({"data"}), EVENT_OBJECT)["data"]
    assert span.value == json.loads(text)["data"][0]
    assert span.inner == Span(span.inner.start, span.inner.end, {"id": "c"})
    assert text[span.inner.start : span.inner.end] == '{"id":"c"}'


@pytest.mark.parametrize(
    "broken",
    [
        '{"id":"e","data":{"object":{"id":"x"}}',  # the event is not closed
        '{"id":"e","data":{"object":{"id":"x",}}}',
        '{"id":"e","data":{"object":{"id":"x"}} "type":"t"}',
        '{"id":"e","data":{"object":{"id":"x"}},}',
        '{"id":"e","data":{"object":}}',
        '{"id":"e","data":{"obj\nect":{}}}',  # a control character in a key
        '{"id":"e",data:{}}',
    ],
)
def test_capture_refuses_what_the_decoder_refuses(broken):
    text = page([broken])
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(RawJsonError):
        parse_document(text, frozenset({"data"}), EVENT_OBJECT)
    with pytest.raises(RawJsonError):
        parse_document(text, frozenset({"data"}))


def reference_line(raw: str, **fields: object) -> str:
    """The envelope as it was built before: a dict through json.dumps."""
    parent = fields.pop("parent_id", None)
    head = {
        "_run_id": fields["run_id"],
        "_loaded_at": fields["loaded_at"],
        "_observed_at": fields["observed_at"],
        "_source": fields["source"],
        "_event_id": fields.get("event_id"),
        "_event_type": fields.get("event_type"),
        "_api_version": fields.get("api_version"),
    }
    if parent is not None:
        head["_parent_id"] = parent
    text = json.dumps(head, separators=(",", ":"))
    return f'{text[:-1]},"data":{raw}}}\n'


class Name(str):
    pass


@pytest.mark.parametrize(
    "fields",
    [
        {"run_id": "r1", "loaded_at": "2026-01-01T00:00:00.000001Z", "observed_at": 5},
        {
            "run_id": 'r"\\\n\t\x00',
            "loaded_at": "é ☃ 𝄞",
            "observed_at": -(10**30),
            "event_id": "evt_1",
            "event_type": "customer.deleted",
            "api_version": "2024-06-20",
            "parent_id": "po_1",
        },
        {"run_id": Name("r"), "loaded_at": "t", "observed_at": True, "event_id": ""},
        {"run_id": "r", "loaded_at": "t", "observed_at": 1.5, "api_version": Name("v\u2028")},
    ],
)
def test_envelope_head_is_what_json_dumps_wrote(fields):
    source = {"source": "event"}
    raw = '{"id":"x","n":1.10}'
    assert envelope_line(raw, **source, **fields) == reference_line(raw, **source, **fields)
    assert envelope_head(**source, **fields) + raw + "}\n" == reference_line(
        raw, **source, **fields
    )


@pytest.mark.parametrize(
    ("max_records", "max_bytes", "rows"),
    [(5, 1000, [5, 5, 5, 4]), (100, 35, [4, 4, 4, 4, 3]), (1, 1000, [1] * 19)],
)
def test_pages_that_fit_and_pages_that_fill_give_the_same_parts(
    tmp_path, max_records, max_bytes, rows
):
    storage = LocalStorage(tmp_path)
    pages = [[f'{{"i":{p}.{i}}}\n' for i in range(n)] for p, n in enumerate([3, 3, 1, 6, 2, 0, 4])]
    writers = [
        PartWriter(storage, "charges", run, "2026-01-05", max_records, max_bytes)
        for run in ("by-page", "by-line")
    ]
    for lines in pages:
        writers[0].write_lines(lines)
        for line in lines:
            writers[1].write_lines([line])
    by_page, by_line = (writer.close() for writer in writers)
    assert [f.rows for f in by_page] == [f.rows for f in by_line] == rows
    assert [storage.get(f.key) for f in by_page] == [storage.get(f.key) for f in by_line]
    assert b"".join(storage.get(f.key) for f in by_page).decode() == "".join(sum(pages, []))
    assert writers[0].rows == writers[1].rows == 19


def test_the_collector_threshold_comes_back():
    before = gc.get_threshold()
    with fewer_collections(50_000):
        assert gc.get_threshold() == (50_000, *before[1:])
    assert gc.get_threshold() == before
    with pytest.raises(KeyError), fewer_collections(50_000):
        raise KeyError("the extraction failed")
    assert gc.get_threshold() == before
    # A host that switched automatic collection off keeps it off.
    try:
        gc.set_threshold(0)
        with fewer_collections(50_000):
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


@pytest.mark.parametrize("data", ['"x"', "[1]", "7"])
def test_an_event_whose_data_is_not_an_object_is_refused_by_name(data):
    """Before, `(data or {}).get` raised an AttributeError that named neither the endpoint
    nor the event, and hid an unsupported API version behind it."""
    text = '{"object":"list","data":[{"id":"evt_9","type":"charge.updated","created":5,'
    text += f'"api_version":"2010-01-01","data":{data}}}],"has_more":false}}'
    members = parse_document(text, frozenset({"data"}), EVENT_OBJECT)
    items = [
        Item(span.value["id"], text[span.start : span.end], span.value, span)
        for span in members["data"]
    ]
    page = Page(text, items, False, 5)
    with pytest.raises(
        ExtractError, match="GET /v1/events: event evt_9 has a data that is not an object"
    ):
        route_events(page, "r1", "2026-01-01T00:00:00Z")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"HTTP_PROXY": "http://proxy:3128", "HTTPS_PROXY": "http://sproxy:3128"},
        {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.1,localhost"},
        {"http_proxy": "http://proxy:3128", "no_proxy": "example.com"},
        {"REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"},
        {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
    ],
)
def test_the_client_reads_the_environment_once_as_requests_would(monkeypatch, env):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "REQUESTS_CA_BUNDLE"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    api_base = "http://127.0.0.1:12111"
    client = StripeClient(Settings(api_base=api_base))
    url = f"{api_base}/v1/charges?limit=100"
    expected = requests.Session().merge_environment_settings(url, {}, None, None, None)
    assert client.session.trust_env is False
    assert client.session.merge_environment_settings(url, {}, None, None, None) == expected
    assert client.session.headers["Authorization"].startswith("Bearer ")
