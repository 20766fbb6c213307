"""Python rows as an Arrow table, for the small frames of governance records.

``spark.createDataFrame`` of Python tuples plans a Python RDD: the write task starts a Python
worker to unpickle the rows again, 0.2-0.7 s of a governance append on a small machine. An Arrow
table is handed to the JVM as it is.

Timestamps keep the meaning the tuple path gives them: a naive ``datetime`` is a wall-clock time
of this process's time zone (as ``datetime.now()`` returns it), an aware one is its instant; both
are stored as instants (UTC), whatever Spark's session time zone.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

SIMPLE_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
}


def arrow_type(spark_type: str) -> pa.DataType:
    """The Arrow type of a Spark SQL column type of a governance record (simple types, arrays,
    maps and structs of them)."""
    if spark_type.startswith("array<") and spark_type.endswith(">"):
        return pa.list_(arrow_type(spark_type[6:-1]))
    if spark_type.startswith("map<") and spark_type.endswith(">"):
        key, value = _top_level_split(spark_type[4:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    if spark_type.startswith("struct<") and spark_type.endswith(">"):
        fields = [field.split(":", 1) for field in _top_level_split(spark_type[7:-1])]
        return pa.struct([(name.strip(), arrow_type(kind.strip())) for name, kind in fields])
    if spark_type.startswith("decimal("):
        precision, scale = (int(x) for x in spark_type[8:-1].split(","))
        return pa.decimal128(precision, scale)
    try:
        return SIMPLE_TYPES[spark_type]
    except KeyError:
        raise ValueError(f"no Arrow type for the Spark type {spark_type!r}; fix: add it to "
                         "lakehouse.engine.arrow_rows.SIMPLE_TYPES") from None


def _top_level_split(types: str) -> list[str]:
    """``"string,decimal(18,2)"`` -> ["string", "decimal(18,2)"]: split at commas outside brackets."""
    parts, depth, start = [], 0, 0
    for at, char in enumerate(types):
        depth += 1 if char in "<(" else -1 if char in ">)" else 0
        if char == "," and depth == 0:
            parts.append(types[start:at].strip())
            start = at + 1
    return parts + [types[start:].strip()]


def as_instant(value: Any) -> Any:
    """A ``datetime`` as an aware UTC instant (naive: a wall-clock time of this process's zone)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return value


def rows_table(columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> pa.Table:
    """``rows`` (column -> value, missing columns NULL) as an Arrow table of ``columns``
    (name, Spark type), in that order."""
    arrays = {}
    for name, spark_type in columns:
        values = [row.get(name) for row in rows]
        if spark_type == "timestamp":
            values = [as_instant(v) for v in values]
        arrays[name] = pa.array(values, arrow_type(spark_type))
    return pa.table(arrays)
