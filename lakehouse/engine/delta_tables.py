"""Every Delta Lake call the framework makes: create, read, write, history."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from delta.tables import DeltaTable
from pyarrow.fs import FileSelector, FileType
from pyspark.sql import DataFrame, SparkSession

from lakehouse.engine.arrow_rows import rows_table
from lakehouse.zones.storage import filesystem
from lakehouse.zones.tables import OPEN_END_DATE, TableSpec, join_path
from lakehouse.sql import quote_column, sql_string

METADATA_KEY = "lakehouse"
_COMMIT_FILE = re.compile(r"\d{20}\.json")


@dataclass(frozen=True)
class TableLayout:
    """An existing Delta table's columns (name -> Spark SQL type), comments and properties."""

    types: dict[str, str]
    comments: dict[str, str]
    properties: dict[str, str]


def _user_metadata(metadata: dict[str, Any]) -> str:
    """The framework's part of a commit's userMetadata (read back by ``commit_metadata``)."""
    return json.dumps({METADATA_KEY: metadata}, default=str)


class DeltaTables:
    """Delta operations on tables described by ``TableSpec``."""

    def __init__(self, spark: SparkSession, registered: dict[str, str] | None = None):
        self.spark = spark
        # catalog name -> storage path, named in this Spark application (shared by its sessions)
        self._registered: dict[str, str] = {} if registered is None else registered

    def exists(self, path: str) -> bool:
        return DeltaTable.isDeltaTable(self.spark, path)

    def ensure(self, spec: TableSpec) -> None:
        """Create the table with comments and properties if missing, and name it in the catalog."""
        if self._registered.get(spec.qualified_name) == spec.path:
            return
        if not self.exists(spec.path):
            builder = DeltaTable.createIfNotExists(self.spark).location(spec.path)
            for col in spec.columns:
                builder = builder.addColumn(
                    col.name, col.spark_type, nullable=col.nullable, comment=col.comment or None
                )
            if spec.partition_by:
                builder = builder.partitionedBy(*spec.partition_by)
            if spec.comment:
                builder = builder.comment(spec.comment)
            for key, value in spec.properties.items():
                builder = builder.property(key, value)
            builder.execute()
        self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {spec.schema_name}")
        if spec.qualified_name in self._registered:  # the name pointed at another lakehouse root
            self.spark.sql(f"DROP TABLE IF EXISTS {spec.qualified_name}")
        self.spark.sql(
            f"CREATE TABLE IF NOT EXISTS {spec.qualified_name} USING delta LOCATION '{spec.path}'"
        )
        self._registered[spec.qualified_name] = spec.path

    def layout(self, path: str) -> TableLayout | None:
        if not self.exists(path):
            return None
        fields = self.read(path).schema.fields
        detail = DeltaTable.forPath(self.spark, path).detail().select("properties").first()
        return TableLayout({f.name: f.dataType.simpleString() for f in fields},
                           {f.name: f.metadata.get("comment", "") for f in fields},
                           dict(detail["properties"] or {}))

    def evolve(self, spec: TableSpec, current: TableLayout, added: list[str]) -> None:
        table = f"delta.`{spec.path}`"
        if any("timestamp_ntz" in c.spark_type for c in spec.columns if c.name in added):
            # Delta adds a wall-clock timestamp column only to a table that supports the feature
            # (a table created with one has it already)
            self.spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES "
                           "('delta.feature.timestampNtz' = 'supported')")
        previous = None
        for column in spec.columns:
            name = quote_column(column.name)
            if column.name in added:
                place = f" AFTER {quote_column(previous)}" if previous else " FIRST"
                self.spark.sql(f"ALTER TABLE {table} ADD COLUMNS ({name} {column.spark_type} "
                               f"COMMENT {sql_string(column.comment)}{place})")
            elif current.comments.get(column.name, "") != column.comment:
                self.spark.sql(f"ALTER TABLE {table} ALTER COLUMN {name} COMMENT {sql_string(column.comment)}")
            previous = column.name
        changed = {k: v for k, v in spec.properties.items() if current.properties.get(k) != v}
        if changed:
            pairs = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in changed.items())
            self.spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ({pairs})")

    def delete(self, spec: TableSpec, predicate: str) -> None:
        DeltaTable.forPath(self.spark, spec.path).delete(predicate)

    def delete_physically(self, spec: TableSpec, predicate: str, metadata: dict[str, Any]) -> None:
        """Delete the rows matching ``predicate``, then purge the deletion vectors that may hide
        them in files still current (a table whose spec turns deletion vectors on)."""
        with self.session_conf({"spark.databricks.delta.commitInfo.userMetadata": _user_metadata(metadata)}):
            DeltaTable.forPath(self.spark, spec.path).delete(predicate)
            if spec.properties.get("delta.enableDeletionVectors") == "true":
                self.spark.sql(f"REORG TABLE delta.`{spec.path}` APPLY (PURGE)")

    def vacuum(self, spec: TableSpec, retain_hours: int) -> None:
        """VACUUM keeping the files of the last ``retain_hours``; a window under Delta's 7-day
        safety check is allowed for this call only (a declared retention window)."""
        check = "spark.databricks.delta.retentionDurationCheck.enabled"
        with self.session_conf({check: "false"} if retain_hours < 168 else {}):
            DeltaTable.forPath(self.spark, spec.path).vacuum(retain_hours)

    def rehash(self, spec: TableSpec, row_hash) -> None:
        DeltaTable.forPath(self.spark, spec.path).update(set={"row_hash": row_hash})

    def read(self, path: str) -> DataFrame:
        return self.spark.read.format("delta").load(path)

    def version(self, path: str) -> int | None:
        """The table's latest version: the newest commit file in its ``_delta_log`` (one
        listing, no Spark job; the Delta log keeps the newest commit file whatever its
        retention)."""
        fs, log = filesystem(join_path(path, "_delta_log"))
        found = [int(name[:-5]) for info in fs.get_file_info(FileSelector(log, allow_not_found=True))
                 if _COMMIT_FILE.fullmatch(name := info.base_name)]
        return max(found) if found else None

    def fingerprint(self, path: str, version: int | None = None) -> tuple[int, int]:
        """Rows of the table at ``path`` (as of ``version``, default the latest) and an
        order-independent checksum of their values: the sum of a 64-bit hash of every row
        (maps hashed as their sorted entries). One Spark job."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import MapType

        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        frame = reader.load(path)
        values = [F.array_sort(F.map_entries(frame[f.name])) if isinstance(f.dataType, MapType)
                  else frame[f.name] for f in frame.schema.fields]
        row = frame.select(F.count(F.lit(1)).alias("rows"), F.sum(
            F.xxhash64(*values).cast("decimal(38,0)")).alias("checksum")).first()
        return int(row["rows"]), int(row["checksum"] or 0)

    def created_empty(self, path: str) -> bool:
        """Whether the table's only commit is its creation without data files (version 0
        adding no file): a table made by ``ensure`` and never written. One listing and one
        small file read, no Spark job."""
        if self.version(path) != 0:
            return False
        fs, first = filesystem(join_path(path, "_delta_log", f"{0:020d}.json"))
        with fs.open_input_stream(first) as stream:
            actions = [json.loads(line) for line in stream.read().decode("utf-8").splitlines()
                       if line.strip()]
        return not any("add" in action for action in actions)

    def is_latest(self, path: str, version: int) -> bool:
        """Whether ``version`` is the table's latest: its commit file is in ``_delta_log`` and the
        next one is not (two lookups however long the log, no Spark job; Delta numbers commits
        without gaps)."""
        fs, log = filesystem(join_path(path, "_delta_log"))
        found = fs.get_file_info([f"{log}/{v:020d}.json" for v in (version, version + 1)])
        return [info.type != FileType.NotFound for info in found] == [True, False]

    def replace_where(
        self, spec: TableSpec, df: DataFrame, predicate: str | None, metadata: dict[str, Any]
    ) -> None:
        """Atomically replace the rows matching ``predicate`` (all rows if None) with ``df``."""
        writer = (
            df.select(*spec.column_names)
            .write.format("delta")
            .mode("overwrite")
            .option("userMetadata", _user_metadata(metadata))
        )
        if predicate:
            writer = writer.option("replaceWhere", predicate)
        writer.save(spec.path)

    def close_and_open(self, spec: TableSpec, changes: DataFrame, data_date: str,
                       metadata: dict[str, Any]) -> None:
        """One MERGE: close the open rows named in ``_close_<key>``, insert the new versions.

        With deletion vectors on, only the changed rows are written, not the open partition.
        """
        keys = list(spec.keys)
        condition = " AND ".join(f"t.`{k}` = s.`_close_{k}`" for k in keys)
        condition += f" AND t.end_dt = DATE'{OPEN_END_DATE}'"
        opening = " AND ".join(f"s.`_close_{k}` IS NULL" for k in keys)
        merge = (
            DeltaTable.forPath(self.spark, spec.path).alias("t")
            .merge(changes.alias("s"), condition)
            .whenMatchedUpdate(set={"end_dt": f"DATE'{data_date}'"})
            .whenNotMatchedInsert(condition=opening,
                                  values={c: f"s.`{c}`" for c in spec.column_names})
        )
        with self.session_conf({
            "spark.databricks.delta.commitInfo.userMetadata":
                _user_metadata(metadata),
            # the change set is computed once, not once per merge phase
            "spark.databricks.delta.merge.materializeSource": "all",
        }):
            merge.execute()

    @contextmanager
    def session_conf(self, values: dict[str, str]):
        conf = self.spark.conf
        saved = {key: conf.get(key, None) for key in values}
        for key, value in values.items():
            conf.set(key, value)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    conf.unset(key)
                else:
                    conf.set(key, value)

    def append(self, spec: TableSpec, df: DataFrame, metadata: dict[str, Any] | None = None) -> None:
        writer = df.select(*spec.column_names).write.format("delta").mode("append")
        if metadata:
            writer = writer.option("userMetadata", _user_metadata(metadata))
        writer.save(spec.path)

    def rows_frame(self, spec: TableSpec, rows: list[dict[str, Any]]) -> DataFrame:
        """A small DataFrame of Python rows with the spec's schema (for governance records), handed
        to Spark as an Arrow table (see ``arrow_rows``)."""
        names = set(spec.column_names)
        for row in rows:
            unknown = [k for k in row if k not in names]
            if unknown:
                raise ValueError(f"{spec.qualified_name} has no column {', '.join(map(repr, unknown))}; "
                                 f"fix: use the columns {', '.join(spec.column_names)}")
        ddl = ", ".join(f"`{c.name}` {c.spark_type}" for c in spec.columns)
        table = rows_table([(c.name, c.spark_type) for c in spec.columns], rows)
        return self.spark.createDataFrame(table, schema=ddl)

    def commit_metadata(self, path: str) -> list[dict[str, Any]]:
        """The framework's metadata of the retained commits, newest first."""
        if not self.exists(path):
            return []
        history = DeltaTable.forPath(self.spark, path).history()
        found = []
        for row in history.select("version", "userMetadata").collect():
            if not row["userMetadata"]:
                continue
            try:
                meta = json.loads(row["userMetadata"]).get(METADATA_KEY)
            except (ValueError, AttributeError):
                continue
            if meta is not None:
                found.append({"version": int(row["version"]), **meta})
        return found
