"""The engine: the only place that talks to Spark and Delta Lake.

Everything else in the framework hands it table specs, staged extracts and predicates, and
gets back plain Python values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import functions as F

from lakehouse.engine import (history_moves, model_views, object_store, parquet_encryption,
                              quality_batches, replaced_copy)
from lakehouse.engine.batches import Batch, spark_frame
from lakehouse.engine.delta_tables import DeltaTables, TableLayout
from lakehouse.engine.quality_batches import LINE, Lookup
from lakehouse.engine.session import build_session, delta_packages
from lakehouse.engine.zipper import ZipperWindow, forward_changes, rebuild, row_hash
from lakehouse.errors import ConfigError, Problem, TerminalError
from lakehouse.filters import Filter
from lakehouse.security.pseudonyms import HmacKey
from lakehouse.sql import quote_column, sql_string
from lakehouse.zones.tables import OPEN_END_DATE, ZIPPER_COLUMNS, TableSpec

__all__ = ["LINE", "Batch", "Engine", "Lookup", "TableLayout", "delta_packages"]


def _sql_date(value: date) -> str:
    return f"DATE'{value.isoformat()}'"


def _hashed_attributes(spec: TableSpec) -> list[str]:
    """The columns a zipper row hash covers: all but the keys and the zipper columns."""
    return [c.name for c in spec.columns if c.name not in spec.keys and c.name not in ZIPPER_COLUMNS]


class Engine:
    """Spark session plus Delta operations, created lazily on first use."""

    def __init__(self, master: str | None = "local[*]", remote: str | None = None,
                 conf: dict[str, str] | None = None, packages: tuple[str, ...] = ()):
        self._master, self._remote, self._conf = master, remote, dict(conf or {})
        self._packages = tuple(packages)  # Maven packages besides Delta's (the S3A connector)
        self._spark = None
        self._delta: DeltaTables | None = None
        self._prepared: set[tuple] = set()  # table layouts already checked in this session
        self._preparing = threading.Lock()  # one thread creates or evolves a table at a time
        self._pool: str | None = None  # the fair-scheduler pool of a worker engine
        self._encryption: tuple[bytes | None, bool] = (None, False)  # see encrypt_at_rest

    @classmethod
    def from_settings(cls, settings) -> "Engine":
        from lakehouse.zones.tables import join_path

        conf = {"spark.sql.session.timeZone": settings.timezone,
                "spark.sql.warehouse.dir": join_path(settings.root, "_catalog"),
                **object_store.s3a_conf(settings.root), **settings.spark.conf}
        return cls(settings.spark.master, settings.spark.remote, conf,
                   tuple(object_store.packages_for(settings.root)))

    @property
    def spark(self):
        if self._spark is None:
            self._spark = build_session(self._master, self._remote, self._conf, self._packages)
            self._apply_encryption()
        return self._spark

    def encrypt_at_rest(self, parquet_key: bytes | None, write: bool = True) -> None:
        """Decrypt the Parquet files this engine's Spark reads with ``parquet_key`` and, with
        ``write``, encrypt every file it writes (Parquet modular encryption); None: neither.
        The key goes into the running Spark's Hadoop settings only, never into a query, plan or
        log."""
        self._encryption = (parquet_key, write)
        if self._spark is not None:
            self._apply_encryption()

    def _apply_encryption(self) -> None:
        parquet_key, write = self._encryption
        if self._remote:
            if parquet_key is not None and write:
                raise ConfigError("encryption at rest over Spark Connect is the server's to set up", [
                    Problem("the client cannot hand Parquet keys to a Spark Connect server",
                            key="encrypt_at_rest", fix="start the server with the key service "
                            "(README, Encryption at rest) and set encrypt_at_rest: false here")])
            return
        if parquet_key is None:
            parquet_encryption.disable(self._spark)
        else:
            parquet_encryption.enable(self._spark, parquet_key, write)

    @property
    def delta(self) -> DeltaTables:
        if self._delta is None:
            self._delta = DeltaTables(self.spark)
        return self._delta

    def worker(self, pool: str) -> Engine:
        """An engine for another thread of this process: the same Spark application, its own
        session (the settings one piece of work changes for a while, such as a commit's
        metadata, stay its own) and its own fair-scheduler ``pool``. Call ``enter_pool`` on
        the thread that uses it."""
        twin = Engine(self._master, self._remote, self._conf, self._packages)
        session = self.spark.newSession()
        for key, value in self.spark.conf.getAll.items():
            if session.conf.isModifiable(key) and session.conf.get(key, None) != value:
                session.conf.set(key, value)
        twin._spark, twin._pool = session, pool
        twin._delta = DeltaTables(session, self.delta._registered)
        twin._prepared, twin._preparing = self._prepared, self._preparing
        return twin

    @property
    def has_workers(self) -> bool:
        """Whether ``worker`` can make engines (not over Spark Connect, whose client has one
        session per connection)."""
        return self._remote is None

    def enter_pool(self) -> None:
        """Run this thread's Spark jobs in the engine's fair-scheduler pool."""
        self.spark.sparkContext.setLocalProperty("spark.scheduler.pool", self._pool)

    def start(self) -> None:
        """Start the Spark session now (the first piece of work would otherwise pay for it)."""
        self.spark  # noqa: B018 - the property starts the session

    @property
    def realtime(self):
        """The real-time zone's Spark work (streaming feeds, change events, current state,
        reconciliation): ``lakehouse.engine.realtime_ops.RealtimeOps`` on this engine's session."""
        from lakehouse.engine.realtime_ops import RealtimeOps

        return RealtimeOps(self.spark, self.delta)

    @property
    def increments(self):
        """Incremental extracts folded into zipper tables by watermark (6.3.1.1 c):
        ``lakehouse.engine.increments.IncrementOps`` on this engine's session."""
        from lakehouse.engine.increments import IncrementOps

        return IncrementOps(self.spark, self.delta)

    def ping(self) -> None:
        """Run a trivial Spark job: the session answers."""
        self.spark.range(1).count()

    @contextmanager
    def _hmac_keys(self, keys: Sequence[HmacKey]) -> Iterator[None]:
        """Each key as the one-row temporary view its keyed hashes read it from (see
        ``lakehouse.security.pseudonyms``), for the work inside only: the key is data in the
        session, never text of a query or plan."""
        for key in keys:
            self.spark.createDataFrame([(key.inner_pad, key.outer_pad)],
                                       "inner_pad binary, outer_pad binary").createOrReplaceTempView(key.view)
        try:
            yield
        finally:
            for key in keys:
                self.spark.catalog.dropTempView(key.view)

    # -- tables ------------------------------------------------------------------------------
    def ensure_table(self, spec: TableSpec) -> None:
        self.delta.ensure(spec)

    def prepare_table(self, spec: TableSpec, bring_to_spec: Callable[[], None]) -> None:
        """Call ``bring_to_spec`` (create the table or evolve it to ``spec``) once per table
        layout (path, column types, properties) in this engine's session."""
        layout = (spec.path, tuple(spec.column_types.items()), tuple(sorted(spec.properties.items())))
        if layout in self._prepared:
            return
        with self._preparing:  # two threads creating one table would conflict in Delta's log
            if layout not in self._prepared:
                bring_to_spec()
                self._prepared.add(layout)

    def table_exists(self, spec: TableSpec) -> bool:
        return self.delta.exists(spec.path)

    def version(self, spec: TableSpec) -> int | None:
        return self.delta.version(spec.path)

    def path_version(self, path: str) -> int | None:
        """The latest version of the Delta table at ``path`` (None: no table there)."""
        return self.delta.version(path)

    def table_fingerprint(self, path: str, version: int | None = None) -> tuple[int, int]:
        """Rows and an order-independent checksum of the Delta table at ``path`` as of
        ``version`` (default: the latest): equal for tables holding the same rows."""
        return self.delta.fingerprint(path, version)

    def is_latest(self, spec: TableSpec, version: int) -> bool:
        """Whether the table is still at ``version`` (no commit since; no Spark job)."""
        return self.delta.is_latest(spec.path, version)

    def _read(self, spec: TableSpec, where: Filter | None = None):
        frame = self.delta.read(spec.path)
        if where is None:
            return frame
        if not isinstance(where, Filter):
            raise TypeError(f"where must be a lakehouse.filters.Filter, not {type(where).__name__}")
        return frame.filter(where.sql())

    def rows(self, spec: TableSpec, where: Filter | None = None, order_by: list[str] | None = None
             ) -> list[dict[str, Any]]:
        """The table's rows as dictionaries (for small tables, reports and tests)."""
        frame = self._read(spec, where)
        if order_by:
            frame = frame.orderBy(*order_by)
        return [row.asDict() for row in frame.collect()]

    def count(self, spec: TableSpec, where: Filter | None = None) -> int:
        return self._read(spec, where).count()

    def distinct_values(self, spec: TableSpec, columns: list[str]) -> dict[str, list[str]]:
        """Each column's distinct non-null values as text (one scan of the table)."""
        frame = self._read(spec, None)
        found = frame.agg(*[F.collect_set(F.col(quote_column(c)).cast("string")).alias(c)
                            for c in columns]).first()
        return {c: list(found[c] or []) for c in columns}

    def copy_replaced(self, spec: TableSpec, target_path: str,
                      replacements: dict[str, Callable[[Any], Any]]) -> int:
        """Copy ``spec``'s table to ``target_path`` with each column's values passed through its
        function in ``replacements`` (de-identified copies); the number of rows copied."""
        return replaced_copy.copy_replaced(self.spark, spec.path, target_path, replacements)

    def rows_as_json(self, spec: TableSpec) -> Iterator[str]:
        """The table's rows, each as one line of JSON, streamed (for scans of whole tables)."""
        return self._read(spec, None).toJSON().toLocalIterator()

    def sql(self, query: str, limit: int | None = None) -> list[dict[str, Any]]:
        frame = self.spark.sql(query)
        return [row.asDict() for row in (frame.limit(limit) if limit else frame).collect()]

    def sql_over_views(self, views: dict[str, str], query: str, limit: int | None = None
                       ) -> list[dict[str, Any]]:
        """``query`` after creating (or replacing) each temporary view name -> its SELECT."""
        self._create_views(views)
        return self.sql(query, limit)

    def export_over_views(self, views: dict[str, str], query: str, path: str, file_format: str
                          ) -> int:
        """Write the result of ``query`` (over ``views``, as ``sql_over_views``) to one local
        ``csv`` (UTF-8, header) or ``parquet`` file at ``path``; the number of rows written."""
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq

        self._create_views(views)
        result = self.spark.sql(query).toArrow()
        if file_format == "csv":
            pa_csv.write_csv(result, path)
        else:
            pq.write_table(result, path)
        return result.num_rows

    def _create_views(self, views: dict[str, str]) -> None:
        for name, select in views.items():
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {quote_column(name)} AS {select}")

    def table_layout(self, spec: TableSpec) -> TableLayout | None:
        """The existing table's column types, comments and properties (None if it does not exist)."""
        return self.delta.layout(spec.path)

    def evolve_table(self, spec: TableSpec, layout: TableLayout, added: list[str]) -> None:
        """Bring an existing table, now laid out as ``layout``, to ``spec``: add the ``added``
        columns (nullable, in spec order), and set every changed column comment and table
        property. A zipper table's row hashes are recomputed when columns are added, so the
        next load sees no spurious change."""
        self.delta.evolve(spec, layout, added)
        if added and spec.load_type == "zipper":
            self.delta.rehash(spec, row_hash(_hashed_attributes(spec), spec.column_types))

    def retype_table(self, spec: TableSpec, conversions: dict[str, str]) -> None:
        """Rewrite the table in one commit with the spec's column types, each column named in
        ``conversions`` computed from its old value by that Spark SQL expression."""
        frame = self.delta.read(spec.path)
        columns = [F.expr(conversions[c.name]).cast(c.spark_type).alias(c.name)
                   if c.name in conversions else F.col(c.name) for c in spec.columns]
        frame.select(*columns).write.format("delta").mode("overwrite") \
            .option("overwriteSchema", "true").save(spec.path)
        self.delta.evolve(spec, self.delta.layout(spec.path), [])  # the column comments

    # -- quality -----------------------------------------------------------------------------
    def new_rows_batch(self, staged_path: str, spec: TableSpec, literals: dict[str, Any]) -> Batch:
        """The staged extract as a batch for quality rules: the table's columns, the delivered
        line (``_line``) and one literal column per ``literals`` item."""
        frame = self.spark.read.parquet(staged_path)
        types = spec.column_types
        columns = [frame[c].cast(types[c]).alias(c) if c in types else frame[c] for c in frame.columns]
        return Batch(frame.select(*columns, *[F.lit(v).alias(k) for k, v in literals.items()]))

    def table_batch(self, spec: TableSpec) -> Batch:
        """The whole table as a batch for table-scope quality rules."""
        return Batch(self.delta.read(spec.path))

    def with_lookups(self, batch: Batch, lookups: list[Lookup], data_date: date) -> Batch:
        """``batch`` with the flag column of every reference lookup, each table as of ``data_date``."""
        tables = []
        for lookup in lookups:
            table = history_moves.spanning(self.delta, lookup.table) if self.table_exists(lookup.table) \
                else self.spark.createDataFrame([], ", ".join(
                    f"`{c.name}` {c.spark_type}" for c in lookup.table.columns))
            tables.append((lookup, quality_batches.as_of(table, lookup.table, data_date)))
        return Batch(quality_batches.with_lookups(spark_frame(batch), tables))

    def validating(self):
        """Session settings while quality rules run: adaptive execution off, because it splits
        each of the many small aggregate queries into more jobs than it saves."""
        return self.delta.session_conf({"spark.sql.adaptive.enabled": "false"})

    @contextmanager
    def held(self, batch: Batch) -> Iterator[Batch]:
        """``batch`` kept by Spark (memory, then disk) while the block runs: the many passes
        of a suite read it once from storage (and join its lookups once)."""
        frame = spark_frame(batch).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            yield Batch(frame)
        finally:
            frame.unpersist()

    def failing_samples(self, batch: Batch, fails: dict[str, str], rows: int = 5) -> list[dict[str, Any]]:
        """Up to ``rows`` rows of ``batch`` per rule of ``fails`` (rule -> SQL condition true when
        a row fails it), each with its rule in ``_rule``."""
        return quality_batches.failing_samples(spark_frame(batch), fails, rows)

    def split_batch(self, batch: Batch, fails: dict[str, str], kept_path: str, dropped_path: str) -> int:
        """Write the rows of ``batch`` failing none of ``fails`` (rule -> SQL condition true
        when a row fails it) to ``kept_path``, the others to ``dropped_path``; returns how many
        were dropped."""
        return quality_batches.split(spark_frame(batch), fails, kept_path, dropped_path)

    def failed_lines(self, dropped_path: str) -> list[tuple[int, list[str]]]:
        """(line, failed rules) of the rows ``split_batch`` dropped, in line order."""
        frame = self.spark.read.parquet(dropped_path)
        return [(r[0], list(r[1])) for r in
                frame.select(LINE, quality_batches.FAILED_RULES).orderBy(LINE).collect()]

    def key_hashes(self, staged_path: str, spec: TableSpec, hmac_key: HmacKey) -> dict[int, str]:
        """The quarantine ``key_hash`` of every row of a staged extract, by its line (``_line``),
        the key columns typed as the table has them (``hmac_key``: the quarantine's key)."""
        frame = spark_frame(self.new_rows_batch(staged_path, spec, {}))
        with self._hmac_keys([hmac_key]):
            return {int(r[0]): r[1] for r in
                    frame.select(LINE, quality_batches.key_hash(list(spec.keys))).collect()}

    def merge_corrected(self, spec: TableSpec, data_date: date, corrected_path: str, out_path: str) -> int:
        """Write to ``out_path`` the table's extract for ``data_date`` with the corrected rows in
        place of the rows of the same key; the corrected rows keep their line (``_line``), the
        others have none. Returns the number of rows of the extract."""
        staged = self.spark.read.parquet(corrected_path)
        types = spec.column_types
        corrected = staged.select(*[staged[c].cast(types[c]).alias(c) for c in staged.columns if c in types],
                                  staged[LINE].cast("bigint").alias(LINE))
        table = self.delta.read(spec.path)
        current = quality_batches.as_of(table, spec, data_date) if spec.load_type == "zipper" \
            else table.filter(f"data_date = {_sql_date(data_date)}")
        keys = list(spec.keys)
        current.select(*corrected.columns[:-1]).withColumn(LINE, F.lit(None).cast("bigint")) \
            .join(corrected.select(*keys), keys, "left_anti") \
            .unionByName(corrected).write.mode("overwrite").parquet(out_path)
        return self.spark.read.parquet(out_path).count()

    def distinct_rows(self, parquet_path: str, columns: list[str]) -> list[tuple]:
        """The distinct values of ``columns`` in a Parquet file or folder."""
        return [tuple(r) for r in self.spark.read.parquet(parquet_path).select(*columns).distinct().collect()]

    def write_quarantine(self, spec: TableSpec, data_date: date, parse_rows: list[dict[str, Any]],
                         dropped: dict[str, Any] | None = None) -> None:
        """Replace ``data_date``'s rows of the quarantine table ``spec`` with the rows that could
        not be parsed and, if ``dropped`` is given (path, hmac_key, columns, masked, keys,
        reasons, literals), the rows dropped by quality rules."""
        self.ensure_table(spec)
        frame = self.delta.rows_frame(spec, parse_rows)
        dropped = dict(dropped or {})
        with self._hmac_keys([dropped.pop("hmac_key")] if dropped else []):
            if dropped:
                rows = self.spark.read.parquet(dropped.pop("path"))
                frame = frame.unionByName(quality_batches.quarantined(rows, **dropped).select(
                    *[F.col(c.name).cast(c.spark_type) for c in spec.columns]))
            self.delta.replace_where(spec, frame, f"data_date = {_sql_date(data_date)}", {})

    def replace_quarantined(self, spec: TableSpec, data_date: date, stage: str,
                            held: dict[str, Any] | None) -> None:
        """Replace ``data_date``'s rows of ``stage`` in the quarantine table ``spec`` with the
        quarantine rows of ``held`` (as ``write_quarantine``'s ``dropped``; None: no rows), in
        one commit; the date's rows of the other stages stay."""
        self.ensure_table(spec)
        held = dict(held or {})
        frame = self.delta.rows_frame(spec, [])
        with self._hmac_keys([held.pop("hmac_key")] if held else []):
            if held:
                rows = self.spark.read.parquet(held.pop("path"))
                frame = quality_batches.quarantined(rows, stage=stage, **held).select(
                    *[F.col(c.name).cast(c.spark_type) for c in spec.columns])
            self.delta.replace_where(
                spec, frame, f"data_date = {_sql_date(data_date)} AND stage = {sql_string(stage)}", {})

    # -- governance records ------------------------------------------------------------------
    def append_rows(self, spec: TableSpec, rows: list[dict[str, Any]]) -> None:
        self.ensure_table(spec)
        if rows:
            self.delta.append(spec, self.delta.rows_frame(spec, rows).coalesce(1))

    def append_many(self, batches: list[tuple[TableSpec, list[dict[str, Any]]]]) -> None:
        """``append_rows`` to several different tables at once (concurrent Spark jobs)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:
            for done in [pool.submit(self.append_rows, spec, rows) for spec, rows in batches]:
                done.result()

    def has_rows(self, spec: TableSpec, where: Filter) -> bool:
        """Whether the table exists and has a row matching ``where``."""
        return self.table_exists(spec) and bool(self._read(spec, where).limit(1).count())

    def replace_rows(self, spec: TableSpec, rows: list[dict[str, Any]], where: Filter) -> None:
        """Atomically replace the rows matching ``where`` with ``rows``."""
        self.ensure_table(spec)
        self.delta.replace_where(spec, self.delta.rows_frame(spec, rows), where.sql(), {})

    # -- layer models ------------------------------------------------------------------------
    def model_output(self, sql: str, inputs: list[tuple[str, TableSpec, str]], data_date: date,
                     staged_path: str, hmac_keys: Sequence[HmacKey] = ()) -> list[tuple[str, str]]:
        """Run a model's query (parameters bound, pseudonyms expanded) with each input (view
        name, table, current/history) visible as a view as of ``data_date`` and ``hmac_keys``
        readable by its keyed hashes, write the result to ``staged_path`` as Parquet, and return
        its columns (name, Spark SQL type)."""
        for name, spec, mode in inputs:
            frame = history_moves.spanning(self.delta, spec)
            model_views.input_frame(frame, spec, mode, data_date).createOrReplaceTempView(name)
        with self._hmac_keys(hmac_keys):
            result = self.spark.sql(sql)
            result.write.mode("overwrite").parquet(staged_path)
            return [(f.name, f.dataType.simpleString()) for f in result.schema.fields]

    def staged_summary(self, staged_path: str, keys: list[str], samples: int = 5
                       ) -> tuple[int, list[tuple], int]:
        """Rows of a staged result, up to ``samples`` keys found more than once, and rows with a
        null key."""
        frame = self.spark.read.parquet(staged_path)
        null_key = " OR ".join(f"`{k}` IS NULL" for k in keys)
        counts = frame.agg(F.count(F.lit(1)), F.count(F.when(F.expr(null_key), 1))).first()
        repeated = frame.groupBy(*keys).count().filter("count > 1").limit(samples).collect()
        return int(counts[0]), [tuple(r[k] for k in keys) for r in repeated], int(counts[1])

    # -- retention (4.2.2.5) -----------------------------------------------------------------
    def row_counts(self, spec: TableSpec, columns: list[str], predicate: str) -> list[tuple[tuple, int]]:
        """The rows matching the SQL ``predicate``, counted by the values of ``columns``."""
        found = self.delta.read(spec.path).filter(predicate).groupBy(*columns).count().collect()
        return sorted((tuple(r[c] for c in columns), int(r["count"])) for r in found)

    def delete_rows(self, spec: TableSpec, predicate: str, metadata: dict[str, Any]) -> int | None:
        """Delete the rows matching the SQL ``predicate`` in one commit; on a table with deletion
        vectors the files still holding them are rewritten (``REORG ... APPLY (PURGE)``), so no
        current file has them. Their files leave storage at the next ``vacuum``. The version after."""
        self.delta.delete_physically(spec, predicate, metadata)
        return self.version(spec)

    def vacuum(self, spec: TableSpec, retain_hours: int) -> None:
        """Remove the files no version of the last ``retain_hours`` reads (Delta VACUUM)."""
        self.delta.vacuum(spec, retain_hours)

    # -- the history zone --------------------------------------------------------------------
    def spanning_view(self, spec: TableSpec) -> str | None:
        """Create (or replace) a temporary view of the table's rows in the hot table and its
        history table (see ``history_moves.spanning``) and return its name; None when the
        table has no history table."""
        path = history_moves.history_path(spec)
        if path is None or self.delta.version(path) is None:
            return None
        name = f"_hot_and_history__{spec.schema_name}__{spec.name}"
        history_moves.spanning(self.delta, spec).createOrReplaceTempView(name)
        return name

    def dates_before(self, spec: TableSpec, before: date, version: int | None = None
                     ) -> list[tuple[date, int]]:
        """(data date, rows) of the snapshot or append table's dates older than ``before``, as of
        ``version`` (default: the latest)."""
        return history_moves.date_counts(self.delta, spec, before, version)

    def copy_to_history(self, spec: TableSpec, history: TableSpec, dates: list[date], version: int,
                        metadata: dict[str, Any]) -> history_moves.Copied:
        """Replace ``dates`` in the history table ``history`` (created or evolved to its spec) by
        the rows of ``spec`` as of ``version``, in one commit, and compact the months touched."""
        layout = self.delta.layout(history.path)
        if layout is None:
            self.ensure_table(history)
        else:
            added = [c for c in history.column_names if c not in layout.types]
            if added:
                self.delta.evolve(history, layout, added)
        return history_moves.copy(self.delta, spec, history, dates, version, metadata)

    def delete_dates(self, spec: TableSpec, dates: list[date], metadata: dict[str, Any]) -> int:
        """Delete ``dates`` from the table in one commit; its version after."""
        return history_moves.delete(self.delta, spec, dates, metadata)

    def commit_metadata(self, path: str) -> list[dict[str, Any]]:
        """The framework's metadata of the table's retained commits, newest first."""
        return self.delta.commit_metadata(path)

    # -- near-source loads -------------------------------------------------------------------
    def _staged(self, staged_path: str, spec: TableSpec):
        """A staged extract's columns of ``spec``, typed as the table has them."""
        frame = self.spark.read.parquet(staged_path)
        types = spec.column_types
        return frame.select(*[frame[c].cast(types[c]).alias(c) for c in frame.columns if c in types])

    def load_partition(self, spec: TableSpec, staged_path: str, data_date: date,
                       metadata: dict[str, Any]) -> None:
        """Snapshot and append loads: replace the data date's partition with the extract."""
        self.ensure_table(spec)
        frame = self._staged(staged_path, spec).withColumn(
            "data_date", F.lit(data_date.isoformat()).cast("date"))
        self.delta.replace_where(spec, frame, f"data_date = {_sql_date(data_date)}", metadata)

    def zipper_loaded_dates(self, spec: TableSpec) -> list[date]:
        """The data dates already folded into a zipper table as recorded in its retained
        commits (for a table whose loaded dates are not kept by the caller yet). A table
        created empty and never written has none, known without reading its history."""
        if self.delta.created_empty(spec.path):
            return []
        for meta in self.delta.commit_metadata(spec.path):
            if "loaded_dates" in meta:
                return sorted(date.fromisoformat(d) for d in meta["loaded_dates"])
        if self.count(spec):
            raise TerminalError(
                f"{spec.qualified_name} has rows but no commit in its retained history records "
                "which data dates it holds", [Problem(
                    "the zipper load needs the loaded dates to place this date correctly",
                    file=spec.path, fix="do not let the Delta log retention drop every load "
                    "commit (delta.logRetentionDuration), or rebuild the table by reloading "
                    "its dates in order")])
        return []

    def load_zipper(self, spec: TableSpec, staged_path: str, data_date: date,
                    metadata: dict[str, Any], frozen_keys: list[tuple] | None = None,
                    loaded_dates: list[date] | None = None) -> None:
        """Fold one full extract into the zipper table, in or out of date order.
        ``loaded_dates`` are the data dates already folded into it (kept by the caller); when
        None they are taken from the table's retained commits."""
        self.ensure_table(spec)
        loaded = sorted(loaded_dates) if loaded_dates is not None else self.zipper_loaded_dates(spec)
        window = ZipperWindow.around(data_date, loaded)
        keys = list(spec.keys)
        attributes = _hashed_attributes(spec)
        types = spec.column_types
        extract = self._staged(staged_path, spec)
        hashed = row_hash(attributes, types)
        current = self.delta.read(spec.path)
        frozen = None
        if frozen_keys:
            key_ddl = ", ".join(f"`{k}` {types[k]}" for k in keys)
            frozen = self.spark.createDataFrame(frozen_keys, schema=key_ddl)
        metadata = {**metadata,
                    "loaded_dates": [d.isoformat() for d in sorted({*loaded, data_date})]}
        if not loaded:  # an empty table: every delivered row opens
            first = extract.withColumn("row_hash", hashed) \
                .withColumn("start_dt", F.lit(data_date)) \
                .withColumn("end_dt", F.lit(date.fromisoformat(OPEN_END_DATE)))
            self.delta.replace_where(spec, first, None, metadata)
        elif data_date > loaded[-1]:
            changes = forward_changes(current, extract, keys, attributes, data_date, hashed,
                                      frozen)
            self.delta.close_and_open(spec, changes, data_date.isoformat(), metadata)
        else:
            extract = extract.withColumn("row_hash", hashed)
            rebuilt = rebuild(current, extract, keys, attributes, window, frozen)
            self.delta.replace_where(spec, rebuilt, window.predicate(), metadata)
