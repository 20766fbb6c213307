"""Value-domain predicates evaluated by Spark, held against Python.

The named checks must agree exactly with the validators in lakehouse.demo.identifiers on any
text; the other builders are checked on hand-picked values. Spark is slow to call, so every test
builds one DataFrame of many values and evaluates all its expressions in one collect.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from lakehouse.demo import identifiers as ids
from lakehouse.quality.value_domains import (
    code_list_sql,
    max_length_sql,
    named_check_sql,
    pattern_sql,
    range_sql,
)
from lakehouse.sql import quote_column, sql_string

# A column name that needs quoting: a space and a back quote.
COLUMN = "the `value"

VALIDATORS = {
    "gb11643": ids.is_valid_id_number,
    "luhn": ids.is_luhn_valid,
    "cn_mobile": ids.is_valid_mobile,
}

# Characters a mutation may put into a value: mostly ASCII digits, plus the look-alikes a
# checker must refuse (lower-case x, full-width and Arabic-Indic digits, CJK, white space).
MUTATION_CHARS = "0123456789" * 3 + "XxaZ 中１٣\n\t-+."

NOT_SURROGATE = st.characters(blacklist_categories=("Cs",))
TEXT_ALPHABET = st.one_of(
    st.sampled_from("0123456789"), st.sampled_from("Xx中文字１٣ \n"), NOT_SURROGATE)


def _frame(spark, values, column=COLUMN, data_type=StringType()):
    return spark.createDataFrame([(v,) for v in values],
                                 StructType([StructField(column, data_type)]))


def _evaluate(spark, values: list, expressions: list[str], column=COLUMN,
              data_type=StringType()) -> list[tuple]:
    """One collect: each row is (value as Spark read it, result of each expression)."""
    df = _frame(spark, values, column, data_type)
    rows = df.select(F.expr(quote_column(column)),
                     *[F.expr(e).alias(f"e{i}") for i, e in enumerate(expressions)]).collect()
    assert [r[0] for r in rows] == list(values)  # same order, and nothing lost on the way
    return [tuple(r) for r in rows]


def _assert_named_checks_agree(spark, values: list[str]) -> None:
    names = list(VALIDATORS)
    rows = _evaluate(spark, values, [named_check_sql(COLUMN, n) for n in names])
    mismatches = [(name, value, got)
                  for value, *results in rows
                  for name, got in zip(names, results)
                  if got is not VALIDATORS[name](value)]  # `is`: NULL must not pass as False
    assert not mismatches, mismatches[:20]


def _mutate(rng: random.Random, s: str) -> str:
    """``s`` with one character replaced, inserted, deleted, or two neighbours swapped."""
    op = rng.choice(("replace", "insert", "delete", "swap"))
    pos = rng.randrange(len(s) + 1)
    c = rng.choice(MUTATION_CHARS)
    if op == "insert" or not s:
        return s[:pos] + c + s[pos:]
    pos = min(pos, len(s) - 1)
    if op == "replace":
        return s[:pos] + c + s[pos + 1:]
    if op == "delete":
        return s[:pos] + s[pos + 1:]
    if pos + 1 < len(s):
        return s[:pos] + s[pos + 1] + s[pos] + s[pos + 2:]
    return s[:-1]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _generated_values(rng: random.Random) -> list[str]:
    values: list[str] = []
    # ID numbers: valid ones and their mutations...
    for _ in range(40):
        born = date(1800, 1, 1) + timedelta(days=rng.randrange(110_000))
        region = rng.choice(ids.REGION_CODES) if rng.random() < 0.7 else _digits(rng, 6)
        good = ids.make_id_number(rng, born, rng.random() < 0.5, region)
        values += [good, _mutate(rng, good)]
    # ...and ones with the right check character but any province and "date" digits, so the
    # province and calendar rules alone decide.
    for _ in range(40):
        first17 = (_digits(rng, 6) + f"{rng.randrange(10000):04d}{rng.randrange(20):02d}"
                   f"{rng.randrange(40):02d}" + _digits(rng, 3))
        values.append(first17 + ids.id_number_check_digit(first17))
    # Card numbers, their mutations, random digit strings, Luhn-valid strings of any length.
    for _ in range(30):
        bin_ = rng.choice(ids.DEMO_CARD_BINS)
        good = ids.make_card_number(rng, bin_, rng.choice((16, 19)))
        values += [good, _mutate(rng, good)]
    for _ in range(20):
        values.append(_digits(rng, rng.randrange(0, 25)))
        partial = _digits(rng, rng.randrange(1, 30))
        values.append(partial + ids.luhn_check_digit(partial))
    # Mobiles, their mutations, random 11-digit strings.
    for _ in range(30):
        good = ids.make_mobile(rng)
        values += [good, _mutate(rng, good), _digits(rng, 11)]
    return values


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       texts=st.lists(st.text(TEXT_ALPHABET, max_size=24), max_size=60))
def test_named_checks_agree_with_python_validators(engine, seed, texts):
    values = _generated_values(random.Random(seed)) + texts
    assert len(values) >= 300
    _assert_named_checks_agree(engine.spark, values)


def _id(first17: str) -> str:
    return first17 + ids.id_number_check_digit(first17)


def test_named_checks_on_edge_cases(engine):
    rng = random.Random(7)
    good_id = ids.make_id_number(rng, date(1984, 6, 30), False, "440305")
    card = ids.make_card_number(rng, length=19)
    values = [
        "", " ", "\n", "X", "0", "00", "18", "059", "0" * 18, "1" * 17 + "X",
        good_id, good_id.lower(), " " + good_id, good_id + " ", good_id + "\n", good_id[:-1],
        good_id + "0", good_id[:17] + "x", "１" + good_id[1:],
        # Check character right, so the date or the province alone decides.
        _id("11010117991231001"), _id("11010118000101001"), _id("11010119000229001"),
        _id("11010120000229001"), _id("11010120230229001"), _id("11010120240229001"),
        _id("11010119990001001"), _id("11010119991301001"), _id("11010119990100001"),
        _id("11010119990431001"), _id("11010119990430001"), _id("11010199991231001"),
        _id("11010100000101001"), _id("10010119900101001"), _id("71010119900101001"),
        _id("82010119900101001"), _id("83010119900101001"), _id("99010119900101001"),
        card, card + "\n", card[:-1], "٣" * 16, "１２３４５６７８９０",
        "13800138000", "12800138000", "1380013800", "138001380000", "+8613800138000",
        "19912345678", "1991234567８",
        # Long text: digits (Luhn over 10 000 digits), CJK, mixed.
        "1" * 10_000, "0" * 9_999 + "1", "中" * 10_000, ("1380013800" + "中") * 1_000,
        good_id * 500,
    ]
    _assert_named_checks_agree(engine.spark, values)


def test_violations_are_counted_as_callers_do(engine):
    """``col IS NOT NULL AND NOT (expr)`` counts the non-NULL values that do not conform."""
    rng = random.Random(3)
    values = [ids.make_mobile(rng), "12345678901", "", None, "中文", ids.make_mobile(rng)]
    df = _frame(engine.spark, values)
    col = quote_column(COLUMN)
    counts = df.select(*[
        F.expr(f"count_if({col} IS NOT NULL AND NOT ({named_check_sql(COLUMN, name)}))")
        for name in VALIDATORS]).collect()[0]
    expected = [sum(v is not None and not check(v) for v in values)
                for check in VALIDATORS.values()]
    assert list(counts) == expected


TRICKY_STRINGS = [
    "", "'", "''", "\\", "\\'", "'\\", "\\\\'", "a\\nb", "\\u0041", "\\012", "\\%", "\\_",
    "%_", '"', '""', "\n", "\r\n", "\t", "\x00", "\x1a", "--", "/* x */", "`", "$", "${",
    "${env:HOME}", "${system:java.version}", "${spark.sql.shuffle.partitions}", "$${x}}",
    "r'x'", "中文", "😀", "é", "\u2028", "\ufeff", "it's a \\'test\\'",
]


def test_sql_string_round_trips(engine):
    spark = engine.spark
    select = ", ".join(f"{sql_string(s)} AS c{i}" for i, s in enumerate(TRICKY_STRINGS))
    assert list(spark.sql("SELECT " + select).collect()[0]) == TRICKY_STRINGS
    # F.expr parses (and substitutes variables) the same way.
    row = spark.range(1).select(
        *[F.expr(sql_string(s)).alias(f"c{i}") for i, s in enumerate(TRICKY_STRINGS)]).first()
    assert list(row) == TRICKY_STRINGS


@settings(max_examples=5, deadline=None)
@given(st.lists(st.text(NOT_SURROGATE, max_size=30), min_size=1, max_size=40))
def test_sql_string_round_trips_any_text(engine, texts):
    select = ", ".join(f"{sql_string(s)} AS c{i}" for i, s in enumerate(texts))
    assert list(engine.spark.sql("SELECT " + select).collect()[0]) == texts


def test_code_list(engine):
    codes = ["it's", "a\\b", "${env:HOME}", "中", "", "1", "it's"]
    values = ["it's", "its", "it''s", "a\\b", "ab", "a\\\\b", "${env:HOME}", str(Path.home()),
              "中", "中文", "", " ", "1", "01", "IT'S"]
    rows = _evaluate(engine.spark, values, [code_list_sql(COLUMN, codes), code_list_sql(COLUMN, [])])
    assert [r[1] for r in rows] == [v in codes for v in values]
    assert [r[2] for r in rows] == [False] * len(values)
    # A number column compares as its text.
    numbers = [1, 2, 3, 10, -1]
    rows = _evaluate(engine.spark, numbers, [code_list_sql("n", ["1", "2", "-1", "01"])],
                     column="n", data_type=LongType())
    assert [r[1] for r in rows] == [True, True, False, False, True]
    with pytest.raises(TypeError):
        code_list_sql("c", "abc")
    with pytest.raises(TypeError):
        code_list_sql("c", [1])


def test_pattern(engine):
    cases = {
        r"\d{6}": {"123456": True, "000000": True, "12345": False, "1234567": False,
                   "123456\n": False, "\n123456": False, "１２３４５６": False, "abcdef": False,
                   "": False, "12345a": False},
        "it's [a-z]+": {"it's ok": True, "its ok": False, "it's OK": False, "it's ok\n": False},
        "a|ab": {"a": True, "ab": True, "abc": False, "b": False},
        r"\$\d+(\.\d{2})?": {"$12": True, "$12.50": True, "12": False, "$12.5": False,
                             "${12}": False},
        r"[a-z]\\[0-9]": {"a\\1": True, "a1": False, "a\\\\1": False},
        "(?i)abc": {"ABC": True, "aBc": True, "abcd": False},
        "": {"": True, "a": False},
        "[^x]*": {"": True, "ab\n中": True, "abx": False},
    }
    values = sorted({v for expected in cases.values() for v in expected})
    regexes = list(cases)
    rows = _evaluate(engine.spark, values, [pattern_sql(COLUMN, r) for r in regexes])
    got = {(regex, row[0]): result for row in rows for regex, result in zip(regexes, row[1:])}
    wrong = {(regex, value): got[regex, value]
             for regex, expected in cases.items() for value, ok in expected.items()
             if got[regex, value] is not ok}
    assert not wrong
    # Any value gives TRUE or FALSE, never NULL.
    assert all(result is not None for result in got.values())


def test_range_on_numbers_and_dates(engine):
    schema = StructType([StructField("i", LongType()), StructField("d", DecimalType(12, 2)),
                         StructField("f", DoubleType()), StructField("dt", DateType())])
    rows = [
        (9, Decimal("0.49"), 1e-06, date(2019, 12, 31)),
        (10, Decimal("0.50"), 1e-05, date(2020, 1, 1)),
        (15, Decimal("50.00"), 0.5, date(2020, 2, 29)),
        (20, Decimal("99.99"), 1.5, date(2020, 12, 31)),
        (21, Decimal("100.00"), 1.5000001, date(2021, 1, 1)),
        (-5, Decimal("-1.00"), -0.0, date(1999, 1, 1)),
        (2**62, Decimal("9999999999.99"), 1e300, date(9999, 12, 31)),
    ]
    checks = [
        ("i", 10, 20), ("i", None, 0), ("i", 15, None), ("i", None, None), ("i", -5, -5),
        ("i", 10**20, None), ("d", Decimal("0.50"), 99.99), ("d", 0.5, None), ("d", None, 0),
        ("f", 1e-05, 1.5), ("f", 0, None), ("dt", "2020-01-01", "2020-12-31"),
        ("dt", None, "2000-02-29"), ("dt", "2020-02-29", "2020-02-29"),
    ]
    df = engine.spark.createDataFrame(rows, schema)
    got = df.select(*[F.expr(range_sql(c, lo, hi)).alias(f"e{k}")
                      for k, (c, lo, hi) in enumerate(checks)]).collect()
    names = ["i", "d", "f", "dt"]

    def conforms(value, lo, hi):
        if isinstance(value, date):
            lo = date.fromisoformat(lo) if lo is not None else None
            hi = date.fromisoformat(hi) if hi is not None else None
        elif isinstance(value, Decimal):
            lo = Decimal(str(lo)) if lo is not None else None
            hi = Decimal(str(hi)) if hi is not None else None
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    expected = [[conforms(row[names.index(c)], lo, hi) for c, lo, hi in checks] for row in rows]
    assert [list(r) for r in got] == expected


def test_range_on_text(engine):
    values = ["1", "10", "20", "20.0", "20.000000000000000001", "20.0000000000000000001", "21",
              "1.5", "0.99", "-3", "1e1", " 7 ", "abc", "", "NaN", "Infinity", "1,000", "12中",
              "9" * 30, "2020-06-01"]
    rows = _evaluate(engine.spark, values, [
        range_sql(COLUMN, 1, 20),                # numbers: text is read as a decimal
        range_sql(COLUMN, 0.5, None),
        range_sql(COLUMN, "2020-01-01", "2020-12-31"),  # text bounds: compared as text
    ])
    # Text is read as DECIMAL(38, 18): a 19th decimal place rounds away (20.0...01 counts as
    # 20), surrounding blanks are ignored, and over 20 integer digits do not parse.
    assert [r[1] for r in rows] == [
        True, True, True, True, False, True, False, True, False, False, True, True,
        False, False, False, False, False, False, False, False]
    assert [r[2] for r in rows] == [
        True, True, True, True, True, True, True, True, True, False, True, True,
        False, False, False, False, False, False, False, False]
    assert [r[3] for r in rows] == ["2020-01-01" <= v <= "2020-12-31" for v in values]


def test_max_length(engine):
    values = ["", "a", "中文", "中文字", "😀😀", "ab\n", "x" * 1000, "中" * 1000, "é", "e\u0301"]
    lengths = [0, 2, 3, 1000]
    rows = _evaluate(engine.spark, values, [max_length_sql(COLUMN, n) for n in lengths])
    assert [list(r[1:]) for r in rows] == [[len(v) <= n for n in lengths] for v in values]
    numbers = [12345, 123456, -1234]
    rows = _evaluate(engine.spark, numbers, [max_length_sql("n", 5)], column="n",
                     data_type=LongType())
    assert [r[1] for r in rows] == [True, False, True]
    with pytest.raises(ValueError):
        max_length_sql("c", -1)
