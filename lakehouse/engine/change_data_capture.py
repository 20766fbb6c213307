"""Change-data-capture rows applied to a zipper (SCD type 2) table, with surrogate keys that stay
stable across batches and, optionally, effective timestamps.

Each change row carries an operation flag (insert, update, delete) and a sequence number that
orders the changes to one key. Applying a batch of changes:

* the open version of every changed key is closed when the key's first change takes effect;
* every insert or update opens a version, closed by the key's next change (or left open,
  ``end_dt`` 9999-12-31); a delete opens nothing;
* several changes at the same instant keep only the last one by sequence (a zero-length version
  is never written);
* with ``partial_updates`` a null value in an update keeps the key's previous value (feeds that
  send only the changed fields);
* a new version gets the next surrogate key after the largest one in the table, numbered in key
  and sequence order, so a rerun of the same batches yields the same keys; existing versions keep
  theirs.

With an effective timestamp column the versions carry ``start_ts`` / ``end_ts`` besides the
zipper's ``start_dt`` / ``end_dt`` (their dates); without one every change takes effect on the
data date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.zones.tables import OPEN_END_DATE

OPEN_END_TIMESTAMP = f"{OPEN_END_DATE} 00:00:00"


@dataclass(frozen=True)
class ChangeSpec:
    """How to read the change rows (the contract's ``delivery.cdc``) and what to keep."""

    keys: tuple[str, ...]
    operation_column: str
    sequence_column: str
    insert: str = "I"
    update: str = "U"
    delete: str | None = "D"
    effective_column: str | None = None
    surrogate_key: str | None = None
    partial_updates: bool = False

    @classmethod
    def of(cls, contract, surrogate_key: str | None = None, partial_updates: bool = False
           ) -> "ChangeSpec":
        cdc = contract.delivery.cdc
        return cls(tuple(contract.keys), cdc.operation_column, cdc.sequence_column, cdc.insert,
                   cdc.update, cdc.delete, cdc.effective_column, surrogate_key, partial_updates)


def apply_changes(current: DataFrame | None, changes: DataFrame, spec: ChangeSpec,
                  data_date: date) -> DataFrame:
    """The zipper table after ``changes``: ``current`` (None for the first batch) with the changed
    keys' open versions closed and the new versions added. Payload = every column of
    ``changes`` but the operation flag; the sequence column is kept."""
    keys = list(spec.keys)
    payload = [c for c in changes.columns if c not in keys and c != spec.operation_column]
    timed = spec.effective_column is not None
    at = (F.col(spec.effective_column).cast("timestamp") if timed
          else F.lit(data_date).cast("timestamp"))
    staged = changes.select(*keys, *payload, F.col(spec.operation_column).alias("_op"),
                            at.alias("_at"), F.lit(1).alias("_new"))
    open_end = F.lit(OPEN_END_DATE).cast("date")
    if current is None:
        previous = None
        untouched = None
    else:
        is_open = F.col("end_dt") == open_end
        changed = staged.select(*keys).distinct()
        open_changed = current.filter(is_open).join(changed, keys, "left_semi")
        untouched = current.filter(~is_open).unionByName(
            current.filter(is_open).join(changed, keys, "left_anti"))
        previous = open_changed
    versions = staged
    if previous is not None and spec.partial_updates:
        # the open version joins the key's changes as its first point, to carry values forward
        before = previous.select(*keys, *payload, F.lit(None).cast("string").alias("_op"),
                                 (F.col("start_ts") if timed else F.col("start_dt").cast("timestamp"))
                                 .alias("_at"), F.lit(0).alias("_new"))
        versions = versions.unionByName(before)
    if spec.partial_updates:
        carried = Window.partitionBy(*keys).orderBy("_new", "_at", spec.sequence_column) \
            .rowsBetween(Window.unboundedPreceding, 0)
        versions = versions.select(
            *keys, *[F.last(c, ignorenulls=True).over(carried).alias(c) if c != spec.sequence_column
                     else F.col(c) for c in payload], "_op", "_at", "_new")
    versions = versions.filter("_new = 1")
    order = Window.partitionBy(*keys).orderBy("_at", spec.sequence_column)
    versions = versions.withColumn("_end", F.lead("_at").over(order))
    live = F.col("_op") != F.lit(spec.delete) if spec.delete is not None else F.lit(True)
    versions = versions.filter(live & (F.col("_end").isNull() | (F.col("_end") > F.col("_at"))))
    end_at = F.coalesce(F.col("_end"), F.lit(OPEN_END_TIMESTAMP).cast("timestamp"))
    opened = versions.select(
        *keys, *payload,
        *([F.col("_at").alias("start_ts"), end_at.alias("end_ts")] if timed else []),
        F.to_date("_at").alias("start_dt"),
        F.when(F.col("_end").isNull(), open_end).otherwise(F.to_date("_end")).alias("end_dt"))
    if spec.surrogate_key:
        base = (F.lit(0) if current is None else
                F.lit(current.agg(F.max(spec.surrogate_key)).first()[0] or 0))
        numbered = Window.orderBy(*keys, "start_dt", *(["start_ts"] if timed else []),
                                  spec.sequence_column)
        opened = opened.withColumn(spec.surrogate_key,
                                   (base + F.row_number().over(numbered)).cast("long"))
    if current is None:
        return opened
    first = staged.groupBy(*keys).agg(F.min("_at").alias("_first"))
    closed = previous.join(first, keys).withColumn("end_dt", F.to_date("_first"))
    if timed:
        closed = closed.withColumn("end_ts", F.col("_first"))
    closed = closed.drop("_first")
    columns = current.columns
    return (untouched.select(*columns).unionByName(closed.select(*columns))
            .unionByName(opened.select(*columns)))
