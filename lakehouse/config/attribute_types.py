"""The attribute types a source contract may declare, and their Spark SQL types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from .findings import did_you_mean, invalid

SPARK_TYPES = {
    "string": "string",
    "integer": "bigint",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp_ntz",  # wall-clock time as delivered
}
ALLOWED_TYPES = "string, integer, boolean, date, timestamp, decimal(p,s)"
MAX_PRECISION = 38
_DECIMAL = re.compile(r"decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_DECIMAL_FIX = f"use decimal(p,s) with 1 <= p <= {MAX_PRECISION} and 0 <= s <= p, e.g. decimal(18,2)"


@dataclass(frozen=True)
class AttributeType:
    """A parsed attribute type: ``kind`` is a simple type name or ``decimal``."""

    kind: str
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.kind

    @property
    def spark_type(self) -> str:
        return str(self) if self.kind == "decimal" else SPARK_TYPES[self.kind]


def parse_type(text: str) -> AttributeType:
    """Parse ``string``, ``integer``, ..., ``decimal(p,s)``; raise a located-ready error if invalid."""
    spec = text.strip()
    if spec in SPARK_TYPES:
        return AttributeType(spec)
    match = _DECIMAL.fullmatch(spec)
    if not match:
        hint = did_you_mean(spec, [*SPARK_TYPES, "decimal"])
        raise invalid(
            f"type must be one of: {ALLOWED_TYPES}",
            f"use one of: {ALLOWED_TYPES}{hint}",
        )
    precision, scale = int(match[1]), int(match[2])
    if not 1 <= precision <= MAX_PRECISION:
        raise invalid(f"decimal precision must be between 1 and {MAX_PRECISION}", _DECIMAL_FIX)
    if scale > precision:
        raise invalid(f"decimal scale must be between 0 and the precision {precision}", _DECIMAL_FIX)
    return AttributeType("decimal", precision, scale)


def try_parse_type(value: object) -> AttributeType | None:
    """The parsed type, or None when ``value`` is not a valid type (reported elsewhere)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_type(value)
    except ValueError:
        return None


TypeName = Annotated[str, AfterValidator(lambda text: str(parse_type(text)))]
"""A declared type, checked and written canonically (``decimal( 18 , 2 )`` -> ``decimal(18,2)``)."""
