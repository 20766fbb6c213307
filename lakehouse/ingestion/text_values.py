"""Typed conversion of delivered text values, with messages that say what was expected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import pyarrow as pa

Converter = Callable[[str], object]


class BadValue(ValueError):
    """A value that does not fit its declared type; the message names the expectation."""


def converter(spark_type: str, date_format: str, timestamp_format: str) -> Converter:
    """A function turning one non-empty text value into the Python value of ``spark_type``."""
    if spark_type == "string":
        return str
    if spark_type == "bigint":
        return _integer
    if spark_type == "boolean":
        return _boolean
    if spark_type == "date":
        return _date(date_format)
    if spark_type in ("timestamp", "timestamp_ntz"):
        return _timestamp(timestamp_format)
    if spark_type.startswith("decimal("):
        precision, scale = (int(x) for x in spark_type[8:-1].split(","))
        return _decimal(precision, scale)
    raise ValueError(f"unsupported type {spark_type}")


def arrow_type(spark_type: str) -> pa.DataType:
    if spark_type.startswith("decimal("):
        precision, scale = (int(x) for x in spark_type[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return {
        "string": pa.string(),
        "bigint": pa.int64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp_ntz": pa.timestamp("us"),
    }[spark_type]


def _integer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadValue(f"{text!r} is not an integer") from None
    if not -(2**63) <= value < 2**63:
        raise BadValue(f"{text!r} does not fit in a 64-bit integer")
    return value


_TRUE = {"true", "1", "y", "yes", "t"}
_FALSE = {"false", "0", "n", "no", "f"}


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValue(f"{text!r} is not a boolean (use true/false, 1/0 or Y/N)")


def _date(fmt: str) -> Converter:
    iso = fmt == "%Y-%m-%d"

    def convert(text: str) -> date:
        try:
            if iso and len(text) == 10:
                return date.fromisoformat(text)
            return datetime.strptime(text, fmt).date()
        except ValueError:
            raise BadValue(f"{text!r} is not a date in format {fmt}") from None

    return convert


def _timestamp(fmt: str) -> Converter:
    iso = fmt == "%Y-%m-%d %H:%M:%S"

    def convert(text: str) -> datetime:
        try:
            if iso and len(text) == 19:
                return datetime.fromisoformat(text)
            return datetime.strptime(text, fmt)
        except ValueError:
            raise BadValue(f"{text!r} is not a timestamp in format {fmt}") from None

    return convert


def _decimal(precision: int, scale: int) -> Converter:
    max_int_digits = precision - scale

    def convert(text: str) -> Decimal:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise BadValue(f"{text!r} is not a decimal number") from None
        if not value.is_finite():
            raise BadValue(f"{text!r} is not a finite decimal number")
        sign, digits, exponent = value.as_tuple()
        decimals = max(0, -exponent)
        if decimals > scale:
            raise BadValue(f"{text!r} has {decimals} decimal places, at most {scale} allowed")
        int_digits = max(0, len(digits) + exponent)
        if int_digits > max_int_digits:
            raise BadValue(
                f"{text!r} has {int_digits} integer digits, at most {max_int_digits} "
                f"fit decimal({precision},{scale})"
            )
        return value.quantize(Decimal(1).scaleb(-scale))

    return convert


def decimal_or_none(text: str | None) -> Decimal | None:
    """A decimal from text, or None where the text is not a number (for control totals)."""
    if text is None:
        return None
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
