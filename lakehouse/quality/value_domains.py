"""Spark SQL predicates for a data standard's value domains: code lists, patterns, ranges, lengths.

Every builder returns the text of one boolean Spark SQL expression over one column. It is TRUE
when a non-NULL value conforms and FALSE when it does not; it never raises for any value,
whatever the text (ANSI mode is on in Spark 4, so casts are guarded or ``try_cast``). What it
gives for NULL is unspecified: callers count violations as ``col IS NOT NULL AND NOT (expr)``.

Pure Python: nothing here imports pyspark. The named checks are plain Spark SQL (higher-order
functions, no Python UDFs) and agree exactly with the validators in
:mod:`lakehouse.demo.identifiers` (``is_valid_id_number``, ``is_luhn_valid``,
``is_valid_mobile``); the integration tests hold them to that.

Two Spark SQL quirks shape the text:

* ``spark.sql.variable.substitute`` (on by default) rewrites ``${...}`` anywhere in the SQL
  text, string literals included (``'${env:HOME}'`` reads back as the home directory), so
  :func:`lakehouse.sql.sql_string` writes ``$`` as the escape ``\\u0024``. Identifiers cannot be escaped that
  way: a column name containing ``${`` is still substituted.
* In Java regular expressions ``$`` also matches before a final line terminator, so
  ``'^(?:abc)$'`` accepts ``"abc\\n"``; full matches anchor with ``\\A`` and ``\\z`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

from lakehouse.sql import quote_column, sql_string
from lakehouse.standards import gb11643

__all__ = [
    "NAMED_CHECKS",
    "code_list_sql",
    "max_length_sql",
    "named_check_sql",
    "pattern_sql",
    "range_sql",
]

Bound = str | int | float | Decimal | None


def _text(column: str) -> str:
    return f"CAST({quote_column(column)} AS STRING)"


def _full_match(regex: str) -> str:
    # \A and \z, not ^ and $: Java's $ also matches before a final line terminator.
    return sql_string(f"\\A(?:{regex})\\z")


def code_list_sql(column: str, codes: list[str]) -> str:
    """The value, compared as a string, is one of ``codes``; an empty list allows nothing."""
    if isinstance(codes, str):
        raise TypeError("codes must be a list of str, not one str")
    literals: list[str] = []
    for code in codes:
        if not isinstance(code, str):
            raise TypeError(f"codes must be str, got {type(code).__name__}: {code!r}")
        literal = sql_string(code)
        if literal not in literals:
            literals.append(literal)
    if not literals:
        return "FALSE"
    return f"({_text(column)} IN ({', '.join(literals)}))"


def pattern_sql(column: str, regex: str) -> str:
    """The value, as a string, matches the Java regular expression ``regex`` as a whole."""
    if not isinstance(regex, str):
        raise TypeError(f"regex must be a str, got {type(regex).__name__}: {regex!r}")
    return f"({_text(column)} RLIKE {_full_match(regex)})"


def _number_literal(bound: int | float | Decimal) -> str:
    if isinstance(bound, bool):
        raise TypeError(f"a range bound cannot be a bool: {bound!r}")
    if isinstance(bound, int):
        text = str(bound)
    elif isinstance(bound, float):
        if not math.isfinite(bound):
            raise ValueError(f"a range bound must be finite, got {bound!r}")
        text = repr(bound)  # "1.5" is a DECIMAL literal in Spark, "1e-05" a DOUBLE one
    elif isinstance(bound, Decimal):
        if not bound.is_finite():
            raise ValueError(f"a range bound must be finite, got {bound!r}")
        text = str(bound)
    else:
        raise TypeError(f"a range bound must be str, int, float or None, got {bound!r}")
    if len(text.lstrip("-").split("e")[0].split("E")[0].replace(".", "")) > 38:
        raise ValueError(f"range bound {bound!r} has more than 38 digits (Spark's limit)")
    return text


def _bound_sql(column: str, op: str, bound: str | int | float | Decimal) -> str:
    col = quote_column(column)
    if isinstance(bound, str):
        # Compared as the column's type: Spark casts the literal (to DATE for a date column).
        return f"{col} {op} {sql_string(bound)}"
    number = _number_literal(bound)
    # A string column compared with a number is cast to BIGINT under ANSI mode and fails on
    # "1.5" or "abc"; text goes through try_cast instead (non-numbers do not conform).
    return (f"(CASE WHEN typeof({col}) LIKE 'string%' "
            f"THEN coalesce(try_cast({col} AS DECIMAL(38, 18)) {op} {number}, FALSE) "
            f"ELSE {col} {op} {number} END)")


def range_sql(column: str, minimum: Bound, maximum: Bound) -> str:
    """``minimum <= value <= maximum``; ``None`` leaves that side open.

    Numbers compare numerically (text in a string column is read with ``try_cast`` as
    DECIMAL(38, 18); what does not parse does not conform). A string bound is a literal the
    column's type is compared with, e.g. ``'2020-01-01'`` for a date column.
    """
    numeric = (int, float, Decimal)
    if (isinstance(minimum, numeric) and isinstance(maximum, numeric)
            and not isinstance(minimum, bool) and not isinstance(maximum, bool)
            and minimum > maximum):
        raise ValueError(f"empty range: minimum {minimum!r} > maximum {maximum!r}")
    parts = [_bound_sql(column, op, bound)
             for op, bound in ((">=", minimum), ("<=", maximum)) if bound is not None]
    if not parts:
        return "TRUE"
    return f"({' AND '.join(parts)})"


def max_length_sql(column: str, length: int) -> str:
    """The value, as a string, has at most ``length`` characters (code points)."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be a non-negative int, got {length!r}")
    return f"(char_length({_text(column)}) <= {length})"


# --- Named checks --------------------------------------------------------------------------
# The ID number constants are lakehouse.standards.gb11643, shared with the demo generator.


def _let(column: str, body: str) -> str:
    """``body`` with the lambda variable ``v`` bound to the column as a string, NULL -> FALSE.

    Binding once keeps the column out of the nested lambdas, where a column named like a
    lambda variable (``acc``, ``i``) would silently mean the variable instead.
    """
    return f"coalesce(element_at(transform(array({_text(column)}), v -> {body}), 1), FALSE)"


def _gb11643_sql(column: str) -> str:
    year = "try_cast(substr(v, 7, 4) AS INT)"
    month = "try_cast(substr(v, 11, 2) AS INT)"
    day = "try_cast(substr(v, 13, 2) AS INT)"
    leap = f"({year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0))"
    month_days = (f"CASE {month} WHEN 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END "
                  f"WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END")
    provinces = ", ".join(sql_string(p) for p in gb11643.PROVINCES)
    weights = ", ".join(str(w) for w in gb11643.WEIGHTS)
    # ISO 7064 MOD 11-2 over the first 17 digits; ascii(c) - 48 is the digit's value.
    total = ("aggregate(sequence(1, 17), 0, (acc, i) -> "
             f"acc + (ascii(substr(v, i, 1)) - 48) * element_at(array({weights}), i))")
    body = " AND ".join([
        f"v RLIKE {_full_match('[0-9]{17}[0-9X]')}",
        f"substr(v, 1, 2) IN ({provinces})",
        f"{year} >= {gb11643.EARLIEST_BIRTH_YEAR}",
        f"{month} BETWEEN 1 AND 12",
        f"{day} BETWEEN 1 AND {month_days}",
        f"substr(v, 18, 1) = substr({sql_string(gb11643.CHECK_CHARACTERS)}, {total} % 11 + 1, 1)",
    ])
    return _let(column, f"({body})")


def _luhn_sql(column: str) -> str:
    # Digits from the right (substr with a negative start), every second one doubled; the sum
    # is kept mod 10 at each step so no length of text can overflow it.
    digits = "transform(sequence(1, char_length(v)), i -> ascii(substr(v, -i, 1)) - 48)"
    weighted = (f"transform({digits}, (d, k) -> "
                "CASE WHEN k % 2 = 0 THEN d WHEN d > 4 THEN 2 * d - 9 ELSE 2 * d END)")
    total = f"aggregate({weighted}, 0, (acc, x) -> (acc + x) % 10)"
    return _let(column, f"(v RLIKE {_full_match('[0-9]{2,}')} AND {total} = 0)")


def _cn_mobile_sql(column: str) -> str:
    return f"coalesce({_text(column)} RLIKE {_full_match('1[3-9][0-9]{9}')}, FALSE)"


NAMED_CHECKS: dict[str, str] = {
    "gb11643": "18-character resident ID number whose check digit follows GB 11643-1999 "
               "(also: known province prefix, calendar birth date from 1800, upper-case X)",
    "luhn": "digit string of at least 2 digits (e.g. a bank card number) passing the Luhn "
            "(ISO/IEC 7812) check",
    "cn_mobile": "mainland China mobile number, 11 digits starting 13-19",
}

_NAMED_BUILDERS: dict[str, Callable[[str], str]] = {
    "gb11643": _gb11643_sql,
    "luhn": _luhn_sql,
    "cn_mobile": _cn_mobile_sql,
}


def named_check_sql(column: str, check: str) -> str:
    """The expression for the named check ``check`` (a key of :data:`NAMED_CHECKS`)."""
    builder = _NAMED_BUILDERS.get(check) if isinstance(check, str) else None
    if builder is None:
        known = ", ".join(sorted(NAMED_CHECKS))
        raise ValueError(f"unknown named check {check!r}; known checks: {known}")
    return builder(column)
