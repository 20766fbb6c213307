"""The replacement of one value in a de-identified copy (4.2.2.4 d), per method of
``conf/deidentify.yaml``: keyed, so the same value is replaced alike in every table and run with
the same key; valid in form (GB 11643, Luhn, mobile prefixes); identifiers stay unique.

``replacer(method, key, tweak, valid)`` returns a plain function value -> value (None stays None)
that Spark runs over a column. ``tweak`` names the domain (the data standard), so equal values of
different standards get unrelated replacements; ``valid`` is the standard's value check, whose
answer the replacement keeps (a malformed value stays malformed, so quality results agree).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lakehouse.config.deidentify_rules import Replacement
from lakehouse.security.keyed_permutation import KeyedPermutation, permute_digits
from lakehouse.standards import gb11643
from lakehouse.standards.formats import GIVEN_CHARS, SURNAMES, is_valid_mobile, luhn_check_digit

Replace = Callable[[Any], Any]
Check = Callable[[str], bool]

_ID_FIRST_BIRTH = dt.date(1900, 1, 1)
_ID_BIRTH_DAYS = (dt.date(2099, 12, 31) - _ID_FIRST_BIRTH).days + 1
_ID_DOMAIN = len(gb11643.PROVINCES) * 10_000 * _ID_BIRTH_DAYS * 1000
_COMPOUND = tuple(s for s in SURNAMES if len(s) == 2)
_SINGLE = tuple(s for s in SURNAMES if len(s) == 1)
_PROVINCES = ("北京市", "上海市", "广东省深圳市", "浙江省杭州市", "四川省成都市", "湖北省武汉市",
              "江苏省南京市", "陕西省西安市")
_ROADS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "文化路", "青年路",
          "光明路", "胜利路", "朝阳路")


def replacer(rule: Replacement, key: bytes, tweak: str, valid: Check | None = None) -> Replace:
    """The function replacing one value by ``rule``."""
    build = _METHODS[rule.method]
    replace = build(rule, key, tweak, valid)

    def apply(value: Any) -> Any:
        return None if value is None else replace(value)

    return apply


def _keep(rule, key, tweak, valid) -> Replace:
    return lambda value: value


def _digits(rule, key, tweak, valid) -> Replace:
    return lambda value: permute_digits(str(value), key, tweak, rule.keep_first, valid)


def _mobile(rule, key, tweak, valid) -> Replace:
    # the carrier prefix (3 digits) stays, so the number keeps its validity and its carrier
    return lambda value: permute_digits(str(value), key, tweak, 3, valid or is_valid_mobile)


def _card_number(rule, key, tweak, valid) -> Replace:
    """The issuer BIN (6 digits) kept, the account digits permuted, and the check digit off by
    as much as the original's (a valid number gets a valid one, a wrong one an equally wrong one)."""

    def replace(value: Any) -> Any:
        text = str(value)
        if len(text) < 8 or not text.isascii() or not text.isdigit():
            return permute_digits(text, key, tweak, 0)
        body = permute_digits(text[:-1], key, tweak, 6)
        offset = (int(text[-1]) - int(luhn_check_digit(text[:-1]))) % 10
        return body + str((int(luhn_check_digit(body)) + offset) % 10)

    return replace


def _id_number(rule, key, tweak, valid) -> Replace:
    """Another resident ID number: province, district, birth date and sequence replaced together by
    one keyed permutation, the check character off by as much as the original's. Text that is not
    an ID number in structure gets its digits permuted into text that is not one either."""
    permutation = KeyedPermutation(key, tweak, _ID_DOMAIN)

    def replace(value: Any) -> Any:
        text = str(value)
        parts = _id_parts(text)
        if parts is None:
            return permute_digits(text, key, tweak + "|malformed", 0,
                                  lambda t: _id_parts(t) is not None)
        number, offset = parts
        province, rest = divmod(permutation.apply(number), 10_000 * _ID_BIRTH_DAYS * 1000)
        district, rest = divmod(rest, _ID_BIRTH_DAYS * 1000)
        day, sequence = divmod(rest, 1000)
        born = _ID_FIRST_BIRTH + dt.timedelta(days=day)
        first17 = f"{gb11643.PROVINCES[province]}{district:04d}{born:%Y%m%d}{sequence:03d}"
        check = gb11643.CHECK_CHARACTERS.index(gb11643.check_character(first17))
        return first17 + gb11643.CHECK_CHARACTERS[(check + offset) % 11]

    return replace


def _id_parts(text: str) -> tuple[int, int] | None:
    """An ID number's position in the permuted domain and its check character's offset from the
    right one; None when it is not an ID number in structure (length, digits, province, birth
    date from 1900 to 2099, a check character)."""
    if len(text) != 18 or not text[:17].isascii() or not text[:17].isdigit() \
            or text[:2] not in gb11643.PROVINCES or text[17] not in gb11643.CHECK_CHARACTERS:
        return None
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None
    day = (born - _ID_FIRST_BIRTH).days
    if not 0 <= day < _ID_BIRTH_DAYS:
        return None
    number = ((gb11643.PROVINCES.index(text[:2]) * 10_000 + int(text[2:6])) * _ID_BIRTH_DAYS + day) \
        * 1000 + int(text[14:17])
    offset = (gb11643.CHECK_CHARACTERS.index(text[17])
              - gb11643.CHECK_CHARACTERS.index(gb11643.check_character(text[:17]))) % 11
    return number, offset


def _draws(key: bytes, tweak: str, value: Any) -> Callable[[int], int]:
    """Keyed draws for ``value``: the i-th draw below a bound; never the same sequence for two values
    unless their HMACs collide."""
    seed = hmac.new(key, f"{tweak}|{value}".encode(), hashlib.sha256).digest()
    drawn = 0

    def draw(bound: int) -> int:
        nonlocal drawn
        drawn += 1
        block = hmac.new(seed, drawn.to_bytes(4, "big"), hashlib.sha256).digest()
        return int.from_bytes(block[:8], "big") % bound

    return draw


def _name(rule, key, tweak, valid) -> Replace:
    """A generated Chinese name of the same length, never the original."""

    def replace(value: Any) -> Any:
        text = str(value)
        draw = _draws(key, tweak, text)
        while True:
            length = max(2, min(len(text), 4))
            surname = _COMPOUND[draw(len(_COMPOUND))] if length == 4 else _SINGLE[draw(len(_SINGLE))]
            name = surname + "".join(GIVEN_CHARS[draw(len(GIVEN_CHARS))]
                                     for _ in range(length - len(surname)))
            if name != text:
                return name

    return replace


def _address(rule, key, tweak, valid) -> Replace:
    """A generated street address, never the original."""

    def replace(value: Any) -> Any:
        draw = _draws(key, tweak, str(value))
        while True:
            address = (f"{_PROVINCES[draw(len(_PROVINCES))]}{_ROADS[draw(len(_ROADS))]}"
                       f"{draw(999) + 1}号{draw(30) + 1}栋{draw(2800) + 101}室")
            if address != value:
                return address

    return replace


def _redact(rule, key, tweak, valid) -> Replace:
    return lambda value: "*" * len(str(value))


def _perturb(rule, key, tweak, valid) -> Replace:
    """A number moved by up to ``percent`` per cent (the same value moves alike everywhere), with
    its sign, its zero and its scale kept."""
    steps = 10_000

    def replace(value: Any) -> Any:
        factor = 1 + (Decimal(_draws(key, tweak, value)(2 * steps + 1) - steps) / steps) \
            * Decimal(str(rule.percent)) / 100
        if isinstance(value, Decimal):
            return (value * factor).quantize(value)  # the value's own scale
        if isinstance(value, int) and not isinstance(value, bool):
            return int((Decimal(value) * factor).to_integral_value())
        return type(value)(float(value) * float(factor))

    return replace


def _shift(rule, key, tweak, valid) -> Replace:
    """A date or time moved by up to ``days`` days (the same value moves alike everywhere)."""

    def replace(value: Any) -> Any:
        days = _draws(key, tweak, value.isoformat())(2 * rule.days + 1) - rule.days
        return value + dt.timedelta(days=days)

    return replace


_METHODS: dict[str, Callable[..., Replace]] = {
    "keep": _keep, "digits": _digits, "mobile": _mobile, "card_number": _card_number,
    "id_number": _id_number, "name": _name, "address": _address, "redact": _redact,
    "perturb": _perturb, "shift": _shift,
}
