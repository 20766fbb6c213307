"""Zipper (SCD type 2) loads that give the same table whatever order the data dates arrive in.

A zipper table is the run-length compression of each key's state over the loaded data dates:
a row ``[start_dt, end_dt)`` holds one version; open rows end at 9999-12-31. Loading date ``d``
only changes the rows whose interval touches the window between the loaded dates around
``d`` (``prev`` < d < ``next``). Those rows are turned back into change points, the points of
``d`` are replaced by the new extract, and the points are compressed again (``rebuild``).
A load after every loaded date needs less: ``forward_changes`` compares keys and hashes with
the open rows and yields only the rows to close and the versions to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.zones.tables import OPEN_END_DATE

_VALUE, _ABSENT, _BOUNDARY = 0, 1, 2  # point kinds; at the same date a value wins


@dataclass(frozen=True)
class ZipperWindow:
    """The loaded dates around the data date being loaded."""

    data_date: date
    prev: date | None
    next: date | None

    @classmethod
    def around(cls, data_date: date, loaded_dates: list[date]) -> "ZipperWindow":
        earlier = [d for d in loaded_dates if d < data_date]
        later = [d for d in loaded_dates if d > data_date]
        return cls(data_date, max(earlier) if earlier else None, min(later) if later else None)

    def predicate(self) -> str | None:
        """The rows of the table this load rewrites (None: the whole table)."""
        parts = []
        if self.prev is not None:
            parts.append(f"end_dt > DATE'{self.prev.isoformat()}'")
        if self.next is not None:
            parts.append(f"start_dt <= DATE'{self.next.isoformat()}'")
        return " AND ".join(parts) or None


def row_hash(columns: list[str], types: dict[str, str]) -> Column:
    """A 64-bit hash of the attribute values that tells a null from any value in every column.

    xxhash64 on the typed values (no casts to text) keeps the daily comparison of a whole
    dimension cheap; a changed row goes unnoticed with probability 2^-64.
    """
    parts = []
    for name in columns:
        col = F.col(name)
        if types[name] == "timestamp":  # an instant: hash it independent of the time zone
            col = F.unix_micros(col)
        parts += [col, col.isNull()]
    return F.xxhash64(*parts)


def rebuild(
    current: DataFrame,
    extract: DataFrame,
    keys: list[str],
    attributes: list[str],
    window: ZipperWindow,
    frozen: DataFrame | None = None,
) -> DataFrame:
    """The rows that replace ``current.filter(window.predicate())`` after loading the extract.

    ``frozen`` holds keys whose row was quarantined on this date: they keep the versions they
    had, as if the date had not been delivered for them.
    """
    d = F.lit(window.data_date.isoformat()).cast("date")
    open_end = F.lit(OPEN_END_DATE).cast("date")
    affected = current.filter(window.predicate()) if window.predicate() else current
    payload = [*attributes, "row_hash"]
    kept: DataFrame | None = None
    if frozen is not None:
        kept = affected.join(frozen, keys, "left_semi")
        affected = affected.join(frozen, keys, "left_anti")
        extract = extract.join(frozen, keys, "left_anti")

    def points(frame: DataFrame, at: Column, kind: int, with_values: bool = True) -> DataFrame:
        cols = [F.col(k) for k in keys] + [at.alias("pt_date"), F.lit(kind).alias("pt_kind")]
        if with_values:
            cols += [F.col(c) for c in payload]
        else:
            cols += [F.lit(None).cast(current.schema[c].dataType).alias(c) for c in payload]
        return frame.select(*cols)

    starts = points(affected.filter(F.col("start_dt") != d), F.col("start_dt"), _VALUE)
    ends = points(
        affected.filter((F.col("end_dt") != open_end) & (F.col("end_dt") != d)),
        F.col("end_dt"),
        _ABSENT,
        with_values=False,
    )
    if window.next is not None:
        n = F.lit(window.next.isoformat()).cast("date")
        # Ends inside the window are absences; ends beyond it meet rows we do not rewrite.
        ends = ends.withColumn(
            "pt_kind", F.when(F.col("pt_date") <= n, F.lit(_ABSENT)).otherwise(F.lit(_BOUNDARY))
        )
    new_points = points(extract, d, _VALUE)
    affected_keys = affected.select(*keys).distinct()
    gone_at_d = points(affected_keys.join(extract.select(*keys), keys, "left_anti"), d, _ABSENT,
                       False)
    all_points = starts.unionByName(ends).unionByName(new_points).unionByName(gone_at_d)

    if window.next is not None:
        # State at the next loaded date stays as it was: the row covering it, or absent.
        covering = affected.filter((F.col("start_dt") <= n) & (F.col("end_dt") > n))
        next_values = points(covering.filter(F.col("start_dt") < n), n, _VALUE)
        window_keys = affected_keys.union(extract.select(*keys)).distinct()
        absent_keys = window_keys.join(covering.select(*keys), keys, "left_anti")
        all_points = all_points.unionByName(next_values).unionByName(
            points(absent_keys, n, _ABSENT, False)
        )
    rebuilt = _compress(all_points, keys, payload)
    if kept is not None:
        rebuilt = rebuilt.unionByName(kept.select(*rebuilt.columns))
    return rebuilt


def _compress(points: DataFrame, keys: list[str], payload: list[str]) -> DataFrame:
    by_date = Window.partitionBy(*keys, "pt_date").orderBy("pt_kind")
    in_order = Window.partitionBy(*keys).orderBy("pt_date")
    state = (
        F.when(F.col("pt_kind") == _VALUE, F.col("row_hash").cast("string"))
        .when(F.col("pt_kind") == _ABSENT, F.lit("absent"))
        .otherwise(F.concat(F.lit("boundary@"), F.col("pt_date").cast("string")))
    )
    changes = (
        points.repartition(*keys)  # one shuffle serves both windows
        .withColumn("_rank", F.row_number().over(by_date))
        .filter("_rank = 1")
        .withColumn("_state", state)
        .withColumn("_prev", F.lag("_state").over(in_order))
        .filter(F.col("_prev").isNull() | (F.col("_prev") != F.col("_state")))
        # a leading absence carries no information
        .filter(~((F.col("_prev").isNull()) & (F.col("pt_kind") != _VALUE)))
    )
    return (
        changes.withColumn("_next", F.lead("pt_date").over(in_order))
        .filter(F.col("pt_kind") == _VALUE)
        .select(
            *keys,
            *payload,
            F.col("pt_date").alias("start_dt"),
            F.coalesce(F.col("_next"), F.lit(OPEN_END_DATE).cast("date")).alias("end_dt"),
        )
    )


def forward_changes(
    current: DataFrame,
    extract: DataFrame,
    keys: list[str],
    attributes: list[str],
    data_date: date,
    hashed: Column,
    frozen: DataFrame | None = None,
) -> DataFrame:
    """For a load after every loaded date: the open rows to close and the versions to open.

    Keys and hashes alone are compared, so the wide rows are read again only for the few keys
    that changed (``hashed`` computes their row hash). Rows to close carry their key in
    ``_close_<key>`` columns (the merge condition); rows to open carry nulls there.
    """
    open_rows = current.filter(F.col("end_dt") == F.lit(OPEN_END_DATE).cast("date"))
    open_rows = open_rows.select(*keys, F.col("row_hash").alias("_open_hash"))
    if frozen is not None:
        open_rows = open_rows.join(frozen, keys, "left_anti")
        extract = extract.join(frozen, keys, "left_anti")
    delivered = extract.select(*keys, hashed.alias("_new_hash"))
    differences = (
        open_rows.join(delivered, keys, "full_outer")
        .filter(~F.col("_open_hash").eqNullSafe(F.col("_new_hash")))
        .select(*keys, F.col("_open_hash").isNotNull().alias("_close"),
                F.col("_new_hash").isNotNull().alias("_open"))
    )
    to_close = differences.filter("_close").select(
        *[F.col(k).alias(f"_close_{k}") for k in keys],
        *[F.lit(None).cast(current.schema[c].dataType).alias(c) for c in
          [*keys, *attributes, "row_hash", "start_dt", "end_dt"]])
    opening = F.broadcast(differences.filter("_open").select(*keys))
    to_open = extract.join(opening, keys, "left_semi").select(
        *[F.lit(None).cast(current.schema[k].dataType).alias(f"_close_{k}") for k in keys],
        *keys, *attributes, hashed.alias("row_hash"),
        F.lit(data_date.isoformat()).cast("date").alias("start_dt"),
        F.lit(OPEN_END_DATE).cast("date").alias("end_dt"))
    return to_close.unionByName(to_open)
