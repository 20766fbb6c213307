"""Delta tables read and appended without Spark (delta-rs), for the processes that must not start
a JVM: the data services' server (its serving copies, audit records and call statistics) and the
service commands. Local roots and object-storage URIs alike; tables the engine also writes with
Spark are the same Delta tables (Delta's commit protocol orders the writers).

Spark writes its Parquet files encrypted (encryption at rest, 4.2.2.2 c), which delta-rs cannot
read: a table's files are scanned through pyarrow instead, each encrypted file (footer magic
``PARE``) with the Parquet master key of :func:`use_parquet_key`, each clear one (delta-rs's own
appends) as it is. The appends here write clear Parquet: they hold governance records, whose
values of level 3 and above are masked."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from lakehouse.zones.tables import TableSpec

_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_ARRAY = re.compile(r"array<(.+)>")
_SIMPLE = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(),
           "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC")}


_parquet_key: Callable[[], bytes | None] = lambda: None
_ENCRYPTED_FOOTER = b"PARE"


def use_parquet_key(key: Callable[[], bytes | None]) -> None:
    """Where the Parquet master key comes from (called when an encrypted file is first met, so a
    process that reads only clear files never needs the key file)."""
    global _parquet_key
    _parquet_key = key


def _arrow_table(path: str, version: int | None = None, columns: list[str] | None = None,
                 filters: list[tuple[str, str, Any]] | None = None) -> pa.Table:
    """The rows of the table at ``path`` (as of ``version``) whose columns equal the ``filters``'
    values, encrypted files decrypted."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    dataset = DeltaTable(path, version=version).to_pyarrow_dataset()
    files = list(dataset.get_fragments())
    encrypted = [f for f in files if _is_encrypted(dataset.filesystem, f.path)]
    if encrypted:
        key = _parquet_key()
        if key is None:
            raise ValueError(f"{path} holds encrypted Parquet files and no Parquet key is set; fix: "
                             "read it through a Lakehouse of its project (its key provider)")
        from lakehouse.security.at_rest import arrow_dataset_decryption

        decrypting = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(
            decryption_config=arrow_dataset_decryption(key)))
        clear = [f for f in files if f not in encrypted]
        dataset = ds.dataset([ds.FileSystemDataset(
            [fmt.make_fragment(f.path, dataset.filesystem, partition_expression=f.partition_expression)
             for f in group], dataset.schema, fmt, dataset.filesystem)
            for group, fmt in ((encrypted, decrypting), (clear, dataset.format)) if group])
    condition = None
    for column, _, value in filters or []:
        term = ds.field(column) == value
        condition = term if condition is None else condition & term
    return dataset.to_table(columns=columns, filter=condition)


def _is_encrypted(fs, path: str) -> bool:
    """Whether the Parquet file at ``path`` has an encrypted footer (its last four bytes)."""
    with fs.open_input_file(path) as handle:
        handle.seek(handle.size() - 4)
        return handle.read(4) == _ENCRYPTED_FOOTER


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
    return _arrow_table(path, columns=columns).to_pylist()


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
    return _arrow_table(path, version, columns, [(column, "=", value)])


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
    return _arrow_table(path, filters=[(column, "=", value)]).to_pylist()


def max_value(path: str, column: str) -> Any:
    """The greatest value of ``column`` (None: no table, or no rows)."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(path):
        return None
    values = _arrow_table(path, columns=[column]).column(column)
    return pc.max(values).as_py() if len(values) else None
