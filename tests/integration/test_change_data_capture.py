"""Change-data-capture rows applied to a zipper table (issue #20): insert/update/delete flags in
sequence order, effective timestamps, partial updates and surrogate keys stable across batches.
Real Spark; the expected tables are worked out by hand from the rows."""

from __future__ import annotations

from datetime import date, datetime

from lakehouse.engine.change_data_capture import ChangeSpec, apply_changes

B1, B2 = date(2017, 7, 7), date(2017, 7, 8)
OPEN = date(9999, 12, 31)
COLUMNS = "op string, seq int, id int, name string, tier int, at timestamp"


def ts(day: int, hour: int) -> datetime:
    return datetime(2017, 7, day, hour)


def rows(frame, *columns) -> list[tuple]:
    return sorted((tuple(r[c] for c in columns) for r in frame.collect()), key=repr)


def test_changes_open_and_close_versions_with_stable_surrogate_keys(engine):
    spark = engine.spark
    spec = ChangeSpec(("id",), "op", "seq", effective_column="at", surrogate_key="sk")
    first = spark.createDataFrame([
        ("I", 1, 1, "ann", 1, ts(6, 9)),
        ("I", 2, 2, "bob", 2, ts(6, 10)),
        ("U", 3, 1, "anne", 1, ts(6, 12)),
        ("U", 4, 1, "anna", 1, ts(6, 12)),  # same instant: only the later sequence is kept
    ], COLUMNS)
    table = apply_changes(None, first, spec, B1).localCheckpoint()
    never = spark.sql("SELECT TIMESTAMP'9999-12-31 00:00:00'").first()[0]  # in the session's zone
    assert rows(table, "sk", "id", "name", "start_ts", "end_ts", "end_dt") == [
        (1, 1, "ann", ts(6, 9), ts(6, 12), date(2017, 7, 6)),
        (2, 1, "anna", ts(6, 12), never, OPEN),
        (3, 2, "bob", ts(6, 10), never, OPEN),
    ]
    second = spark.createDataFrame([
        ("U", 5, 2, "bobby", 3, ts(7, 8)),
        ("D", 6, 1, None, None, ts(7, 9)),
        ("I", 7, 3, "cy", 1, ts(7, 10)),
    ], COLUMNS)
    after = apply_changes(table, second, spec, B2)
    assert rows(after, "sk", "id", "name", "tier", "end_ts") == [
        (1, 1, "ann", 1, ts(6, 12)),
        (2, 1, "anna", 1, ts(7, 9)),  # closed by the delete, nothing opened
        (3, 2, "bob", 2, ts(7, 8)),
        (4, 2, "bobby", 3, never),  # keys go on from the largest one
        (5, 3, "cy", 1, never),
    ]


def test_partial_updates_keep_the_values_an_update_leaves_out(engine):
    spark = engine.spark
    spec = ChangeSpec(("id",), "op", "seq", partial_updates=True)
    schema = "op string, seq int, id int, name string, tier int"
    table = apply_changes(None, spark.createDataFrame([("I", 1, 1, "ann", 1)], schema), spec, B1)
    table = table.localCheckpoint()
    after = apply_changes(table, spark.createDataFrame([("U", 2, 1, None, 3)], schema), spec, B2)
    assert rows(after, "id", "name", "tier", "start_dt", "end_dt") == [
        (1, "ann", 1, B1, B2),
        (1, "ann", 3, B2, OPEN),  # the name the update left out is carried forward
    ]
    # without partial updates the null is the new value
    plain = ChangeSpec(("id",), "op", "seq")
    after = apply_changes(table, spark.createDataFrame([("U", 2, 1, None, 3)], schema), plain, B2)
    assert (1, None, 3, B2, OPEN) in rows(after, "id", "name", "tier", "start_dt", "end_dt")
