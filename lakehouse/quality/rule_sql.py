"""The row-level meaning of a rule as Spark SQL: the condition a row must satisfy to pass.

These conditions quarantine the rows a ``drop`` rule rejects, and measure whatever Great
Expectations has no built-in expectation for; a test checks they count exactly what the
Great Expectations results count.
"""

from __future__ import annotations

import datetime as dt

from lakehouse.quality import value_domains as vd
from lakehouse.sql import quote_column
from lakehouse.config.quality_rules import QualityRule

RECEIVED_AT = "_received_at"
"""New-rows batch column: when the delivery arrived (timeliness is judged on its maximum)."""


def reference_flag(rule: QualityRule) -> str:
    """The column the engine adds to a batch: true where the rule's reference is satisfied."""
    return "__ref_" + rule.name.replace(".", "__")


def _bound(value):
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value.isoformat() if isinstance(value, dt.date) else value


def passes_sql(rule: QualityRule) -> str:
    """A SQL condition true (or NULL, which GE and the drop both count as passing) for a row
    that passes the row-level ``rule``; uniqueness uses a window over the whole batch."""
    check, kind = rule.check, rule.kind
    if kind == "not_null":
        condition = f"{quote_column(check)} IS NOT NULL"
    elif kind == "unique":
        columns = ", ".join(quote_column(c) for c in check)
        nulls = " AND ".join(f"{quote_column(c)} IS NULL" for c in check)
        # like GE: rows whose key columns are all null are not compared
        condition = f"(({nulls}) OR count(1) OVER (PARTITION BY {columns}) = 1)"
    elif kind == "in_set":
        condition = vd.code_list_sql(check.column, check.values)
    elif kind == "pattern":
        condition = vd.pattern_sql(check.column, check.regex)
    elif kind == "between":
        condition = vd.range_sql(check.column, _bound(check.min), _bound(check.max))
    elif kind == "valid":
        condition = vd.named_check_sql(check.column, check.check)
    elif kind == "max_length":
        condition = vd.max_length_sql(check.column, check.max)
    elif kind == "sql":
        condition = f"({check})"
    elif kind == "reference":
        condition = quote_column(reference_flag(rule))
    else:
        raise ValueError(f"{rule.name}: {kind} is not a row-level check")
    if kind not in ("not_null", "unique", "sql", "reference"):
        # a missing value is completeness's business, not validity's
        condition = f"({quote_column(check.column)} IS NULL OR {condition})"
    if rule.where:
        condition = f"(NOT coalesce(({rule.where}), FALSE) OR {condition})"
    return condition


def fails_sql(rule: QualityRule) -> str:
    """True exactly for the rows GE counts as unexpected for ``rule``."""
    return f"NOT coalesce({passes_sql(rule)}, TRUE)"
