"""GB 11643-1999 resident ID numbers: the province prefixes (GB/T 2260) and the ISO 7064
MOD 11-2 check character, shared by the quality check (Spark SQL) and the demo generator."""

from __future__ import annotations

PROVINCES: tuple[str, ...] = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
)
"""Province-level prefixes of GB/T 2260 (mainland, Taiwan, Hong Kong, Macao)."""

WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
"""The weight of each of the first 17 digits."""

CHECK_CHARACTERS = "10X98765432"
"""The check character for each remainder (weighted sum mod 11)."""

EARLIEST_BIRTH_YEAR = 1800

_DIGITS = frozenset("0123456789")


def check_character(first17: str) -> str:
    """The check character ("0"-"9" or "X") for the first 17 digits."""
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    return CHECK_CHARACTERS[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]
