"""Change events maintaining a zipper table (6.3.1.1 c) against the plain-Python oracle: the
dates' events applied in any order give the table the oracle computes from the states they
describe, which is the table applying them in order gives."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.realtime.change_zipper import fold_changes
from lakehouse.zones.tables import Column, TableSpec, zipper_columns
from tests.zipper_oracle import OPEN_END, expected_zipper, invariant_errors, states_from_changes, to_rows

KEYS = [f"k{i}" for i in range(4)]
DATES = [date(2024, 3, 1) + timedelta(days=i) for i in range(4)]
VALUES = st.tuples(st.sampled_from([None, "a", "b"]), st.sampled_from([None, 0, 1]))
ATTRIBUTES = [("id", "string"), ("v", "string"), ("n", "bigint")]


class ChangeZipper:
    """A fresh zipper table, the change log its events are kept in, and the applied dates."""

    def __init__(self, engine):
        self.engine = engine
        self.dir = Path(tempfile.mkdtemp(prefix="change_zipper_"))
        self.spec = TableSpec(
            name=f"cz_{uuid.uuid4().hex[:12]}", zone="standard", layer="near_source",
            path=str(self.dir / "table"),
            columns=(Column("id", "string", nullable=False), Column("v", "string"),
                     Column("n", "bigint"), *zipper_columns()),
            partition_by=("end_dt",), load_type="zipper", keys=("id",))
        self.log = TableSpec(
            name=f"cz_log_{uuid.uuid4().hex[:12]}", zone="realtime", layer=None,
            path=str(self.dir / "events"),
            columns=(Column("id", "string"), Column("v", "string"), Column("n", "bigint"),
                     Column("op", "string"), Column("event_time", "timestamp_ntz"),
                     Column("log_file", "string"), Column("log_pos", "bigint"),
                     Column("data_date", "date")),
            partition_by=("data_date",))
        self.applied: list[date] = []
        self.changes: dict[date, list] = {}

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def apply(self, day: date, changes: list) -> None:
        """Land ``day``'s change events (pos, op, key, values) and apply the date."""
        self.engine.append_rows(self.log, [
            {"id": key, "v": None if values is None else values[0],
             "n": None if values is None else values[1], "op": op,
             "event_time": datetime.combine(day, datetime.min.time()) + timedelta(seconds=pos),
             "log_file": "binlog.000001", "log_pos": pos, "data_date": day}
            for pos, op, key, values in changes])
        self.changes[day] = [(pos, op, (key,), values) for pos, op, key, values in changes]

        def fold(staged: str, folded: date) -> None:
            self.engine.load_zipper(self.spec, staged, folded, {"run_id": "change-zipper"},
                                    loaded_dates=sorted(self.applied))
            self.applied = sorted({*self.applied, folded})

        fold_changes(self.engine, self.log.path, ["id"], ATTRIBUTES, day, self.applied,
                     str(self.dir / "staging"), fold)

    def check(self) -> list:
        rows = to_rows(self.engine.rows(self.spec), ["id"], ["v", "n"])
        states = states_from_changes(self.changes)
        expected = expected_zipper(states)
        problems = invariant_errors(rows, states)
        if set(rows) != expected or problems:
            pytest.fail(f"change events {self.changes}\ntable {sorted(rows, key=str)}\n"
                        f"expected {sorted(expected, key=str)}\nproblems {problems}")
        return rows


@st.composite
def change_days(draw):
    """Change events on 2-4 dates, log positions increasing with the date, and an order to
    apply the dates in."""
    days = sorted(draw(st.lists(st.sampled_from(DATES), min_size=2, max_size=4, unique=True)))
    pos, out = 0, {}
    for day in days:
        events = []
        for _ in range(draw(st.integers(0, 5))):
            pos += 1
            op = draw(st.sampled_from(["c", "u", "d", "r"]))
            events.append((pos, op, draw(st.sampled_from(KEYS)), None if op == "d" else draw(VALUES)))
        out[day] = events
    return out, draw(st.permutations(days))


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("ZIPPER_PROPERTY_EXAMPLES", "6")), deadline=None,
          database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=change_days())
def test_change_events_applied_in_any_date_order_match_the_oracle(engine, case):
    changes, order = case
    z = ChangeZipper(engine)
    try:
        for day in order:
            z.apply(day, changes[day])
            z.check()
    finally:
        z.close()


@pytest.mark.slow
def test_out_of_order_change_events_equal_in_order_and_delete_closes_the_row(engine):
    d1, d2, d3 = DATES[:3]
    changes = {
        d1: [(1, "r", "k0", ("a", 1)), (2, "r", "k1", ("a", 0)), (3, "c", "k2", ("x", None))],
        d2: [(4, "u", "k0", ("b", 1)), (5, "d", "k1", None), (6, "u", "k0", ("c", 1))],
        d3: [(7, "c", "k1", ("a", 0)), (8, "u", "k2", ("x", None))],
    }
    backfilled = ChangeZipper(engine)
    try:
        for day in (d3, d1, d2):  # the latest date first, then a backfill before and between
            backfilled.apply(day, changes[day])
        rows = backfilled.check()
    finally:
        backfilled.close()
    by_key = {}
    for (key,), values, start, end in sorted(rows, key=lambda r: (r[0], r[2])):
        by_key.setdefault(key, []).append((values, start, end))
    assert by_key == {
        "k0": [(("a", 1), d1, d2), (("c", 1), d2, OPEN_END)],  # two updates of d2: the last wins
        "k1": [(("a", 0), d1, d2), (("a", 0), d3, OPEN_END)],  # the delete closed it on d2
        "k2": [(("x", None), d1, OPEN_END)],                  # an update changing nothing
    }
