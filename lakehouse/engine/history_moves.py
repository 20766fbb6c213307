"""The Spark side of the history zone: copy data dates to a history table, compact it, delete
them from the hot table, and read a table across both.

A table read across both is its hot rows plus the history rows of the data dates the hot table
does not hold: a date copied to history but not yet deleted from the hot table (a move stopped
between its two commits) is read once, from the hot table, and so is a date loaded again into
the hot table after it moved (the newer load wins until the next move replaces its history).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from delta.tables import DeltaTable
from pyarrow.fs import FileSelector
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.engine.delta_tables import DeltaTables, _user_metadata
from lakehouse.zones.history import MONTH_COLUMN, MONTH_SQL, history_path
from lakehouse.zones.storage import filesystem
from lakehouse.zones.tables import TableSpec, join_path

_DATE_FOLDER = re.compile(r"/data_date=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True)
class Copied:
    """What one copy wrote to a history table."""

    rows: int
    files: int
    bytes: int
    version: int


def dates_in(values: list[date]) -> str:
    """``data_date IN (DATE'...', ...)``."""
    return f"data_date IN ({', '.join(sorted(f'DATE{chr(39)}{d.isoformat()}{chr(39)}' for d in values))})"


def date_counts(delta: DeltaTables, spec: TableSpec, before: date, version: int | None
                ) -> list[tuple[date, int]]:
    """(data date, rows) of the hot table's dates older than ``before``, as of ``version``."""
    frame = _as_of(delta, spec.path, version).filter(F.col("data_date") < F.lit(before))
    return [(r[0], int(r[1])) for r in frame.groupBy("data_date").count().orderBy("data_date").collect()]


def copy(delta: DeltaTables, spec: TableSpec, history: TableSpec, dates: list[date], version: int,
         metadata: dict) -> Copied:
    """Replace ``dates`` in the history table by the hot table's rows of them as of ``version``
    (one commit: a copy repeated after a crash writes the same rows again, never twice), one file
    per month sorted by data date, then compact the months touched that hold more than one file."""
    predicate = dates_in(dates)
    frame = _as_of(delta, spec.path, version).filter(predicate) \
        .withColumn(MONTH_COLUMN, F.expr(MONTH_SQL))
    types = history.column_types
    present = set(frame.columns)
    frame = frame.select(*[F.col(c).cast(t).alias(c) if c in present else F.lit(None).cast(t).alias(c)
                           for c, t in types.items()])
    frame.repartition(MONTH_COLUMN).sortWithinPartitions("data_date") \
        .write.format("delta").mode("overwrite").option("replaceWhere", predicate) \
        .option("userMetadata", _user_metadata(metadata)).save(history.path)
    table = DeltaTable.forPath(delta.spark, history.path)
    written = table.history(1).select("operationMetrics").first()[0] or {}
    months = [m for m in sorted({date(d.year, d.month, 1) for d in dates})
              if _data_files(history.path, m) > 1]
    if months:
        table.optimize().where(" OR ".join(f"{MONTH_COLUMN} = DATE'{m.isoformat()}'" for m in months)) \
            .executeCompaction()
    return Copied(int(written.get("numOutputRows", 0)), int(written.get("numFiles", 0)),
                  int(written.get("numOutputBytes", 0)), delta.version(history.path))


def delete(delta: DeltaTables, spec: TableSpec, dates: list[date], metadata: dict) -> int:
    """Delete ``dates`` from the hot table in one commit; its version after."""
    with delta.session_conf({"spark.databricks.delta.commitInfo.userMetadata": _user_metadata(metadata)}):
        DeltaTable.forPath(delta.spark, spec.path).delete(dates_in(dates))
    return delta.version(spec.path)


def spanning(delta: DeltaTables, spec: TableSpec) -> DataFrame:
    """The table's rows wherever they live: the hot rows (as of its latest version), and the
    history rows of the data dates the hot table does not hold at that version (the hot table
    alone when it has no history table). The hot dates come from the version's file list (its
    partition folders), no scan of the rows; reading the hot table at that version keeps the two
    in step when a move deletes dates while the query runs."""
    path = history_path(spec)
    if path is None or delta.version(path) is None:
        return delta.read(spec.path)
    hot = _as_of(delta, spec.path, delta.version(spec.path))
    folders = [_DATE_FOLDER.search(name) for name in hot.inputFiles()]
    older = delta.read(path)
    if not all(folders):  # files not in data_date folders (column mapping): find the dates by a join
        older = older.join(hot.select("data_date").distinct(), "data_date", "left_anti")
    elif folders:
        older = older.filter(~F.col("data_date").isin(sorted({date.fromisoformat(f.group(1))
                                                                for f in folders})))
    kept, types = set(older.columns), dict(hot.dtypes)
    return hot.unionByName(older.select(*[
        F.col(c) if c in kept else F.lit(None).cast(types[c]).alias(c) for c in hot.columns]))


def _data_files(path: str, month: date) -> int:
    """Data files in the month's partition folder, removed ones not yet vacuumed included (so
    never fewer than the month's files: one means there is nothing to compact)."""
    fs, folder = filesystem(join_path(path, f"{MONTH_COLUMN}={month.isoformat()}"))
    return sum(1 for info in fs.get_file_info(FileSelector(folder, allow_not_found=True))
               if info.base_name.endswith(".parquet"))


def _as_of(delta: DeltaTables, path: str, version: int | None) -> DataFrame:
    reader = delta.spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)
