"""The real-time zone's Spark and Delta work, behind ``Engine.realtime``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pyspark.sql import functions as F

from lakehouse.engine import streams
from lakehouse.engine.delta_tables import DeltaTables
from lakehouse.zones.tables import TableSpec


class RealtimeOps:
    """Streaming feeds, change events, current-state views and reconciliation on one session."""

    def __init__(self, spark, delta: DeltaTables):
        self.spark, self.delta = spark, delta

    # -- streaming ingestion -----------------------------------------------------------------
    def start_feed(self, plan: streams.FeedPlan, on_rejected: Callable[[list[dict], int], list[dict]],
                   on_batch: Callable[[streams.BatchOutcome], None], available_now: bool = False
                   ) -> streams.FeedQuery:
        """Start the feed's streaming query into its events table (created when missing)."""
        self.delta.ensure(plan.events)
        self.delta.ensure(plan.quarantine)
        return streams.start_feed(self.spark, plan, on_rejected, on_batch, available_now)

    def event_counts(self, spec: TableSpec, where: str | None = None) -> tuple[int, int]:
        """Rows and an order-independent checksum of the events' ids and attribute values."""
        frame = self.delta.read(spec.path)
        if where:
            frame = frame.filter(where)
        columns = [c for c in spec.column_names if c not in ("ingest_batch", "ingested_at", "source_file")]
        row = frame.select(F.count(F.lit(1)), F.sum(F.xxhash64(*columns).cast("decimal(38,0)"))).first()
        return int(row[0]), int(row[1] or 0)

    # -- log-based incremental loads (6.3.1.1 c) ---------------------------------------------
    def stage_state_from_changes(self, events_path: str, keys: list[str],
                                 attributes: list[tuple[str, str]], as_of: date, out_path: str) -> int:
        """Write to ``out_path`` (Parquet) the full state as of the end of ``as_of`` that the
        change events at ``events_path`` describe: each key's newest event (by source time, log
        file, log position) of a date up to ``as_of``, unless it is a delete. The number of rows."""
        from pyspark.sql import Window

        frame = self.delta.read(events_path).filter(F.col("data_date") <= F.lit(as_of))
        newest = Window.partitionBy(*keys).orderBy(F.col("event_time").desc(), F.col("log_file").desc(),
                                                   F.col("log_pos").desc())
        state = frame.withColumn("_n", F.row_number().over(newest)).filter("_n = 1") \
            .filter(F.col("op") != "d")
        return self._staged_rows(state, attributes, out_path)

    def stage_events_of_date(self, events_path: str, attributes: list[tuple[str, str]], day: date,
                             out_path: str) -> int:
        """Write to ``out_path`` (Parquet) the attribute values of the business events of data
        date ``day`` at ``events_path``; the number of rows."""
        events = self.delta.read(events_path).filter(F.col("data_date") == F.lit(day))
        return self._staged_rows(events, attributes, out_path)

    def _staged_rows(self, frame, attributes: list[tuple[str, str]], out_path: str) -> int:
        """Write ``frame``'s ``attributes`` (name, type) to ``out_path`` as Parquet; how many rows."""
        frame.select(*[F.col(name).cast(kind).alias(name) for name, kind in attributes]) \
            .write.mode("overwrite").parquet(out_path)
        return self.spark.read.parquet(out_path).count()

    # -- stream/batch fusion (6.2.3 c) -------------------------------------------------------
    def _events(self, events: TableSpec):
        if self.delta.exists(events.path):
            return self.delta.read(events.path)
        return self.spark.createDataFrame([], ", ".join(f"`{c.name}` {c.spark_type}" for c in events.columns))

    def _batch(self, batch: TableSpec):
        if self.delta.exists(batch.path):
            return self.delta.read(batch.path)
        return self.spark.createDataFrame([], ", ".join(f"`{c.name}` {c.spark_type}" for c in batch.columns))

    def batch_date(self, batch: TableSpec) -> date | None:
        """The newest data date of the T-1 batch table (zipper: the newest version start)."""
        if not self.delta.exists(batch.path):
            return None
        column = "start_dt" if batch.load_type == "zipper" else "data_date"
        return self.delta.read(batch.path).agg(F.max(column)).first()[0]

    def current_state(self, batch: TableSpec, events: TableSpec, kind: str, keys: list[str],
                      attributes: list[str], batch_date: date | None):
        """The current state: the T-1 batch's rows as of ``batch_date`` and the events after
        that date (business events: added; change events: each key's newest event replaces its
        row, a delete removes it), with ``origin`` batch or stream."""
        after = self._events(events)
        table = self._batch(batch)
        if batch_date is not None:
            after = after.filter(F.col("data_date") > F.lit(batch_date))
            if batch.load_type == "zipper":
                day = F.lit(batch_date)
                table = table.filter((F.col("start_dt") <= day) & (F.col("end_dt") > day))
        else:
            table = table.limit(0)
        if kind == "business_events":
            stream = after.select(*attributes, "data_date", F.lit("stream").alias("origin"))
            if batch.load_type == "zipper":
                base = table.select(*attributes, F.lit(batch_date).cast("date").alias("data_date"))
            else:
                base = table.select(*attributes, "data_date")
            base = base.withColumn("origin", F.lit("batch")).join(stream.select(*keys), keys, "left_anti")
            return base.unionByName(stream)
        from pyspark.sql import Window

        newest = Window.partitionBy(*keys).orderBy(F.col("event_time").desc(), F.col("log_file").desc(),
                                                   F.col("log_pos").desc())
        changed = after.withColumn("_n", F.row_number().over(newest)).filter("_n = 1")
        base = table.select(*attributes).join(changed.select(*keys), keys, "left_anti") \
            .withColumn("origin", F.lit("batch"))
        stream = changed.filter(F.col("op") != "d").select(*attributes).withColumn("origin", F.lit("stream"))
        return base.unionByName(stream)

    def current_state_view(self, name: str, *args) -> None:
        """``current_state`` as the temporary view ``name`` of this session."""
        self.current_state(*args).createOrReplaceTempView(name)

    def current_state_rows(self, *args, where: str | None = None) -> list[dict[str, Any]]:
        frame = self.current_state(*args)
        if where:
            frame = frame.filter(where)
        return [r.asDict() for r in frame.collect()]

    def current_state_fingerprint(self, *args) -> tuple[int, int]:
        """Rows and an order-independent checksum of the current state's attribute values."""
        frame = self.current_state(*args).drop("origin", "data_date")
        row = frame.select(F.count(F.lit(1)), F.sum(F.xxhash64(*frame.columns).cast("decimal(38,0)"))).first()
        return int(row[0]), int(row[1] or 0)

    def reconcile(self, batch: TableSpec, events: TableSpec, kind: str, keys: list[str],
                  attributes: list[str], amount: str | None, data_date: date, samples: int = 5
                  ) -> dict[str, Any]:
        """Compare the events of ``data_date`` with the batch of that date: key sets, counts,
        amount totals and values; up to ``samples`` keys of each difference."""
        day = F.lit(data_date)
        of_day = self._events(events).filter(F.col("data_date") == day)
        table = self._batch(batch)
        values = [a for a in attributes if a not in keys]
        if kind == "business_events":
            stream = of_day.select(*attributes)
            event_count = of_day.count()
            theirs = table.filter(F.col("data_date") == day).select(*attributes) \
                if batch.load_type != "zipper" else table.filter(
                    (F.col("start_dt") <= day) & (F.col("end_dt") > day)).select(*attributes)
        else:
            from pyspark.sql import Window

            newest = Window.partitionBy(*keys).orderBy(F.col("event_time").desc(), F.col("log_file").desc(),
                                                       F.col("log_pos").desc())
            changed = of_day.withColumn("_n", F.row_number().over(newest)).filter("_n = 1")
            event_count = changed.count()
            stream = changed.filter(F.col("op") != "d").select(*attributes)
            as_of = table.filter((F.col("start_dt") <= day) & (F.col("end_dt") > day)) \
                if batch.load_type == "zipper" else table.filter(F.col("data_date") == day)
            theirs = as_of.select(*attributes).join(changed.select(*keys), keys, "left_semi")
        hashed = (lambda frame, side: frame.select(*keys, F.xxhash64(*[F.col(v) for v in values]).alias(side)
                                                    if values else F.lit(0).alias(side),
                                                   *([F.col(amount).alias(f"{side}_amount")] if amount else [])))
        joined = hashed(stream, "s").join(hashed(theirs, "b"), keys, "full_outer")
        kinds = {"only_in_events": F.col("b").isNull(), "only_in_batch": F.col("s").isNull(),
                 "differing": F.col("s").isNotNull() & F.col("b").isNotNull() & (F.col("s") != F.col("b"))}
        totals = [F.count(F.when(cond, 1)).alias(name) for name, cond in kinds.items()]
        if amount:
            totals += [F.sum("s_amount").cast("string").alias("events_amount"),
                       F.sum("b_amount").cast("string").alias("batch_amount")]
        totals += [F.count("s").alias("_s"), F.count("b").alias("_b")]
        row = joined.agg(*totals).first().asDict()
        found = {name: int(row[name]) for name in kinds}
        found["events"] = int(event_count)
        found["batch_rows"] = int(row["_b"])
        found["events_amount"] = row.get("events_amount")
        found["batch_amount"] = row.get("batch_amount")
        found["samples"] = {name: [tuple(r) for r in joined.filter(cond).select(*keys).limit(samples).collect()]
                            for name, cond in kinds.items() if found[name]}
        return found

    def retire_events(self, events: TableSpec, upto: date, metadata: dict[str, Any]) -> int:
        """Delete the events of dates up to ``upto`` (now covered by the batch); how many."""
        if not self.delta.exists(events.path):
            return 0
        condition = F.col("data_date") <= F.lit(upto)
        count = self.delta.read(events.path).filter(condition).count()
        if count:
            self.delta.delete_physically(events, f"data_date <= DATE'{upto.isoformat()}'", metadata)
        return count

    # -- real-time applications --------------------------------------------------------------
    def start_app(self, name: str, events: TableSpec, attributes: list[str], sql: str, keys: list[str],
                  output_path: str, checkpoint: str, watermark_seconds: int, trigger_seconds: float,
                  properties: Callable[[list[tuple[str, str]]], dict[str, str]],
                  available_now: bool = False) -> streams.FeedQuery:
        """Stream the events table through ``sql`` (over the view ``events``, ``event_time`` a
        timestamp with a watermark) and upsert each micro-batch's rows by ``keys`` into the
        Delta table at ``output_path`` (a replayed batch upserts the same rows again), its
        properties ``properties(columns)`` of its columns (name, Spark SQL type)."""
        from delta.tables import DeltaTable

        from lakehouse.zones.tables import Column

        session = self.spark.newSession()  # its own temporary view `events`
        for key, value in self.spark.conf.getAll.items():
            if session.conf.isModifiable(key) and session.conf.get(key, None) != value:
                session.conf.set(key, value)
        self.delta.ensure(events)
        source = session.readStream.format("delta").option("skipChangeCommits", "true").load(events.path)
        source = source.select(*attributes, F.col("event_time").cast("timestamp").alias("event_time"),
                               "data_date", "event_id") \
            .withWatermark("event_time", f"{watermark_seconds} seconds")
        source.createOrReplaceTempView("events")
        result = session.sql(sql)
        def spec_of(frame) -> TableSpec:
            columns = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]
            return TableSpec(name=name, zone="realtime", layer=None, path=output_path,
                             columns=tuple(Column(*c) for c in columns), keys=tuple(keys),
                             properties=properties(columns))
        outcomes: list = []

        def upsert(batch, batch_id: int) -> None:
            import time

            started = time.time()
            rows = batch.count()
            delta = DeltaTables(batch.sparkSession)
            spec = spec_of(batch)
            if not delta.exists(output_path):
                delta.ensure(spec)
            if rows:
                condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
                DeltaTable.forPath(batch.sparkSession, output_path).alias("t") \
                    .merge(batch.alias("s"), condition).whenMatchedUpdateAll() \
                    .whenNotMatchedInsertAll().execute()
            feed.record(streams.BatchOutcome(batch_id, rows, rows, {}, None, None, started, time.time()))

        writer = result.writeStream.queryName(name).outputMode("update") \
            .option("checkpointLocation", checkpoint).foreachBatch(upsert)
        writer = writer.trigger(availableNow=True) if available_now \
            else writer.trigger(processingTime=f"{trigger_seconds} seconds")
        feed = streams.FeedQuery(None, None)
        feed.query = writer.start()
        return feed

    def table_rows(self, path: str) -> list[dict[str, Any]]:
        if not self.delta.exists(path):
            return []
        return [r.asDict() for r in self.delta.read(path).collect()]
