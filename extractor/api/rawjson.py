"""Find the exact source text of JSON values without re-serialising them.

Bronze keeps each Stripe object byte-for-byte as the API returned it
(docs/architecture.md#bronze-line). Parsing
a page and dumping the objects again could change number spellings, escapes or key
order, so instead we walk the page with the C-accelerated `raw_decode`, which reports
where each value ends, and slice the original text. Every value is parsed once.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any, NamedTuple

_decoder = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
# A JSON string token, or a run of insignificant whitespace (outside strings).
_STRING_OR_WS = re.compile(r'("(?:[^"\\]|\\.)*")|[ \t\n\r]+', re.DOTALL)


class RawJsonError(ValueError):
    """The text is not the JSON shape we expected; the message says where."""


class Span(NamedTuple):
    """A value found in `text[start:end]`, with its parsed form.

    A NamedTuple rather than a frozen dataclass: one is made per record and per member of
    every page, and a tuple is several times cheaper to create.
    """

    start: int
    end: int
    value: Any


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _decode(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise RawJsonError(f"{exc.msg} at char {exc.pos}") from None


def object_members(
    text: str, start: int = 0, split_arrays: frozenset[str] = frozenset()
) -> tuple[dict[str, Span | list[Span]], int]:
    """Members of the JSON object at `text[start:]`: key -> Span, and the end position.

    For keys in `split_arrays` whose value is an array, the value is a list of element
    Spans instead, so each element's own text can be sliced out.
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
        if key in split_arrays and text[i : i + 1] == "[":
            elements, i = _array_elements(text, i)
            members[key] = elements
        else:
            value, end = _decode(text, i)
            members[key] = Span(i, end, value)
            i = end
        i = _skip(text, i)
        c = text[i : i + 1]
        if c == ",":
            i = _skip(text, i + 1)
        elif c == "}":
            return members, i + 1
        else:
            raise RawJsonError(f"expected ',' or '}}' at char {i}")


def _array_elements(text: str, start: int) -> tuple[list[Span], int]:
    i = _skip(text, start + 1)
    out: list[Span] = []
    if text[i : i + 1] == "]":
        return out, i + 1
    while True:
        value, end = _decode(text, i)
        out.append(Span(i, end, value))
        i = _skip(text, end)
        c = text[i : i + 1]
        if c == ",":
            i = _skip(text, i + 1)
        elif c == "]":
            return out, i + 1
        else:
            raise RawJsonError(f"expected ',' or ']' at char {i}")


def parse_document(text: str, split_arrays: frozenset[str] = frozenset()) -> dict:
    """`object_members` for a whole document: nothing but whitespace may follow."""
    members, end = object_members(text, 0, split_arrays)
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
