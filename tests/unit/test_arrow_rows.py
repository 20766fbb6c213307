"""Governance rows as Arrow tables: types, NULLs and the instant of a timestamp."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from lakehouse.engine.arrow_rows import arrow_type, rows_table
from lakehouse.zones.tables import Column, TableSpec


def test_every_governance_column_type_has_an_arrow_type():
    from lakehouse.governance import records

    types = {c.spark_type for record in records.GovernanceRecord.__subclasses__()
             for c in records.spec_of(record, "/lake", "t").columns}
    assert {"string", "timestamp", "array<string>"} <= types
    for spark_type in types:
        assert isinstance(arrow_type(spark_type), pa.DataType), spark_type


def test_an_unknown_type_names_the_fix():
    with pytest.raises(ValueError, match="no Arrow type for the Spark type 'interval'.*SIMPLE_TYPES"):
        arrow_type("interval")


def test_rows_keep_their_values_and_missing_columns_are_null():
    table = rows_table([("s", "string"), ("d", "date"), ("l", "array<string>"), ("a", "decimal(18,2)"),
                        ("m", "map<string,decimal(18,2)>"), ("p", "array<struct<key:string,line:bigint>>")],
                       [{"s": "甲", "d": date(2026, 11, 1), "l": ["x"], "m": {"k": Decimal("1.50")},
                         "p": [{"key": "k", "line": 3}]}, {}])
    assert table.column_names == ["s", "d", "l", "a", "m", "p"]
    assert table.to_pylist() == [
        {"s": "甲", "d": date(2026, 11, 1), "l": ["x"], "a": None, "m": [("k", Decimal("1.50"))],
         "p": [{"key": "k", "line": 3}]},
        {"s": None, "d": None, "l": None, "a": None, "m": None, "p": None}]


def test_a_naive_timestamp_is_this_process_wall_clock_and_an_aware_one_its_instant():
    naive = datetime(2026, 11, 30, 12, 0)
    aware = datetime(2026, 11, 30, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    [first, second] = rows_table([("t", "timestamp")], [{"t": naive}, {"t": aware}])["t"].to_pylist()
    assert first == naive.astimezone(timezone.utc)
    assert second == datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def test_a_table_partitioned_by_a_timestamp_is_refused():
    columns = (Column("at", "timestamp"), Column("data_date", "date"))
    TableSpec("ok", "governance", None, "/lake/ok", columns, partition_by=("data_date",))
    with pytest.raises(ValueError, match="partition column 'at' is a timestamp; fix: partition by a date"):
        TableSpec("bad", "governance", None, "/lake/bad", columns, partition_by=("at",))
