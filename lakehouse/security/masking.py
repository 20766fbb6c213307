"""Masking of values of security level 3 and above wherever rows leave their table (failing-row
samples, quarantine): text keeps its first 3 and last 4 characters when it has at least 8
(``622***********1234``, as bank statements print card numbers), other values are starred.
"""

from __future__ import annotations

from typing import Any

MASK_FROM_LEVEL = 3
"""JR/T 0197 level 3 (sensitive) and above is masked outside its table."""


def masked_columns(levels: dict[str, int]) -> set[str]:
    """The columns of ``levels`` (column -> security level) that are masked."""
    return {column for column, level in levels.items() if level >= MASK_FROM_LEVEL}


def mask_value(value: Any) -> Any:
    """``value`` masked (None stays None)."""
    if value is None:
        return None
    text = str(value)
    if len(text) >= 8:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return "*" * len(text)


def mask_row(row: dict[str, Any], masked: set[str]) -> dict[str, Any]:
    return {k: (mask_value(v) if k in masked else v) for k, v in row.items()}


def mask_sql(column_sql: str) -> str:
    """The Spark SQL of ``mask_value`` applied to the expression ``column_sql``."""
    text = f"CAST({column_sql} AS STRING)"
    return (f"CASE WHEN {text} IS NULL THEN NULL WHEN char_length({text}) >= 8 THEN "
            f"concat(substr({text}, 1, 3), repeat('*', char_length({text}) - 7), substr({text}, -4)) "
            f"ELSE repeat('*', char_length({text})) END")
