"""The row-level meaning of a rule as Spark SQL: the condition a row must satisfy to pass.

These conditions quarantine the rows a ``drop`` rule rejects, and measure whatever Great
Expectations has no built-in expectation for; a test checks they count exactly what the
Great Expectations results count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from lakehouse.quality import value_domains as vd
from lakehouse.sql import quote_column
from lakehouse.config.quality_rules import QualityRule, UniqueRule

RECEIVED_AT = "_received_at"
"""New-rows batch column: when the delivery arrived (timeliness is judged on its maximum)."""


def reference_flag(rule: QualityRule) -> str:
    """The column the engine adds to a batch: true where the rule's reference is satisfied."""
    return "__ref_" + rule.name.replace(".", "__")


def _bound(value):
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value.isoformat() if isinstance(value, dt.date) else value


def _unique(rule: UniqueRule) -> str:
    columns = ", ".join(quote_column(c) for c in rule.unique)
    nulls = " AND ".join(f"{quote_column(c)} IS NULL" for c in rule.unique)
    # like GE: rows whose key columns are all null are not compared
    return f"(({nulls}) OR count(1) OVER (PARTITION BY {columns}) = 1)"


def _column_check(condition: Callable[[Any], str]) -> Callable[[QualityRule], str]:
    """A rule's condition from its column check's, passing a missing value (that is
    completeness's business, not validity's)."""
    return lambda rule: f"({quote_column(rule.check.column)} IS NULL OR {condition(rule.check)})"


_CONDITIONS: dict[str, Callable[[Any], str]] = {
    "not_null": lambda rule: f"{quote_column(rule.not_null)} IS NOT NULL",
    "unique": _unique,
    "in_set": _column_check(lambda check: vd.code_list_sql(check.column, check.values)),
    "pattern": _column_check(lambda check: vd.pattern_sql(check.column, check.regex)),
    "between": _column_check(lambda check: vd.range_sql(check.column, _bound(check.min),
                                                         _bound(check.max))),
    "valid": _column_check(lambda check: vd.named_check_sql(check.column, check.check)),
    "max_length": _column_check(lambda check: vd.max_length_sql(check.column, check.max)),
    "sql": lambda rule: f"({rule.sql})",
    "reference": lambda rule: quote_column(reference_flag(rule)),
}
"""Per row-level kind of check: the condition a row satisfies to pass a rule of that kind."""


def passes_sql(rule: QualityRule) -> str:
    """A SQL condition true (or NULL, which GE and the drop both count as passing) for a row
    that passes the row-level ``rule``; uniqueness uses a window over the whole batch."""
    condition = _CONDITIONS.get(rule.kind)
    if condition is None:
        raise ValueError(f"{rule.name}: {rule.kind} is not a row-level check")
    if rule.where:
        return f"(NOT coalesce(({rule.where}), FALSE) OR {condition(rule)})"
    return condition(rule)


def fails_sql(rule: QualityRule) -> str:
    """True exactly for the rows GE counts as unexpected for ``rule``."""
    return f"NOT coalesce({passes_sql(rule)}, TRUE)"
