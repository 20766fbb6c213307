"""Spark SQL text built from Python values: the one place literals and identifiers are written.

Every piece of SQL the framework assembles takes its string literals, identifiers and typed
literals from here, so escaping is done once and the same way everywhere.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

def sql_string(text: str) -> str:
    """A Spark SQL string literal for ``text``.

    Backslashes and single quotes are escaped, so Spark reads back exactly ``text`` (with
    ``spark.sql.parser.escapedStringLiterals`` false, the default); ``$`` is written as
    ``\\u0024`` so that variable substitution cannot rewrite a ``${...}`` inside it.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}: {text!r}")
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "\\u0024")
    return f"'{escaped}'"


def quote_column(name: str) -> str:
    """``name`` as a back-quoted Spark SQL identifier (back quotes inside doubled)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a column name must be a non-empty str, got {name!r}")
    return "`" + name.replace("`", "``") + "`"


def literal(value) -> str:
    """A Spark SQL literal of a Python value: bool, date, timestamp, number or text (None: NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP{sql_string(value.isoformat(sep=' '))}"
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, int | float | Decimal):
        text = str(value) if isinstance(value, Decimal) else repr(value)
        return f"({text})" if value < 0 else text
    return sql_string(str(value))
