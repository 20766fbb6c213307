"""One masking implementation: every rule's Spark SQL gives what its Python gives, on generated
text (Chinese, a character outside the BMP, e-mail addresses, every length around the rules'
thresholds, NULL) and on dates, timestamps, decimals, integers and booleans, in one query."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from lakehouse.security.masking import DEFAULT_RULE, NAME_RULE, MaskRule

RULES = {
    "default": DEFAULT_RULE,
    "name": NAME_RULE,
    "id_number": MaskRule.partial(3, 4),
    "card": MaskRule.partial(6, 4),
    "account": MaskRule.partial(0, 4),
    "short": MaskRule.partial(2, 1, min_length=5),
    "email": MaskRule.email(),
    "full": MaskRule.full(),
}
TYPED_RULES = ("default", "name", "account", "full")
"""The rules also run on the typed columns (every rule runs on the text column)."""
COLUMNS = "s string, d date, t timestamp_ntz, n decimal(18,2), i bigint, b boolean"
ROWS = 400
ALPHABET = "0123456789Xab张三李娜欧阳𠀋@. "


def generated(seed: int = 15) -> list[tuple]:
    pick = random.Random(seed)
    rows = []
    for index in range(ROWS):
        text = "".join(pick.choice(ALPHABET) for _ in range(pick.randrange(0, 22)))
        if index % 5 == 0:
            text = f"{text.replace('@', '')[:pick.randrange(0, 4)]}@bank{index}.cn"
        rows.append(tuple(None if pick.random() < 0.05 else value for value in (
            text,
            date(1990, 1, 1) + timedelta(days=pick.randrange(0, 15000)),
            datetime(2026, 11, 25) + timedelta(seconds=pick.randrange(10**6),
                                               microseconds=pick.choice((0, 120000, 5, 999999))),
            Decimal(pick.randrange(-10**9, 10**12)).scaleb(-2),
            pick.randrange(-10**12, 10**15),
            pick.random() < 0.5)))
    return rows


def test_python_and_spark_sql_mask_every_value_alike(engine):
    rows = generated()
    frame = engine.spark.createDataFrame(rows, COLUMNS)
    columns = [c.split()[0] for c in COLUMNS.split(", ")]
    masked = [(name, c) for name in RULES for c in columns if c == "s" or name in TYPED_RULES]
    selected = [f"{RULES[name].sql(f'`{c}`')} AS `{name}_{c}`" for name, c in masked]
    by_spark = frame.selectExpr(*columns, *selected).collect()

    assert [tuple(row[c] for c in columns) for row in by_spark] == rows
    differing = [(name, c, row[c], row[f"{name}_{c}"], RULES[name].apply(row[c]))
                 for row in by_spark for name, c in masked
                 if row[f"{name}_{c}"] != RULES[name].apply(row[c])]
    assert differing == []
