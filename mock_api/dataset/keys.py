"""Seeded hashing: every decision of the dataset draws from its own keyed hash of an index.

Each decision ("is charge i refunded?", "which variant of the update?") has a salt name, so
deciding it for an event stream costs one hash, not a whole object, and adding a decision never
shifts the values of the others.
"""

from __future__ import annotations

from mock_api.ids import GOLDEN, M64, Rng, mix64, salt

# The four original resources key per-object decisions (lateness, customer pick, drift score)
# by `index * 4 + slot`. These keys are part of every existing dataset, so they stay; the
# field only has four slots, so a newer resource gets a salted key instead (see resource_key).
_LEGACY_SLOTS = {"customers": 0, "charges": 1, "payment_intents": 2, "invoices": 3}


class _Salts(dict):
    """salt(name) memoised; a plain dict lookup once known (these are on the hottest paths)."""

    def __missing__(self, name: str) -> int:
        value = self[name] = salt(name)
        return value


_SALT = _Salts()


class Keys:
    """The seed's hash functions: h (64-bit), u (uniform in [0, 1)) and a per-object Rng."""

    def __init__(self, seed: int) -> None:
        self._key = mix64(seed ^ salt("seed"))

    def h(self, name: str, index: int) -> int:
        # mix64(self._key ^ _SALT[name] ^ mix64(index)), both mixes inlined (hottest path).
        x = (index + GOLDEN) & M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
        x = ((self._key ^ _SALT[name] ^ x ^ (x >> 31)) + GOLDEN) & M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
        return x ^ (x >> 31)

    def u(self, name: str, index: int) -> float:
        return (self.h(name, index) >> 11) / 9007199254740992.0

    def rng(self, name: str, index: int) -> Rng:
        return Rng(self.h(name, index))

    def per_resource(self, name: str, resource: str) -> int:
        """One key for a whole resource (e.g. its creation-time jitter)."""
        return mix64(self._key ^ _SALT[name] ^ _SALT[f"resource:{resource}"])


def resource_key(resource: str, index: int) -> int:
    """An index key unique across resources, for decisions several resources share a salt of."""
    slot = _LEGACY_SLOTS.get(resource)
    if slot is not None:
        return index * 4 + slot
    return mix64(_SALT[f"resource:{resource}"] ^ mix64(index))
