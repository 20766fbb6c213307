"""Keyed permutations of number ranges and digit strings: a replacement that is the same for the
same input, different for different inputs, and undoable by nobody without the key.

A balanced-ish Feistel network over [0, a) x [0, b) with HMAC-SHA256 round functions is a
permutation of [0, a*b); cycle-walking (apply it again while the result is outside [0, n)) makes
it a permutation of [0, n) for any n. The same construction is behind format-preserving
encryption (NIST SP 800-38G FF1); here it serves de-identified copies, where a replaced
identifier must stay unique (so keys and joins survive) and keep its format.

Walking while a *predicate* differs from the input's (``walk_while``) keeps a permutation of
each side of the predicate: valid values go to valid values, invalid ones to invalid ones.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable

ROUNDS = 8


class KeyedPermutation:
    """A permutation of [0, size) chosen by ``key`` and ``tweak`` (a domain name)."""

    def __init__(self, key: bytes, tweak: str, size: int):
        if size < 1:
            raise ValueError(f"a permutation needs a size of at least 1, not {size}")
        self.size = size
        self._a = max(1, math.isqrt(size - 1) + 1)
        self._b = max(1, -(-size // self._a))
        self._key = hmac.new(key, tweak.encode("utf-8"), hashlib.sha256).digest()

    def _round(self, i: int, value: int, modulus: int) -> int:
        digest = hmac.new(self._key, f"{i}:{value}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:12], "big") % modulus

    def _once(self, x: int) -> int:
        left, right = divmod(x, self._b)
        for i in range(ROUNDS):
            if i % 2 == 0:
                left = (left + self._round(i, right, self._a)) % self._a
            else:
                right = (right + self._round(i, left, self._b)) % self._b
        return left * self._b + right

    def apply(self, x: int, walk_while: Callable[[int], bool] | None = None) -> int:
        """The image of ``x`` (0 <= x < size); with ``walk_while``, the first image in the cycle of
        ``x`` for which ``walk_while`` is false (a permutation of the values where it is false)."""
        if not 0 <= x < self.size:
            raise ValueError(f"{x} is outside [0, {self.size})")
        y = self._once(x)
        while y >= self.size or (walk_while is not None and walk_while(y)):
            y = self._once(y)
        return y


def permute_digits(text: str, key: bytes, tweak: str, keep_first: int = 0,
                   same_as: Callable[[str], bool] | None = None) -> str:
    """``text`` with its digits after the first ``keep_first`` characters replaced by a keyed
    permutation of them (every other character kept in place); with ``same_as`` (a validity
    check), the result is valid exactly when ``text`` is."""
    head, tail = text[:keep_first], text[keep_first:]
    positions = [i for i, c in enumerate(tail) if "0" <= c <= "9"]
    if not positions:
        return text
    width = len(positions)
    skeleton = "".join("0" if "0" <= c <= "9" else c for c in tail)
    permutation = KeyedPermutation(key, f"{tweak}|{head}|{skeleton}", 10 ** width)

    def spelled(number: int) -> str:
        digits = iter(f"{number:0{width}d}")
        return head + "".join(next(digits) if "0" <= c <= "9" else c for c in tail)

    number = int("".join(tail[i] for i in positions))
    if same_as is None:
        return spelled(permutation.apply(number))
    valid = same_as(text)
    return spelled(permutation.apply(number, lambda y: same_as(spelled(y)) != valid))
