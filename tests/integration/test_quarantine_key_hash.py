"""The quarantine's key hash has one definition: the hash a quarantined row gets is the hash a
corrected row of the same key is matched by, whatever the key's types and values."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.engine import LINE
from lakehouse.engine import quality_batches
from lakehouse.zones.tables import Column, TableSpec

KEYS = ("flag", "amount", "day", "name")
ROWS = [
    (True, Decimal("1.50"), date(2026, 11, 1), "张三"),
    (False, Decimal("-0.01"), date(1999, 12, 31), "Zoë"),
    (None, Decimal("1.50"), date(2026, 11, 1), "a"),
    (True, None, None, "a"),
    (True, Decimal("1.50"), date(2026, 11, 1), None),
    (None, None, None, None),
]


def python_hash(values) -> str:
    """The definition written out: parts as Spark strings, NULL as U+0000, joined by U+0001."""
    parts = ["\u0000" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    return hashlib.sha256("\u0001".join(parts).encode()).hexdigest()


def test_quarantined_and_corrected_rows_hash_their_keys_alike(engine, tmp_path):
    path = str(tmp_path / "rows.parquet")
    table = pa.table({
        "flag": pa.array([r[0] for r in ROWS], pa.bool_()),
        "amount": pa.array([r[1] for r in ROWS], pa.decimal128(18, 2)),
        "day": pa.array([r[2] for r in ROWS], pa.date32()),
        "name": pa.array([r[3] for r in ROWS], pa.string()),
        LINE: pa.array(range(2, 2 + len(ROWS)), pa.int64()),
        quality_batches.FAILED_RULES: pa.array([["rule"]] * len(ROWS), pa.list_(pa.string())),
    })
    pq.write_table(table, path)
    spec = TableSpec("t", "near_source", None, str(tmp_path / "t"),
                     (Column("flag", "boolean"), Column("amount", "decimal(18,2)"),
                      Column("day", "date"), Column("name", "string")), keys=KEYS)

    quarantined = quality_batches.quarantined(
        engine.spark.read.parquet(path), list(KEYS), set(), list(KEYS),
        {"rule": ("validity", "rule (drop)")}, {}).select("line", "key_hash").collect()
    held = {r["line"]: r["key_hash"] for r in quarantined}
    corrected = engine.key_hashes(path, spec)

    assert corrected == held
    assert [held[line] for line in range(2, 2 + len(ROWS))] == [python_hash(r) for r in ROWS]
    assert len(set(held.values())) == len(ROWS)  # a NULL part is not an empty or missing part
