"""Zipper versions joined version by version (issue #20): a row pointing at another dimension's
versions splits where the other one changes, periods cut to their intersection, empty
intersections dropped. Real Spark; the expected rows are worked out by hand."""

from __future__ import annotations

from datetime import date

from pyspark.sql import functions as F

from lakehouse.engine.version_overlap import overlapping_versions

OPEN = date(9999, 12, 31)


def rows(frame, *columns) -> list[tuple]:
    return sorted(tuple(r[c] for c in columns) for r in frame.collect())


def test_a_row_splits_where_the_version_it_points_at_changes(engine):
    spark = engine.spark
    accounts = spark.createDataFrame([
        (10, 1, date(2010, 1, 1), OPEN),
        (11, 2, date(2011, 1, 1), date(2011, 6, 1)),  # ends before customer 2's second version
        (12, 3, date(2012, 1, 1), OPEN),  # customer 3 has no versions at all
    ], "account int, customer int, start_dt date, end_dt date")
    customers = spark.createDataFrame([
        (1, "v1", date(2009, 5, 1), date(2012, 3, 4)),
        (1, "v2", date(2012, 3, 4), OPEN),
        (2, "w1", date(2010, 1, 1), date(2011, 6, 1)),
        (2, "w2", date(2011, 6, 1), OPEN),  # touches account 11's end only: empty, dropped
    ], "id int, version string, start_dt date, end_dt date")
    on = F.col("l.customer") == F.col("r.id")

    inner = overlapping_versions(accounts, customers, on, ["version"])
    assert inner.columns == ["account", "customer", "start_dt", "end_dt", "version"]
    assert rows(inner, "account", "version", "start_dt", "end_dt") == [
        (10, "v1", date(2010, 1, 1), date(2012, 3, 4)),
        (10, "v2", date(2012, 3, 4), OPEN),
        (11, "w1", date(2011, 1, 1), date(2011, 6, 1)),
    ]

    kept = overlapping_versions(accounts, customers, on, ["version"], how="left")
    assert (12, None, date(2012, 1, 1), OPEN) in rows(kept, "account", "version", "start_dt",
                                                      "end_dt")
    assert len(kept.collect()) == 4


def test_periods_under_other_column_names(engine):
    spark = engine.spark
    securities = spark.createDataFrame([("S", 7, date(2000, 1, 1), date(2005, 1, 1))],
                                       "symbol string, company int, eff date, till date")
    companies = spark.createDataFrame([
        (7, "A", date(1999, 1, 1), date(2001, 1, 1)),
        (7, "B", date(2001, 1, 1), date(2004, 1, 1)),
        (7, "C", date(2004, 1, 1), OPEN),
    ], "k int, name string, start_dt date, end_dt date")
    joined = overlapping_versions(securities, companies, F.col("l.company") == F.col("r.k"),
                                  ["name"], left_period=("eff", "till"))
    assert rows(joined, "name", "eff", "till") == [
        ("A", date(2000, 1, 1), date(2001, 1, 1)),
        ("B", date(2001, 1, 1), date(2004, 1, 1)),
        ("C", date(2004, 1, 1), date(2005, 1, 1)),
    ]
