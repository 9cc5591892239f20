"""Find the exact source text of JSON values without re-serialising them.

Bronze keeps each Stripe object byte-for-byte as the API returned it
(docs/architecture.md#bronze-line). Parsing
a page and dumping the objects again could change number spellings, escapes or key
order, so instead we walk the page with the C-accelerated scanner behind `raw_decode`, which
reports where each value ends, and slice the original text. Every value is parsed once: an
events page asks for each event's `data.object` span while the event is decoded (`capture`),
instead of decoding the object a second time to find where it ends.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any, NamedTuple

_decoder = json.JSONDecoder()
# What `raw_decode` calls, without its Python frame (called once per member of every page).
_scan = _decoder.scan_once
_WS = re.compile(r"[ \t\n\r]*")
# After a member or an element: its separator or closer (group 1), and the whitespace around.
_AFTER_MEMBER = re.compile(r"[ \t\n\r]*([,}])[ \t\n\r]*")
_AFTER_ELEMENT = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
# A key with no escape and no control character (every key Stripe sends), then its colon:
# the key is the text between the quotes. Any other key goes through `scanstring`.
_PLAIN_KEY = re.compile(r'"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
# After a member: the next plain key and its colon (group 1), or the object's end (group 2).
_NEXT_MEMBER = re.compile(
    r'[ \t\n\r]*(?:,[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*|(\}))'
)
# A JSON string token, or a run of insignificant whitespace (outside strings).
_STRING_OR_WS = re.compile(r'("(?:[^"\\]|\\.)*")|[ \t\n\r]+', re.DOTALL)


class RawJsonError(ValueError):
    """The text is not the JSON shape we expected; the message says where."""


class Span(NamedTuple):
    """A value found in `text[start:end]`, with its parsed form; for an array element parsed
    with a `capture` path, `inner` is the Span of the member at that path (None if absent).

    A NamedTuple rather than a frozen dataclass: one is made per record and per member of
    every page, and a tuple is several times cheaper to create.
    """

    start: int
    end: int
    value: Any
    inner: Span | None = None


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _decode(text: str, pos: int) -> tuple[Any, int]:
    """`raw_decode(text, pos)`, its errors as RawJsonError."""
    try:
        return _scan(text, pos)
    except StopIteration as exc:  # what raw_decode reports as "Expecting value"
        raise RawJsonError(f"Expecting value at char {exc.value}") from None
    except json.JSONDecodeError as exc:
        raise RawJsonError(f"{exc.msg} at char {exc.pos}") from None


def _after(pattern: re.Pattern[str], text: str, pos: int, expected: str) -> tuple[str, int]:
    """The separator or closer after a value ending at `pos`, and where the next value
    starts (after a separator) or where the container ends (just after its closer)."""
    found = pattern.match(text, pos)
    if found is None:
        raise RawJsonError(f"expected {expected} at char {_skip(text, pos)}")
    c = found.group(1)
    return c, found.end() if c == "," else found.end(1)


def object_members(
    text: str,
    start: int = 0,
    split_arrays: frozenset[str] = frozenset(),
    capture: tuple[str, ...] = (),
) -> tuple[dict[str, Span | list[Span]], int]:
    """Members of the JSON object at `text[start:]`: key -> Span, and the end position.

    For keys in `split_arrays` whose value is an array, the value is a list of element
    Spans instead, so each element's own text can be sliced out; with a `capture` path
    (e.g. ("data", "object")), each element Span's `inner` is the member at that path.
    """
    i = _skip(text, start)
    if text[i : i + 1] != "{":
        raise RawJsonError(f"expected '{{' at char {i}")
    i = _skip(text, i + 1)
    members: dict[str, Span | list[Span]] = {}
    if text[i : i + 1] == "}":
        return members, i + 1
    while True:
        key, i = _member_key(text, i)
        if key in split_arrays and text.startswith("[", i):
            elements, end = _array_elements(text, i, capture)
            members[key] = elements
        else:
            value, end = _decode(text, i)
            members[key] = Span(i, end, value)
        c, i = _after(_AFTER_MEMBER, text, end, "',' or '}'")
        if c == "}":
            return members, i


def _array_elements(text: str, start: int, capture: tuple[str, ...]) -> tuple[list[Span], int]:
    i = _skip(text, start + 1)
    out: list[Span] = []
    if text[i : i + 1] == "]":
        return out, i + 1
    while True:
        if capture:
            value, end, inner = _decode_capturing(text, i, capture)
            out.append(Span(i, end, value, inner))
        else:
            value, end = _decode(text, i)
            out.append(Span(i, end, value))
        c, i = _after(_AFTER_ELEMENT, text, end, "',' or ']'")
        if c == "]":
            return out, i


def _decode_capturing(text: str, start: int, path: tuple[str, ...]) -> tuple[Any, int, Span | None]:
    """The value at `text[start:]` (what `_decode` gives), its end, and the Span of the member
    at `path` below it (None if there is none), decoding every byte once.

    Objects on the path are walked member by member and rebuilt as dicts (the same dict the
    scanner builds: a repeated key keeps its first place and its last value, and the Span
    returned is that last value's); everything else is left to the scanner.
    """
    if not path:
        value, end = _decode(text, start)
        return value, end, Span(start, end, value)
    if not text.startswith("{", start):
        value, end = _decode(text, start)
        return value, end, None
    wanted, below = path[0], path[1:]
    out: dict[str, Any] = {}
    found: Span | None = None
    i = _skip(text, start + 1)
    if text.startswith("}", i):
        return out, i + 1, None
    key, i = _member_key(text, i)
    while True:
        if key == wanted:
            value, end, found = _decode_capturing(text, i, below)
        else:
            try:  # `_decode`, inlined: this runs for every member of every event
                value, end = _scan(text, i)
            except (StopIteration, json.JSONDecodeError):
                value, end = _decode(text, i)  # raises the RawJsonError
        out[key] = value
        following = _NEXT_MEMBER.match(text, end)
        if following is not None:
            key = following.group(1)
            if key is None:
                return out, following.end(), found
            i = following.end()
            continue
        c, i = _after(_AFTER_MEMBER, text, end, "',' or '}'")  # a key with escapes, or an error
        if c == "}":
            return out, i, found
        key, i = _member_key(text, i)


def parse_document(
    text: str, split_arrays: frozenset[str] = frozenset(), capture: tuple[str, ...] = ()
) -> dict:
    """`object_members` for a whole document: nothing but whitespace may follow."""
    members, end = object_members(text, 0, split_arrays, capture)
    if _skip(text, end) != len(text):
        raise RawJsonError(f"unexpected data after the JSON object at char {end}")
    return members


def one_line(raw: str) -> str:
    """`raw` with insignificant whitespace removed if it spans lines, else unchanged.

    Only whitespace between tokens is dropped (newlines cannot occur inside JSON strings),
    so every token, number spelling and escape stays exactly as the API sent it.
    """
    if "\n" not in raw and "\r" not in raw:
        return raw
    return _STRING_OR_WS.sub(lambda m: m.group(1) or "", raw)


def nested_span(text: str, span: Span, key: str) -> Span | None:
    """The Span of member `key` inside the object at `span`, in `text` coordinates."""
    members, _ = object_members(text, span.start)
    found = members.get(key)
    return found if isinstance(found, Span) else None


def path_span(text: str, span: Span, keys: tuple[str, ...]) -> Span | None:
    """The Span of the member at `keys` (e.g. ("data", "object")) below the object at `span`.

    Same answer as chaining `nested_span`, but it decodes only what it must: the members
    before each key on the path (to find where they end) and the value it returns, not every
    enclosing object again. None if a key is missing. The text was already validated when
    the page was parsed.
    """
    start = span.start
    for depth, key in enumerate(keys):
        found = _find_member(text, start, key, decode=depth == len(keys) - 1)
        if found is None or isinstance(found, Span):
            return found
        start = found
    return None


def _member_key(text: str, i: int) -> tuple[str, int]:
    """The key of the object member at `text[i]` and where its value starts."""
    plain = _PLAIN_KEY.match(text, i)
    if plain is not None:
        return plain.group(1), plain.end()
    if text[i : i + 1] != '"':
        raise RawJsonError(f"expected a key at char {i}")
    try:
        key, i = scanstring(text, i + 1)
    except json.JSONDecodeError as exc:
        raise RawJsonError(f"{exc.msg} at char {exc.pos}") from None
    i = _skip(text, i)
    if text[i : i + 1] != ":":
        raise RawJsonError(f"expected ':' at char {i}")
    return key, _skip(text, i + 1)


def _find_member(text: str, start: int, key: str, decode: bool) -> Span | int | None:
    """Member `key` of the object at `text[start:]`: its Span if `decode`, else where its
    value starts (which must be an object); None if the object has no such member."""
    i = _skip(text, start)
    if text[i : i + 1] != "{":
        raise RawJsonError(f"expected '{{' at char {i}")
    i = _skip(text, i + 1)
    if text[i : i + 1] == "}":
        return None
    while True:
        name, i = _member_key(text, i)
        if name == key:
            if not decode:
                return i
            value, end = _decode(text, i)
            return Span(i, end, value)
        _, i = _decode(text, i)
        i = _skip(text, i)
        c = text[i : i + 1]
        if c == ",":
            i = _skip(text, i + 1)
        elif c == "}":
            return None
        else:
            raise RawJsonError(f"expected ',' or '}}' at char {i}")


def with_member_true(raw: str, key: str) -> str:
    """The object text `raw` with `key` set to true, touching nothing else.

    Used for tombstones: a `*.deleted` event's object may not carry `"deleted": true`.
    """
    members, end = object_members(raw, 0)
    found = members.get(key)
    if isinstance(found, Span):
        if found.value is True:
            return raw
        return raw[: found.start] + "true" + raw[found.end :]
    close = raw.rindex("}", 0, end)
    sep = "," if members else ""
    return raw[:close].rstrip() + f'{sep}"{key}":true' + raw[close:]
