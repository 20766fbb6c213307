"""Which rows of a table: structured filters the engine turns into SQL, never hand-written text.

``where(source="cbs.customer", data_date=d) & one_of("status", ["failed", "skipped"])`` names
columns and values; :meth:`Filter.sql` renders it with the literals and identifiers of
:mod:`lakehouse.sql`, so no caller assembles or escapes a predicate itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lakehouse.sql import literal, quote_column

_COMPARISONS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True)
class Condition:
    """One column compared with a value: ``op`` is a comparison, ``in``, ``is null`` or
    ``is not null``."""

    column: str
    op: str
    value: Any = None

    def sql(self) -> str:
        name = quote_column(self.column)
        if self.op == "is null":
            return f"{name} IS NULL"
        if self.op == "is not null":
            return f"{name} IS NOT NULL"
        if self.op == "in":
            values = list(self.value)
            return f"{name} IN ({', '.join(literal(v) for v in values)})" if values else "false"
        if self.op in _COMPARISONS:
            return f"{name} {_COMPARISONS[self.op]} {literal(self.value)}"
        raise ValueError(f"unknown filter operator {self.op!r}")

    def matches(self, row: dict[str, Any]) -> bool:
        value = row.get(self.column)
        if self.op == "is null":
            return value is None
        if self.op == "is not null":
            return value is not None
        if value is None:
            return False
        if self.op == "in":
            return value in list(self.value)
        return {"=": value == self.value, "!=": value != self.value, "<": value < self.value,
                "<=": value <= self.value, ">": value > self.value,
                ">=": value >= self.value}[self.op]


@dataclass(frozen=True)
class Filter:
    """Rows for which every condition holds (no condition: every row)."""

    conditions: tuple[Condition, ...] = ()

    def __and__(self, other: Filter) -> Filter:
        return Filter(self.conditions + other.conditions)

    def sql(self) -> str:
        return " AND ".join(f"({c.sql()})" for c in self.conditions) or "true"

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether a Python row passes (the same meaning as :meth:`sql`, NULLs never compare)."""
        return all(c.matches(row) for c in self.conditions)


def where(**equals: Any) -> Filter:
    """Each column equal to its value (``None``: the column is NULL)."""
    return Filter(tuple(Condition(k, "is null") if v is None else Condition(k, "=", v)
                        for k, v in equals.items()))


def compare(column: str, op: str, value: Any) -> Filter:
    """``column op value`` with op one of ``= != < <= > >=``."""
    if op not in _COMPARISONS:
        raise ValueError(f"unknown comparison {op!r}: use one of {', '.join(_COMPARISONS)}")
    return Filter((Condition(column, op, value),))


def between(column: str, low: Any, high: Any) -> Filter:
    """``low <= column <= high``."""
    return compare(column, ">=", low) & compare(column, "<=", high)


def one_of(column: str, values: Iterable[Any]) -> Filter:
    return Filter((Condition(column, "in", tuple(values)),))


def is_null(column: str) -> Filter:
    return Filter((Condition(column, "is null"),))


def not_null(column: str) -> Filter:
    return Filter((Condition(column, "is not null"),))
