"""Fictitious identifiers that are valid in form: resident ID numbers, bank cards, mobiles, names.

Every generator takes a ``random.Random`` so the same seed gives the same values. The values
follow the published formats (GB 11643-1999, ISO/IEC 7812 Luhn, mainland mobile numbering)
but belong to nobody: region codes and names are drawn from small tables, card BINs are
made up.
"""

from __future__ import annotations

import random
from datetime import date

from lakehouse.standards import gb11643
from lakehouse.standards.formats import (  # noqa: F401  (re-exported for the demo)
    GIVEN_CHARS,
    MOBILE_PREFIXES,
    SURNAMES,
    id_number_check_digit,
    is_luhn_valid,
    is_valid_id_number,
    is_valid_mobile,
    luhn_check_digit,
)

# Real-format county-level region codes (GB/T 2260): Beijing Dongcheng, Shanghai Xuhui,
# Shenzhen Futian, Hangzhou Xihu, Chengdu Jinniu, Wuhan Wuchang, Nanjing Xuanwu, Xi'an Beilin.
REGION_CODES = ("110101", "310104", "440305", "330106", "510107", "420106", "320102", "610103")

_DIGITS = frozenset("0123456789")

# Made-up BINs in the UnionPay "62" format; not issued to any bank.
DEMO_CARD_BINS = ("629901", "629902", "629903")


def make_id_number(
    rng: random.Random, birth_date: date, male: bool, region: str | None = None
) -> str:
    """A valid ID number for someone born on ``birth_date``; odd sequence: male, even: female."""
    region = region if region is not None else rng.choice(REGION_CODES)
    if len(region) != 6 or not set(region) <= _DIGITS:
        raise ValueError(f"region code must be 6 digits, got {region!r}")
    seq = 2 * rng.randrange(500) + 1 if male else 2 * rng.randrange(1, 500)
    first17 = f"{region}{birth_date:%Y%m%d}{seq:03d}"
    return first17 + id_number_check_digit(first17)


def make_card_number(rng: random.Random, bin: str = DEMO_CARD_BINS[0], length: int = 16) -> str:
    """A Luhn-valid card number of ``length`` (16 or 19) digits starting with ``bin``."""
    if length not in (16, 19):
        raise ValueError(f"card numbers have 16 or 19 digits, not {length}")
    if not bin or not set(bin) <= _DIGITS or len(bin) >= length - 1:
        raise ValueError(f"BIN must be a short digit string, got {bin!r}")
    body = "".join(rng.choice("0123456789") for _ in range(length - 1 - len(bin)))
    partial = bin + body
    return partial + luhn_check_digit(partial)


def make_mobile(rng: random.Random) -> str:
    """A mobile number valid in form, with a real carrier prefix."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def make_name(rng: random.Random) -> str:
    """A fictitious Chinese name: a surname and one or two given-name characters (2-4 chars)."""
    given = rng.choice(GIVEN_CHARS)
    if rng.random() < 0.7:
        given += rng.choice(GIVEN_CHARS)
    return rng.choice(SURNAMES) + given
