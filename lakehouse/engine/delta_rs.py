"""Delta tables read and appended without Spark (delta-rs), for the processes that must not start
a JVM: the data services' server (its serving copies, audit records and call statistics) and the
service commands. Local roots and object-storage URIs alike; tables the engine also writes with
Spark are the same Delta tables (Delta's commit protocol orders the writers)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

import pyarrow as pa

from lakehouse.zones.tables import TableSpec

_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_ARRAY = re.compile(r"array<(.+)>")
_SIMPLE = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(),
           "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC")}


def arrow_type(spark_type: str) -> pa.DataType:
    """The Arrow type Delta stores a column of ``spark_type`` as."""
    if spark_type in _SIMPLE:
        return _SIMPLE[spark_type]
    if match := _DECIMAL.fullmatch(spark_type):
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    if match := _ARRAY.fullmatch(spark_type):
        return pa.list_(arrow_type(match.group(1)))
    raise ValueError(f"no Arrow type for Spark type {spark_type!r}; fix: add it to delta_rs._SIMPLE")


def arrow_schema(spec: TableSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c.spark_type)) for c in spec.columns])


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value


def append(spec: TableSpec, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` (column -> value) to the table of ``spec`` in one commit, creating it with
    the spec's columns and partitioning when there is none."""
    from deltalake import write_deltalake

    if not rows:
        return
    schema = arrow_schema(spec)
    data = pa.Table.from_pylist([{c: _utc(row.get(c)) for c in schema.names} for row in rows], schema)
    write_deltalake(spec.path, data, mode="append", partition_by=list(spec.partition_by) or None)


def version(path: str) -> int | None:
    """The table's latest version (None: no Delta table at ``path``)."""
    from deltalake import DeltaTable

    return DeltaTable(path).version() if DeltaTable.is_deltatable(path) else None


def rows(path: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row of the table at ``path`` (none when there is no table): for small tables."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(path):
        return []
    return DeltaTable(path).to_pyarrow_table(columns=columns).to_pylist()


def partition_dates(path: str, column: str = "data_date") -> tuple[int | None, list[date]]:
    """The table's version and the distinct values of its date partition ``column``, oldest
    first (from the Delta log only: no data file is read)."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(path):
        return None, []
    table = DeltaTable(path)
    found = {date.fromisoformat(p[column]) for p in table.partitions() if p.get(column)}
    return table.version(), sorted(found)


def partition(path: str, column: str, value: date, columns: list[str], version: int | None = None
              ) -> pa.Table:
    """The ``columns`` of the rows of partition ``column`` = ``value`` (as of ``version``)."""
    from deltalake import DeltaTable

    table = DeltaTable(path, version=version)
    return table.to_pyarrow_table(filters=[(column, "=", value)], columns=columns)


def is_latest(path: str, version: int) -> bool:
    """Whether ``version`` is still the table's latest (two file lookups in ``_delta_log``)."""
    from pyarrow.fs import FileType

    from lakehouse.zones.storage import filesystem
    from lakehouse.zones.tables import join_path

    fs, log = filesystem(join_path(path, "_delta_log"))
    found = fs.get_file_info([f"{log}/{v:020d}.json" for v in (version, version + 1)])
    return [info.type != FileType.NotFound for info in found] == [True, False]


def rows_where(path: str, column: str, value: Any) -> list[dict[str, Any]]:
    """The rows whose ``column`` equals ``value`` (files skipped by their statistics)."""
    from deltalake import DeltaTable

    return DeltaTable(path).to_pyarrow_table(filters=[(column, "=", value)]).to_pylist()


def max_value(path: str, column: str) -> Any:
    """The greatest value of ``column`` (None: no table, or no rows)."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(path):
        return None
    values = DeltaTable(path).to_pyarrow_table(columns=[column]).column(column)
    return pc.max(values).as_py() if len(values) else None
