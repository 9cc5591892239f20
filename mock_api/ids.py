"""Deterministic hashing and the id codec shared by the dataset and the app.

Every random-looking value in the mock comes from a keyed 64-bit mix of (seed, salt, index),
so an object is a pure function of its index and nothing is stored. Ids embed the index in a
fixed-width base62 field, which makes them decode back to (resource, index) in O(1) and sort
lexically in index order (the list tie-break), followed by a keyed tail so that an id from
another seed, or a hand-typed one, is rejected as unknown.
"""

from __future__ import annotations

import hashlib

from mock_api.memo import keep

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_INDEX = {c: n for n, c in enumerate(BASE62)}


def mix64(x: int) -> int:
    """splitmix64's finaliser: a fast, well-distributed bijection on 64-bit integers."""
    x = (x + GOLDEN) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def salt(name: str) -> int:
    """A stable 64-bit constant for a name (Python's hash() is randomised per process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


class Rng:
    """A tiny splitmix64 stream: cheap to create per object, unlike random.Random."""

    __slots__ = ("_state",)

    def __init__(self, key: int) -> None:
        self._state = key & M64

    def next64(self) -> int:
        x = self._state = (self._state + GOLDEN) & M64
        # mix64(x), inlined (this is the mock's hottest call).
        x = (x + GOLDEN) & M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
        return x ^ (x >> 31)

    def uniform(self) -> float:
        return (self.next64() >> 11) / 9007199254740992.0

    def randint(self, low: int, high: int) -> int:
        """An integer in [low, high], both ends included."""
        return low + self.next64() % (high - low + 1)

    def choice(self, items: tuple | list):
        return items[self.next64() % len(items)]

    def weighted(self, items: tuple | list, weights: tuple | list):
        target = self.uniform() * sum(weights)
        for item, weight in zip(items, weights, strict=True):
            target -= weight
            if target < 0:
                return item
        return items[-1]

    def skip(self, draws: int) -> int:
        """Pass over `draws` draws without computing them; the state they start from (an
        Rng built on it draws them: each draw depends on its position only)."""
        state = self._state
        self._state = (state + draws * GOLDEN) & M64
        return state

    def token(self, length: int) -> str:
        # `length` draws of next64, each one base62 character; inlined, same values.
        state = self._state
        chars = []
        for _ in range(length):
            state = (state + GOLDEN) & M64
            x = (state + GOLDEN) & M64
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
            chars.append(BASE62[(x ^ (x >> 31)) % 62])
        self._state = state
        return "".join(chars)


_PAIRS = [high + low for high in BASE62 for low in BASE62]  # two digits, by value < 62**2


def to_base62(value: int, width: int) -> str:
    """Fixed-width base62; raises if value does not fit, so ids never silently collide."""
    if not 0 <= value < 62**width:
        raise ValueError("value too large for the id field")
    pieces = []  # two digits at a time from the lowest, then the odd top digit
    for _ in range(width >> 1):
        value, rem = divmod(value, 3844)
        pieces.append(_PAIRS[rem])
    if width & 1:
        pieces.append(BASE62[value])
    return "".join(reversed(pieces))


def from_base62(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + _BASE62_INDEX[char]
    return value


# prefix, version character, index width, tail width: shaped like Stripe's own ids
# (cus_ + 14 chars, ch_/pi_/in_/evt_ + 24 chars).
ID_LAYOUT: dict[str, tuple[str, str, int, int]] = {
    "customers": ("cus", "N", 6, 7),
    "charges": ("ch", "3", 10, 13),
    "payment_intents": ("pi", "3", 10, 13),
    "invoices": ("in", "1", 10, 13),
    "events": ("evt", "1", 11, 12),
    "refunds": ("re", "3", 10, 13),
    "disputes": ("dp", "1", 10, 13),
    "payouts": ("po", "1", 10, 13),
    "balance_transactions": ("txn", "3", 10, 13),
    # Not retrievable on their own; ids only need to be stable and unique.
    "bank_accounts": ("ba", "1", 10, 13),
    "payment_methods": ("pm", "1", 10, 13),
    "line_items": ("il", "1", 10, 13),
    "tax_rates": ("txr", "1", 10, 13),
    "requests": ("req", "", 10, 4),
    # Billing (docs/mock_api.md#billing). Stripe lets an account name its coupons; generated
    # ones are 8 characters, here a prefix keeps them decodable.
    "products": ("prod", "", 6, 8),
    "prices": ("price", "1", 10, 13),
    "coupons": ("co", "", 3, 5),
    "subscriptions": ("sub", "1", 10, 13),
    "subscription_items": ("si", "", 6, 8),
    "discounts": ("di", "1", 10, 13),
    # Subscription invoices and their lines share Stripe's prefixes; the version character
    # tells them from the other invoices and lines.
    "subscription_invoices": ("in", "2", 10, 13),
    "subscription_lines": ("il", "2", 12, 13),
    # The charge and payment intent that pay subscription invoice i (index i as well).
    "subscription_charges": ("ch", "4", 10, 13),
    "subscription_payment_intents": ("pi", "4", 10, 13),
}
_PREFIX_TO_RESOURCES: dict[str, list[str]] = {}
for _name, _layout in ID_LAYOUT.items():
    _PREFIX_TO_RESOURCES.setdefault(_layout[0], []).append(_name)


ENCODED_MEMO_MAX = 1 << 16


class IdCodec:
    """Encodes (resource, index) as a Stripe-like id and decodes it back, keyed by the seed."""

    def __init__(self, seed: int) -> None:
        self._key = mix64(seed ^ salt("id-tail"))
        self._resource_salt = {name: salt(f"id:{name}") for name in ID_LAYOUT}
        # Ids already encoded (bounded): a customer's id is on every one of its payments.
        self._encoded: dict[tuple[str, int], str] = {}

    def _tail(self, resource: str, index: int, width: int) -> str:
        first = mix64(self._key ^ self._resource_salt[resource] ^ mix64(index))
        second = mix64(first ^ GOLDEN)
        return to_base62(((first << 64) | second) % (62**width), width)

    def encode(self, resource: str, index: int) -> str:
        key = (resource, index)
        found = self._encoded.get(key)
        if found is None:
            prefix, version, index_width, tail_width = ID_LAYOUT[resource]
            body = to_base62(index, index_width)
            found = f"{prefix}_{version}{body}{self._tail(resource, index, tail_width)}"
            keep(self._encoded, key, found, ENCODED_MEMO_MAX)
        return found

    def decode(self, object_id: str) -> tuple[str, int] | None:
        """(resource, index) for an id this seed produced, else None."""
        prefix, sep, rest = object_id.partition("_")
        if not sep:
            return None
        for resource in _PREFIX_TO_RESOURCES.get(prefix, ()):
            _, version, index_width, tail_width = ID_LAYOUT[resource]
            if len(rest) == len(version) + index_width + tail_width and rest.startswith(version):
                break
        else:
            return None
        body = rest[len(version) : len(version) + index_width]
        if any(char not in _BASE62_INDEX for char in rest):
            return None
        index = from_base62(body)
        if rest[len(version) + index_width :] != self._tail(resource, index, tail_width):
            return None
        return resource, index
