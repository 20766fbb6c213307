"""Typed conversion of delivered text values, with messages that say what was expected."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow

import pyarrow as pa

from lakehouse.ingestion.decoding import shown

Converter = Callable[[str], object]


class BadValue(ValueError):
    """A value that does not fit its declared type; the message names the expectation.
    ``text`` is the value, ``expectation`` what it fails (``is not an integer``)."""

    def __init__(self, text: str, expectation: str):
        super().__init__(f"{shown(text)} {expectation}")
        self.text, self.expectation = text, expectation

    def showing(self, value: str) -> str:
        """The message with ``value`` (the text masked, say) in place of the text."""
        return f"{shown(value)} {self.expectation}"


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
        return _decimal(*_precision_scale(spark_type))
    raise ValueError(f"unsupported type {spark_type}")


def arrow_type(spark_type: str) -> pa.DataType:
    if spark_type.startswith("decimal("):
        return pa.decimal128(*_precision_scale(spark_type))
    return {
        "string": pa.string(),
        "bigint": pa.int64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp_ntz": pa.timestamp("us"),
    }[spark_type]


def _precision_scale(spark_type: str) -> tuple[int, int]:
    precision, scale = (int(x) for x in spark_type[8:-1].split(","))
    return precision, scale


BIGINT_DIGITS = 19
MAX_SUMMED_DIGITS = 20
"""Sums stay exact for up to 10**20 values."""


def exact_sum(values: Iterable, spark_type: str) -> Decimal:
    """The sum of ``values`` of ``spark_type`` (bigint or decimal(p,s); None skipped), without
    rounding: the context's precision is the type's plus room for the count of values."""
    digits = _precision_scale(spark_type)[0] if spark_type.startswith("decimal(") else BIGINT_DIGITS
    context = Context(prec=digits + MAX_SUMMED_DIGITS, traps=[InvalidOperation, Inexact, Overflow])
    total = Decimal(0)
    for value in values:
        if value is not None:
            total = context.add(total, value)
    return total


def _integer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadValue(text, "is not an integer") from None
    if not -(2**63) <= value < 2**63:
        raise BadValue(text, "does not fit in a 64-bit integer")
    return value


_TRUE = {"true", "1", "y", "yes", "t"}
_FALSE = {"false", "0", "n", "no", "f"}


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValue(text, "is not a boolean (use true/false, 1/0 or Y/N)")


def _date(fmt: str) -> Converter:
    iso = fmt == "%Y-%m-%d"

    def convert(text: str) -> date:
        try:
            if iso and len(text) == 10:
                return date.fromisoformat(text)
            return datetime.strptime(text, fmt).date()
        except ValueError:
            raise BadValue(text, f"is not a date in format {fmt}") from None

    return convert


def _timestamp(fmt: str) -> Converter:
    iso = fmt == "%Y-%m-%d %H:%M:%S"

    def convert(text: str) -> datetime:
        try:
            if iso and len(text) == 19:
                return datetime.fromisoformat(text)
            return datetime.strptime(text, fmt)
        except ValueError:
            raise BadValue(text, f"is not a timestamp in format {fmt}") from None

    return convert


def _decimal(precision: int, scale: int) -> Converter:
    max_int_digits = precision - scale
    exact = Context(prec=precision, traps=[InvalidOperation, Inexact])
    quantum = Decimal(1).scaleb(-scale)

    def convert(text: str) -> Decimal:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise BadValue(text, "is not a decimal number") from None
        if not value.is_finite():
            raise BadValue(text, "is not a finite decimal number")
        sign, digits, exponent = value.as_tuple()
        decimals = max(0, -exponent)
        if decimals > scale:
            raise BadValue(text, f"has {decimals} decimal places, at most {scale} allowed")
        int_digits = max(0, len(digits) + exponent)
        if int_digits > max_int_digits:
            raise BadValue(
                text, f"has {int_digits} integer digits, at most {max_int_digits} "
                f"fit decimal({precision},{scale})"
            )
        return value.quantize(quantum, context=exact)

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
