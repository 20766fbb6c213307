"""Incremental extracts folded into a zipper table by watermark (6.3.1.1 c), behind
``Engine.increments``.

Folding data date D turns D's extract (the rows changed since the previous one) into the full
state at the end of D, which the zipper's own load then folds in (``Engine.load_zipper``): the
state on the loaded date before D, read from the zipper table, with D's rows applied on top.
Each row is checked against the watermark, the newest update applied before D (of the admitted
rows of the loaded dates before D that are not from the future, and of the versions in effect
on the date before):

* updated after the end of D: from the future, quarantined (``future_update``);
* updated at or before the watermark (a date ``updated_at``: on a day before it): a re-delivery
  when it equals the version in effect (nothing changes), else a late correction, quarantined
  (``late_correction``);
* otherwise an upsert (the key's version becomes the row) or, flagged deleted, a delete (the
  key's version closes); a key the extract does not carry keeps its version.

Everything a fold reads depends only on the set of loaded dates, never on the order they were
loaded in, so folding a date and then every loaded date after it again gives the table that
loading the dates in order gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.engine.quality_batches import FAILED_RULES, LINE
from lakehouse.engine.zipper import row_hash
from lakehouse.zones.tables import ZIPPER_COLUMNS, TableSpec

LATE, FUTURE = "late_correction", "future_update"
"""The rules of the rows a fold quarantines."""
CHANGED, UNCHANGED, DELETED = "changed", "unchanged", "deleted"
_VERDICT, _WAS = "_verdict", "_was_hash"


@dataclass(frozen=True)
class IncrementPlan:
    """How to read a source's incremental extracts (its contract's ``incremental`` block)."""

    keys: tuple[str, ...]
    attributes: tuple[str, ...]  # every attribute, keys included, in the contract's order
    updated_at: str
    dated: bool = False  # updated_at is a date (else a timestamp)
    delete_column: str | None = None
    delete_value: str | None = None


@dataclass(frozen=True)
class FoldOutcome:
    """What folding one date's extract did."""

    data_date: date
    watermark_before: datetime | date | None
    watermark_after: datetime | date | None
    rows_in: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    late: int = 0
    future: int = 0
    file_name: str | None = None

    @property
    def held(self) -> int:
        """Rows quarantined: late corrections and rows from the future."""
        return self.late + self.future


class IncrementOps:
    """Stores incremental extracts and stages the full state each one gives, on one session."""

    def __init__(self, spark, delta):
        self.spark, self.delta = spark, delta

    def store(self, spec: TableSpec, staged_path: str, data_date: date, file_name: str,
              metadata: dict[str, Any]) -> None:
        """Replace ``data_date``'s partition of the increments table ``spec`` with the staged
        extract's rows (a rerun of the date replaces what its previous load kept)."""
        self.delta.ensure(spec)
        staged = self.spark.read.parquet(staged_path)
        types = spec.column_types
        line = F.col(LINE) if LINE in staged.columns else F.lit(None)
        frame = staged.select(
            *[F.col(c.name).cast(c.spark_type).alias(c.name) for c in spec.columns
              if c.name in staged.columns and c.name not in ("delivered_line", "delivered_file",
                                                             "data_date")],
            line.cast(types["delivered_line"]).alias("delivered_line"),
            F.lit(file_name).cast("string").alias("delivered_file"),
            F.lit(data_date.isoformat()).cast("date").alias("data_date"))
        self.delta.replace_where(spec, frame, f"data_date = DATE'{data_date.isoformat()}'", metadata)

    def stage_fold(self, zipper: TableSpec, increments: TableSpec, plan: IncrementPlan,
                   data_date: date, earlier: list[date], state_path: str, held_path: str
                   ) -> FoldOutcome:
        """Write to ``state_path`` (Parquet) the full state at the end of ``data_date`` that its
        extract gives over the zipper table's state on the last of the ``earlier`` loaded
        dates, and to ``held_path`` the rows to quarantine (with their rule in the
        ``_failed_rules`` column, as a quality split writes them; only when there are some)."""
        keys, attributes = list(plan.keys), list(plan.attributes)
        prev = max(earlier) if earlier else None
        state = self._state_on(zipper, prev)
        watermark = self._watermark(increments, plan, earlier, state)
        extract = self.delta.read(increments.path).filter(F.col("data_date") == F.lit(data_date))
        hashed = [c.name for c in zipper.columns if c.name not in zipper.keys
                  and c.name not in ZIPPER_COLUMNS]
        updated = F.col(plan.updated_at)
        deleted = (F.col(plan.delete_column).cast("string") == F.lit(plan.delete_value)
                   if plan.delete_column else F.lit(False))
        was = F.col(_WAS)
        late = _not_after(updated, watermark, plan.dated) if watermark is not None else F.lit(False)
        verdict = (
            F.when(_after_day(updated, F.lit(data_date.isoformat()).cast("date"), plan.dated),
                   F.lit(FUTURE))
            .when(late & F.when(deleted, was.isNotNull())
                  .otherwise(~was.eqNullSafe(F.col("_hash"))), F.lit(LATE))
            .when(deleted, F.when(was.isNotNull(), F.lit(DELETED)).otherwise(F.lit(UNCHANGED)))
            .when(was.eqNullSafe(F.col("_hash")), F.lit(UNCHANGED))
            .otherwise(F.lit(CHANGED)))
        classified = (
            extract.withColumn("_hash", row_hash(hashed, zipper.column_types))
            .withColumn("_deleted", deleted)
            .join(state.select(*keys, F.col("row_hash").alias(_WAS)), keys, "left")
            .withColumn(_VERDICT, verdict)
            .persist(StorageLevel.MEMORY_AND_DISK))
        try:
            outcome = self._outcome(classified, plan, data_date, watermark)
            if outcome.held:
                classified.filter(F.col(_VERDICT).isin(LATE, FUTURE)).select(
                    *attributes, F.col("delivered_line").alias(LINE),
                    F.array(F.col(_VERDICT)).alias(FAILED_RULES),
                ).write.mode("overwrite").parquet(held_path)
            applied = classified.filter(F.col(_VERDICT).isin(CHANGED, UNCHANGED, DELETED))
            upserts = applied.filter(~F.col("_deleted")).select(*attributes)
            state.select(*attributes).join(applied.select(*keys), keys, "left_anti") \
                .unionByName(upserts).write.mode("overwrite").parquet(state_path)
        finally:
            classified.unpersist()
        return outcome

    def _state_on(self, zipper: TableSpec, day: date | None) -> DataFrame:
        """The zipper table's versions in effect on ``day`` (none when ``day`` is None)."""
        if day is None or not self.delta.exists(zipper.path):
            ddl = ", ".join(f"`{c.name}` {c.spark_type}" for c in zipper.columns)
            return self.spark.createDataFrame([], ddl)
        table = self.delta.read(zipper.path)
        on = F.lit(day.isoformat()).cast("date")
        return table.filter((F.col("start_dt") <= on) & (F.col("end_dt") > on))

    def _watermark(self, increments: TableSpec, plan: IncrementPlan, earlier: list[date],
                   state: DataFrame) -> datetime | date | None:
        """The newest update applied before the date: of the earlier loaded dates' rows that
        are not from the future (a late row is older than it, a re-delivery equal to it), and of
        the versions in effect (a table loaded from full extracts before has no increments)."""
        if not earlier:
            return None
        rows = self.delta.read(increments.path).filter(F.col("data_date").isin(earlier))
        rows = rows.filter(~_after_day(F.col(plan.updated_at), F.col("data_date"), plan.dated))
        both = rows.select(plan.updated_at).unionByName(state.select(plan.updated_at))
        return both.agg(F.max(plan.updated_at)).first()[0]

    @staticmethod
    def _outcome(classified: DataFrame, plan: IncrementPlan, data_date: date,
                 watermark: datetime | date | None) -> FoldOutcome:
        verdict = F.col(_VERDICT)

        def count(kind: str) -> SparkColumn:
            return F.count(F.when(verdict == kind, True)).alias(kind)

        row = classified.agg(
            F.count(F.lit(1)).alias("rows"), *[count(k) for k in (CHANGED, UNCHANGED, DELETED,
                                                                  LATE, FUTURE)],
            F.max(F.when(verdict != FUTURE, F.col(plan.updated_at))).alias("newest"),
            F.first("delivered_file", ignorenulls=True).alias("file")).first()
        newest = row["newest"]
        after = max(v for v in (watermark, newest) if v is not None) if (
            watermark is not None or newest is not None) else None
        return FoldOutcome(data_date, watermark, after, row["rows"], row[CHANGED], row[UNCHANGED],
                           row[DELETED], row[LATE], row[FUTURE], row["file"])


def _after_day(updated: SparkColumn, day: SparkColumn, dated: bool) -> SparkColumn:
    """Whether ``updated`` is after the end of data date ``day`` (wall clock)."""
    if dated:
        return updated > day
    return updated >= F.date_add(day, 1).cast("timestamp_ntz")


def _not_after(updated: SparkColumn, watermark: datetime | date, dated: bool) -> SparkColumn:
    """Whether ``updated`` is covered by the watermark: at or before it, or, for a date, on a
    day before it (a date watermark's own day may still bring changes made after the extract
    that carried it was cut, so that day is applied, not held)."""
    if dated:
        return updated < F.lit(watermark.isoformat()).cast("date")
    return updated <= F.lit(watermark.isoformat(sep=" ")).cast("timestamp_ntz")


def as_timestamp(value: datetime | date | None) -> datetime | None:
    """A watermark as the wall-clock timestamp governance records keep (a date: its midnight)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time())
