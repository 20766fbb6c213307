"""Fictitious identifiers that are valid in form: resident ID numbers, bank cards, mobiles, names.

Every generator takes a ``random.Random`` so the same seed gives the same values. The values
follow the published formats (GB 11643-1999, ISO/IEC 7812 Luhn, mainland mobile numbering)
but belong to nobody: region codes and names are drawn from small tables, card BINs are
made up.
"""

from __future__ import annotations

import random
import re
from datetime import date

from lakehouse.standards import gb11643

# Real-format county-level region codes (GB/T 2260): Beijing Dongcheng, Shanghai Xuhui,
# Shenzhen Futian, Hangzhou Xihu, Chengdu Jinniu, Wuhan Wuchang, Nanjing Xuanwu, Xi'an Beilin.
REGION_CODES = ("110101", "310104", "440305", "330106", "510107", "420106", "320102", "610103")

_DIGITS = frozenset("0123456789")

# Made-up BINs in the UnionPay "62" format; not issued to any bank.
DEMO_CARD_BINS = ("629901", "629902", "629903")

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "157", "158", "159", "166", "173", "177", "180", "181", "185", "186", "187",
    "188", "189", "191", "198", "199",
)

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "欧阳", "司马", "诸葛", "上官",
)
GIVEN_CHARS = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "文", "辉", "建", "晨", "宇",
    "欣", "怡", "浩", "然", "子", "涵", "思", "博", "嘉", "雨", "佳", "琪", "俊", "峰", "婷",
)


def id_number_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ("0"-"9" or "X") for the first 17 digits."""
    return gb11643.check_character(first17)


def is_valid_id_number(s: object) -> bool:
    """Whether ``s`` is an 18-character resident ID number valid in form.

    Checks length, digits, a known province prefix, a calendar birth date from 1800 on, and
    the check character (upper-case "X" only).
    """
    if not isinstance(s, str) or len(s) != 18 or not set(s[:17]) <= _DIGITS:
        return False
    if s[:2] not in gb11643.PROVINCES:
        return False
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    if born.year < gb11643.EARLIEST_BIRTH_YEAR:
        return False
    return s[17] == id_number_check_digit(s[:17])


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


def luhn_check_digit(partial: str) -> str:
    """The Luhn check digit to append to the digit string ``partial``."""
    if not partial or not set(partial) <= _DIGITS:
        raise ValueError(f"expected ASCII digits, got {partial!r}")
    total = 0
    for i, c in enumerate(reversed(partial)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str(-total % 10)


def is_luhn_valid(s: object) -> bool:
    """Whether ``s`` is a string of at least two ASCII digits whose last digit is its Luhn check."""
    if not isinstance(s, str) or len(s) < 2 or not set(s) <= _DIGITS:
        return False
    return luhn_check_digit(s[:-1]) == s[-1]


def make_card_number(rng: random.Random, bin: str = DEMO_CARD_BINS[0], length: int = 16) -> str:
    """A Luhn-valid card number of ``length`` (16 or 19) digits starting with ``bin``."""
    if length not in (16, 19):
        raise ValueError(f"card numbers have 16 or 19 digits, not {length}")
    if not bin or not set(bin) <= _DIGITS or len(bin) >= length - 1:
        raise ValueError(f"BIN must be a short digit string, got {bin!r}")
    body = "".join(rng.choice("0123456789") for _ in range(length - 1 - len(bin)))
    partial = bin + body
    return partial + luhn_check_digit(partial)


def is_valid_mobile(s: object) -> bool:
    """Whether ``s`` is an 11-digit mainland mobile number (``1[3-9]`` then nine digits)."""
    return isinstance(s, str) and _MOBILE_RE.fullmatch(s) is not None


def make_mobile(rng: random.Random) -> str:
    """A mobile number valid in form, with a real carrier prefix."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def make_name(rng: random.Random) -> str:
    """A fictitious Chinese name: a surname and one or two given-name characters (2-4 chars)."""
    given = rng.choice(GIVEN_CHARS)
    if rng.random() < 0.7:
        given += rng.choice(GIVEN_CHARS)
    return rng.choice(SURNAMES) + given
