"""The published formats of personal identifiers, checked in Python: GB 11643-1999 resident ID
numbers, ISO/IEC 7812 (Luhn) card numbers and mainland mobile numbers. They are the Python twins
of the Spark SQL checks in :mod:`lakehouse.quality.value_domains` (the integration tests hold
the two to the same answers), and what the demo generator and de-identified copies produce."""

from __future__ import annotations

import re
from datetime import date

from lakehouse.standards import gb11643

_DIGITS = frozenset("0123456789")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "157", "158", "159", "166", "173", "177", "180", "181", "185", "186", "187",
    "188", "189", "191", "198", "199",
)
"""Real carrier prefixes of mainland mobile numbers."""

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
"""Common surnames and given-name characters: a Chinese name is a surname and one or two of them."""


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


def is_valid_mobile(s: object) -> bool:
    """Whether ``s`` is an 11-digit mainland mobile number (``1[3-9]`` then nine digits)."""
    return isinstance(s, str) and _MOBILE_RE.fullmatch(s) is not None
