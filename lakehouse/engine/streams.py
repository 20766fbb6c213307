"""Structured Streaming of a real-time feed into its Delta events table, exactly once.

Each micro-batch is parsed, typed and sorted into admitted events and rejected ones (malformed,
duplicate, late: each with its reason). Both writes are idempotent Delta appends keyed by the
query's id and the batch id (``txnAppId`` / ``txnVersion``): a batch replayed after a crash
(its files or offsets are in the checkpoint's offset log, its commit not yet) writes nothing
it wrote before, and classifies its events as it did the first time (duplicates are looked
for among the events of earlier batches only, and the watermark is that of the earlier
batches).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse.engine.delta_tables import DeltaTables, _user_metadata
from lakehouse.engine.parquet_encryption import jvm_classes_available
from lakehouse.zones.storage import filesystem
from lakehouse.zones.tables import TableSpec, join_path

REASON, STAGE, VALUE = "_reason", "_stage", "value"
CHANGE_OPERATIONS = ("c", "u", "d", "r")


@dataclass(frozen=True)
class FeedPlan:
    """Everything the engine needs to run one feed (built by ``lakehouse.realtime``)."""

    name: str
    kind: str  # business_events | change_events
    transport: str  # files | kafka
    attributes: tuple[tuple[str, str, bool, str], ...]  # (name, Spark SQL type, required, declared type)
    events: TableSpec
    quarantine: TableSpec
    checkpoint: str
    source_path: str | None = None
    kafka: dict[str, str] = field(default_factory=dict)
    event_id: str | None = None
    event_time: str | None = None
    watermark_seconds: int = 600
    trigger_seconds: float = 1.0
    max_files_per_batch: int = 100
    checks: bool = True  # False: the baseline of the benchmark (no parsing checks, no quarantine)


@dataclass
class BatchOutcome:
    """What one micro-batch did (handed to the feed's ``on_batch``)."""

    batch_id: int
    rows_in: int
    loaded: int
    rejected: dict[str, int]
    max_event_time: str | None
    watermark: str | None
    started: float
    finished: float
    replayed: bool = False


def _json_schema(plan: FeedPlan) -> StructType:
    """Every attribute read as text (typed afterwards, so a bad value is named, not nulled)."""
    image = StructType([StructField(name, StringType()) for name, *_ in plan.attributes])
    if plan.kind == "business_events":
        return StructType([*image.fields, StructField("_corrupt", StringType())])
    source = StructType([StructField(n, StringType()) for n in ("ts_ms", "file", "pos", "lsn")])
    return StructType([StructField("op", StringType()), StructField("ts_ms", StringType()),
                       StructField("before", image), StructField("after", image),
                       StructField("source", source), StructField("_corrupt", StringType())])


def _reasons(checks: list[tuple[Any, Any]]):
    """The first reason whose condition holds (null when none does)."""
    expr = F.lit(None).cast("string")
    for condition, reason in reversed(checks):
        expr = F.when(condition, reason).otherwise(expr)
    return expr


def classify(raw: DataFrame, plan: FeedPlan) -> DataFrame:
    """The batch's lines parsed and typed: the events table's columns (but ``ingest_batch`` and
    ``ingested_at``), the line (``value``) and, for a malformed line, ``_reason``."""
    parsed = raw.withColumn("_p", F.from_json(VALUE, _json_schema(plan), {
        "mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}))
    if plan.kind == "business_events":
        image, op = "_p", F.lit("c")
        event_time = F.col(f"_p.{plan.event_time}").try_cast("timestamp_ntz")
        event_id = F.col(f"_p.{plan.event_id}")
        log_file, log_pos = F.lit(None).cast("string"), F.lit(None).cast("bigint")
        envelope_checks = []
    else:
        op = F.col("_p.op")
        image = "_image"
        parsed = parsed.withColumn(image, F.when(op == "d", F.col("_p.before")).otherwise(F.col("_p.after")))
        millis = F.coalesce(F.col("_p.source.ts_ms"), F.col("_p.ts_ms")).try_cast("bigint")
        event_time = F.timestamp_millis(millis).cast("timestamp_ntz")
        log_file = F.col("_p.source.file")
        log_pos = F.coalesce(F.col("_p.source.lsn"), F.col("_p.source.pos")).try_cast("bigint")
        event_id = F.concat_ws(":", F.coalesce(log_file, F.lit("")), log_pos.cast("string"))
        envelope_checks = [
            (op.isNull() | ~op.isin(*CHANGE_OPERATIONS),
             F.concat(F.lit("op "), F.coalesce(op, F.lit("(missing)")),
                      F.lit(" is not one of c, u, d, r (create, update, delete, snapshot)"))),
            (F.col(image).isNull(), F.concat(F.lit("the "), F.when(op == "d", F.lit("before"))
                                             .otherwise(F.lit("after")), F.lit(" image is missing"))),
            (log_pos.isNull(), F.lit("source.pos (or source.lsn) is missing or not a number")),
        ]
    typed = [F.col(f"{image}.{name}").try_cast(spark_type).alias(name)
             for name, spark_type, *_ in plan.attributes]
    checks = [(F.col("_p").isNull() | F.col("_p._corrupt").isNotNull(), F.lit("not a JSON object")),
              *envelope_checks]
    for name, spark_type, required, declared in plan.attributes:
        text = F.col(f"{image}.{name}")
        checks.append((text.isNotNull() & text.try_cast(spark_type).isNull(),
                       F.lit(f"{name} is not a {declared}")))
        if required:
            checks.append((text.isNull(), F.lit(f"{name} is missing")))
    checks.append((event_time.isNull(), F.lit("the event time is missing or not a timestamp")))
    return parsed.select(
        *typed, event_id.alias("event_id"), event_time.alias("event_time"), op.alias("op"),
        log_file.alias("log_file"), log_pos.alias("log_pos"), F.col("source_file"),
        F.to_date(event_time).alias("data_date"), F.col(VALUE), _reasons(checks).alias(REASON))


class FeedBatches:
    """The ``foreachBatch`` function of a feed: classify, quarantine, write, report."""

    def __init__(self, plan: FeedPlan, on_rejected: Callable[[list[dict], int], list[dict]],
                 on_batch: Callable[[BatchOutcome], None]):
        self.plan, self.on_rejected, self.on_batch = plan, on_rejected, on_batch
        self._newest: Any = None  # newest event time admitted by the batches so far
        self._newest_known = False
        self._app_id: str | None = None

    def app_id(self) -> str:
        """The writes' transaction id: the feed and the query's id in its checkpoint (a new
        checkpoint is a new query, whose batch ids start again from 0)."""
        if self._app_id is None:
            fs, path = filesystem(join_path(self.plan.checkpoint, "metadata"))
            with fs.open_input_stream(path) as stream:
                query_id = json.loads(stream.read().decode("utf-8").splitlines()[0])["id"]
            self._app_id = f"{self.plan.name}:{query_id}"
        return self._app_id

    def _watermark(self, delta: DeltaTables, batch_id: int):
        if not self._newest_known:
            if delta.exists(self.plan.events.path):
                self._newest = delta.read(self.plan.events.path).filter(
                    F.col("ingest_batch") < batch_id).agg(F.max("event_time")).first()[0]
            self._newest_known = True
        if self._newest is None:
            return None
        import datetime as dt

        return self._newest - dt.timedelta(seconds=self.plan.watermark_seconds)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.time()
        spark = batch.sparkSession
        delta = DeltaTables(spark)
        plan, events = self.plan, self.plan.events
        app_id = self.app_id()
        if not plan.checks:
            frame = classify(batch, plan).drop(REASON, VALUE)
            self._append(frame.withColumn("ingest_batch", F.lit(batch_id).cast("bigint"))
                         .withColumn("ingested_at", F.current_timestamp()), events, app_id, batch_id, {})
            self.on_batch(BatchOutcome(batch_id, -1, -1, {}, None, None, started, time.time()))
            return
        classified = classify(batch, plan)
        watermark = self._watermark(delta, batch_id)
        first = Window.partitionBy("event_id").orderBy(F.col(REASON).isNotNull(), "source_file", VALUE)
        classified = classified.withColumn(REASON, F.coalesce(REASON, F.when(
            F.row_number().over(first) > 1, F.lit("duplicate: its event id came twice in one batch"))))
        if delta.exists(events.path):
            # an event before the watermark is late whatever it is: the dates before it need no look
            seen = delta.read(events.path).filter(F.col("ingest_batch") < batch_id)
            if watermark is not None:
                seen = seen.filter(F.col("data_date") >= F.lit(watermark.date()))
            seen = seen.select("event_id", F.lit(True).alias("_seen"))
            classified = classified.join(seen, "event_id", "left").withColumn(REASON, F.coalesce(
                REASON, F.when(F.col("_seen"), F.lit("duplicate: an event of this id was admitted "
                                                     "by an earlier batch")))).drop("_seen")
        if watermark is not None:
            bound = f"{watermark:%Y-%m-%d %H:%M:%S}"
            classified = classified.withColumn(REASON, F.coalesce(REASON, F.when(
                F.col("event_time") < F.lit(bound).cast("timestamp_ntz"), F.lit(
                    f"late: its event time is before the watermark {bound} (the newest event "
                    f"time seen less {plan.watermark_seconds} s)"))))
        classified = classified.persist()  # parsed and checked once for the counts and the writes
        held = [classified]
        try:
            ok = F.col(REASON).isNull()
            totals = classified.agg(F.count(F.lit(1)), F.count(F.when(~ok, 1)),
                                    F.max(F.when(ok, F.col("event_time")))).first()
            rows_in, newest = int(totals[0]), totals[2]
            rejected = [r.asDict() for r in classified.filter(~ok).collect()] if totals[1] else []
            admitted = classified.filter(ok).drop(REASON, VALUE) \
                .withColumn("ingest_batch", F.lit(batch_id).cast("bigint")) \
                .withColumn("ingested_at", F.current_timestamp())
            by_stage: dict[str, int] = {}
            for row in rejected:
                stage = row[REASON].split(":")[0] if row[REASON].startswith(("late", "duplicate")) \
                    else "malformed"
                by_stage[stage] = by_stage.get(stage, 0) + 1
            outcome = BatchOutcome(batch_id, rows_in, rows_in - len(rejected), by_stage,
                                   None if newest is None else str(newest),
                                   None if watermark is None else str(watermark), started, 0.0)
            if rejected:
                quarantine = self.on_rejected(rejected, batch_id)
                self._append(delta.rows_frame(plan.quarantine, quarantine), plan.quarantine,
                             app_id, batch_id, {})
            metadata = {"feed": plan.name, "batch_id": batch_id, "rows_in": rows_in,
                        "loaded": outcome.loaded, "rejected": by_stage,
                        "max_event_time": outcome.max_event_time, "watermark": outcome.watermark}
            self._append(admitted, events, app_id, batch_id, metadata)
        finally:
            for frame in held:
                frame.unpersist()
        if newest is not None and (self._newest is None or newest > self._newest):
            self._newest = newest
        outcome.finished = time.time()
        self.on_batch(outcome)

    @staticmethod
    def _append(frame: DataFrame, spec: TableSpec, app_id: str, batch_id: int,
                metadata: dict[str, Any]) -> None:
        frame.select(*spec.column_names).write.format("delta").mode("append") \
            .option("txnAppId", app_id).option("txnVersion", batch_id) \
            .option("userMetadata", _user_metadata(metadata)).save(spec.path)


class FeedQuery:
    """A running feed: its streaming query and what its batches reported."""

    def __init__(self, query, batches: FeedBatches):
        self.query, self.batches = query, batches
        self.outcomes: list[BatchOutcome] = []
        self._lock = threading.Lock()

    def record(self, outcome: BatchOutcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the query to end (an ``available_now`` run ends when it has read
        everything); False when ``timeout`` passed first. Raises the query's error."""
        return bool(self.query.awaitTermination(timeout) if timeout is not None
                    else self.query.awaitTermination() or True)

    def stop(self) -> None:
        self.query.stop()

    @property
    def active(self) -> bool:
        return self.query.isActive

    @property
    def last_progress(self) -> dict | None:
        return self.query.lastProgress


GUARDED_KAFKA = "lakehouse.kafka.GuardedKafkaSource"
"""Spark's Kafka source with the guard a restart needs on Spark 4.1.1: a query killed in the
middle of a micro-batch replays that batch on restart, and Kafka's progress metrics then throw a
NullPointerException before its latest offsets are known (SPARK-55271), so the feed would never
come back (``jvm/GuardedKafkaSource.java``)."""


def _source(spark, plan: FeedPlan) -> DataFrame:
    if plan.transport == "kafka":
        reader = spark.readStream.format(GUARDED_KAFKA if jvm_classes_available() else "kafka")
        for key, value in plan.kafka.items():
            reader = reader.option(key, value)
        frame = reader.load()
        return frame.select(F.col("value").cast("string").alias(VALUE), F.concat(
            F.col("topic"), F.lit("/"), F.col("partition").cast("string"), F.lit("@"),
            F.col("offset").cast("string")).alias("source_file"))
    frame = spark.readStream.format("text").option("maxFilesPerTrigger", plan.max_files_per_batch) \
        .option("pathGlobFilter", "*.jsonl").load(plan.source_path)
    return frame.select(F.col(VALUE), F.col("_metadata.file_name").alias("source_file"))


def start_feed(spark, plan: FeedPlan, on_rejected: Callable[[list[dict], int], list[dict]],
               on_batch: Callable[[BatchOutcome], None], available_now: bool = False) -> FeedQuery:
    """Start the feed's streaming query (``available_now``: read what is there, then stop)."""
    holder: list[FeedQuery] = []

    def reported(outcome: BatchOutcome) -> None:
        holder[0].record(outcome)
        on_batch(outcome)

    batches = FeedBatches(plan, on_rejected, reported)
    writer = _source(spark, plan).writeStream.queryName(plan.name.replace(".", "_")) \
        .option("checkpointLocation", plan.checkpoint).foreachBatch(batches)
    writer = writer.trigger(availableNow=True) if available_now \
        else writer.trigger(processingTime=f"{plan.trigger_seconds} seconds")
    feed = FeedQuery(None, batches)
    holder.append(feed)
    feed.query = writer.start()
    return feed
