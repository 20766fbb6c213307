"""Two zipper (SCD type 2) tables joined version by version: each pair of versions that were valid
at the same time gives one row, valid for the time both were.

A dimension that points at another dimension's version (an account at its customer's version, a
security at its company's) must split whenever the other one changes, or a row ends up pointing
at a version that had already ended. Joining on the business key plus overlapping validity and
cutting the period to the intersection does that split:

    account  [2010-01-01, 9999-12-31)   customer v1 [2009-05-01, 2012-03-04)
                                        customer v2 [2012-03-04, 9999-12-31)
    ->       [2010-01-01, 2012-03-04) with v1, [2012-03-04, 9999-12-31) with v2

Periods are half-open: ``end`` is the next version's ``start`` (the zipper's convention), so a
row whose intersection is empty (start = end) is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def overlapping_versions(left: DataFrame, right: DataFrame, on: Column,
                         right_columns: Sequence[str], *,
                         left_period: tuple[str, str] = ("start_dt", "end_dt"),
                         right_period: tuple[str, str] = ("start_dt", "end_dt"),
                         how: str = "inner") -> DataFrame:
    """``left``'s rows cut to the periods they share with ``right``'s versions matched by
    ``on`` (a condition over the aliases ``l`` and ``r``), with ``right_columns`` added.
    ``left_period`` columns are replaced by the intersection. With ``how="left"`` a left row
    that overlaps no right version is kept whole, its right columns null."""
    l_start, l_end = left_period
    r_start, r_end = right_period
    overlap = (F.col(f"l.{l_start}") < F.col(f"r.{r_end}")) & \
              (F.col(f"r.{r_start}") < F.col(f"l.{l_end}"))
    joined = left.alias("l").join(right.alias("r"), on & overlap, how)
    matched = F.col(f"r.{r_start}").isNotNull()
    start = F.when(matched, F.greatest(f"l.{l_start}", f"r.{r_start}")).otherwise(
        F.col(f"l.{l_start}"))
    end = F.when(matched, F.least(f"l.{l_end}", f"r.{r_end}")).otherwise(F.col(f"l.{l_end}"))
    columns = [start.alias(c) if c == l_start else end.alias(c) if c == l_end else F.col(f"l.{c}")
               for c in left.columns]
    return joined.select(*columns, *[F.col(f"r.{c}").alias(c) for c in right_columns]) \
        .filter(F.col(l_start) < F.col(l_end))
