"""Zipper loads against a plain-Python oracle: any order of dates, reruns and corrections.

After every load the table must equal the run-length compression of each key's state over the
loaded data dates, recomputed from scratch from the latest extract of each date.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.zones.tables import Column, TableSpec, zipper_columns
from tests.zipper_oracle import OPEN_END, expected_zipper, invariant_errors, to_rows

KEYS = [f"k{i}" for i in range(6)]
ATTRIBUTES = ["v", "n"]
DATES = [date(2024, 3, 1) + timedelta(days=i) for i in range(8)]
D1, D2, D3, D4, D5 = DATES[:5]
VALUES = st.tuples(st.sampled_from([None, "a", "b"]), st.sampled_from([None, 0, 1]))
META = {"run_id": "zipper-property"}


class Zipper:
    """One fresh zipper table, the extracts loaded into it so far, and the checks after a load."""

    def __init__(self, engine):
        self.engine = engine
        self.dir = Path(tempfile.mkdtemp(prefix="zipper_prop_"))
        self.spec = TableSpec(
            name=f"zp_{uuid.uuid4().hex[:12]}", zone="standard", layer="near_source",
            path=str(self.dir / "table"),
            columns=(Column("id", "string", nullable=False), Column("v", "string"),
                     Column("n", "bigint"), *zipper_columns()),
            partition_by=("end_dt",), load_type="zipper", keys=("id",))
        self.latest: dict[date, dict[tuple, tuple]] = {}
        self.history: list[str] = []
        self._staged = 0

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def load(self, data_date: date, extract: dict[str, tuple], frozen: list[str] | None = None,
             expect: dict[str, tuple] | None = None):
        """Load ``extract`` for ``data_date``; the oracle takes ``expect`` as that date's state
        when given (frozen keys), else the extract."""
        self._staged += 1
        path = str(self.dir / f"extract_{self._staged}.parquet")
        ids = sorted(extract)
        pq.write_table(pa.table({
            "id": pa.array(ids, pa.string()),
            "v": pa.array([extract[k][0] for k in ids], pa.string()),
            "n": pa.array([extract[k][1] for k in ids], pa.int64()),
        }), path)
        self.history.append(f"load {data_date} {dict(sorted(extract.items()))}"
                            + (f" frozen={frozen}" if frozen else ""))
        # the caller keeps the loaded dates (governance.zipper_dates in the framework)
        self.engine.load_zipper(self.spec, path, data_date, META,
                                frozen_keys=[(k,) for k in frozen] if frozen else None,
                                loaded_dates=sorted(self.latest))
        state = extract if expect is None else expect
        self.latest[data_date] = {(k,): v for k, v in state.items()}

    def rows(self):
        return self.engine.rows(self.spec)

    def check(self):
        """Compare the table with the oracle and its invariants; fail with the load history."""
        records = self.rows()
        rows = to_rows(records, ["id"], ATTRIBUTES)
        problems = []
        if len(set(rows)) != len(rows):
            problems.append("duplicate rows")
        expected = expected_zipper(self.latest)
        if set(rows) != expected:
            problems.append(f"missing {sorted(expected - set(rows), key=str)}")
            problems.append(f"unexpected {sorted(set(rows) - expected, key=str)}")
        problems += invariant_errors(rows, self.latest)
        hashes: dict[tuple, str] = {}
        for r in records:
            if r["row_hash"] is None:
                problems.append(f"null row_hash in {r}")
            hashes.setdefault((r["v"], r["n"]), r["row_hash"])
            if hashes[(r["v"], r["n"])] != r["row_hash"]:
                problems.append(f"values {(r['v'], r['n'])} have two hashes")
        if len(set(hashes.values())) != len(hashes):
            problems.append(f"different values share a row_hash: {hashes}")
        if problems:
            table = "\n  ".join(str(r) for r in sorted(rows, key=str))
            pytest.fail("zipper table disagrees with the oracle\nloads:\n  "
                        + "\n  ".join(self.history) + "\ntable:\n  " + table
                        + "\nproblems:\n  " + "\n  ".join(problems))
        return rows


@pytest.fixture
def zipper(engine):
    z = Zipper(engine)
    yield z
    z.close()


# -- property ------------------------------------------------------------------------------------
@st.composite
def derived_extract(draw, base: dict[str, tuple]):
    """An extract like ``base`` with some keys kept, dropped, changed or (re)added."""
    out = {}
    for key in KEYS:
        op = draw(st.sampled_from(["keep", "keep", "drop", "set"]))
        if op == "keep" and key in base:
            out[key] = base[key]
        elif op == "set":
            out[key] = draw(VALUES)
    return out


@st.composite
def load_sequences(draw):
    """2-6 loads: new or backfilled dates, identical reruns and corrections of a loaded date.

    New extracts derive from an earlier one, so keys come back with the values they had and
    states repeat across dates (which must merge into one row).
    """
    steps: list[tuple[date, dict[str, tuple]]] = []
    for _ in range(draw(st.integers(2, 6))):
        kind = draw(st.sampled_from(["load", "load", "rerun", "correct"])) if steps else "load"
        if kind == "load":
            base = draw(st.sampled_from([e for _, e in steps])) if steps else draw(
                st.dictionaries(st.sampled_from(KEYS), VALUES))
            steps.append((draw(st.sampled_from(DATES)), draw(derived_extract(base))))
        elif kind == "rerun":
            steps.append(draw(st.sampled_from(steps)))
        else:
            data_date, base = draw(st.sampled_from(steps))
            steps.append((data_date, draw(derived_extract(base))))
    return steps


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("ZIPPER_PROPERTY_EXAMPLES", "10")), deadline=None,
          database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=load_sequences())
def test_zipper_matches_oracle_after_every_load(engine, steps):
    z = Zipper(engine)
    try:
        for data_date, extract in steps:
            z.load(data_date, extract)
            z.check()
    finally:
        z.close()


# -- pinned cases --------------------------------------------------------------------------------
def by_key(rows):
    """``{id: [(values, start_dt, end_dt), ...]}`` in start order."""
    out: dict[str, list] = {}
    for (key,), values, start, end in sorted(rows, key=lambda r: (r[0], r[2])):
        out.setdefault(key, []).append((values, start, end))
    return out


def test_backfill_between_loaded_dates_merges_with_later_state(zipper):
    zipper.load(D1, {"k0": ("a", 1), "k1": ("x", None), "k2": ("p", 0)})
    zipper.load(D5, {"k0": ("b", 1), "k1": ("x", None), "k3": ("q", 0)})
    zipper.check()

    # D3 already looks like D5: every change seen at D5 really happened at D3.
    zipper.load(D3, {"k0": ("b", 1), "k1": ("x", None), "k3": ("q", 0)})
    rows = zipper.check()
    assert by_key(rows) == {
        "k0": [(("a", 1), D1, D3), (("b", 1), D3, OPEN_END)],
        "k1": [(("x", None), D1, OPEN_END)],
        "k2": [(("p", 0), D1, D3)],
        "k3": [(("q", 0), D3, OPEN_END)],
    }


def test_backfill_before_first_loaded_date(zipper):
    d3 = {"k0": ("a", 1), "k1": ("b", 1), "k3": ("c", None)}
    d5 = {"k0": ("a", 1), "k1": ("b", 2), "k2": (None, None), "k3": ("c", None)}
    d1 = {"k0": ("a", 1), "k1": ("z", 1), "k2": (None, None), "k4": ("gone", 0)}
    for d, extract in ((D3, d3), (D5, d5), (D1, d1)):
        zipper.load(d, extract)
        rows = zipper.check()
    assert by_key(rows) == {
        "k0": [(("a", 1), D1, OPEN_END)],                                   # start moves back
        "k1": [(("z", 1), D1, D3), (("b", 1), D3, D5), (("b", 2), D5, OPEN_END)],
        "k2": [((None, None), D1, D3), ((None, None), D5, OPEN_END)],     # back at D5
        "k3": [(("c", None), D3, OPEN_END)],                                # absent at D1
        "k4": [(("gone", 0), D1, D3)],                                      # only at D1
    }


def test_correction_of_middle_date_removes_change(zipper):
    d1 = {"k0": ("a", 1), "k1": ("a", None), "k2": ("s", 0)}
    d2 = {"k0": ("b", 1), "k2": ("s", 0)}  # k0 changed, k1 deleted
    d3 = {"k0": ("a", 1), "k1": ("a", None), "k2": ("s", 0)}
    for d, extract in ((D1, d1), (D2, d2), (D3, d3)):
        zipper.load(d, extract)
    rows = zipper.check()
    assert by_key(rows) == {
        "k0": [(("a", 1), D1, D2), (("b", 1), D2, D3), (("a", 1), D3, OPEN_END)],
        "k1": [(("a", None), D1, D2), (("a", None), D3, OPEN_END)],
        "k2": [(("s", 0), D1, OPEN_END)],
    }

    # D2 was delivered wrong: it was the same as D1 and D3.
    zipper.load(D2, d1)
    rows = zipper.check()
    assert by_key(rows) == {
        "k0": [(("a", 1), D1, OPEN_END)],
        "k1": [(("a", None), D1, OPEN_END)],
        "k2": [(("s", 0), D1, OPEN_END)],
    }

    # An identical rerun changes nothing.
    zipper.load(D2, d1)
    assert sorted(zipper.check(), key=str) == sorted(rows, key=str)


def test_deletion_then_resurrection_with_identical_values(zipper):
    present = {"k0": ("a", 1), "k1": (None, None)}
    for d, extract in ((D1, present), (D2, {}), (D3, {"k1": (None, None)}), (D4, present)):
        zipper.load(d, extract)
        rows = zipper.check()
    assert by_key(rows) == {
        "k0": [(("a", 1), D1, D2), (("a", 1), D4, OPEN_END)],
        "k1": [((None, None), D1, D2), ((None, None), D3, OPEN_END)],
    }


def test_frozen_key_keeps_its_version_when_missing_from_extract(zipper):
    zipper.load(D1, {"k0": ("a", 1), "k1": ("a", 1), "k2": ("a", 1)})
    # k0 is quarantined on D2 (missing from the extract), k2's D2 row too (its value is ignored).
    zipper.load(D2, {"k1": ("b", 1), "k2": ("changed", 9)}, frozen=["k0", "k2"],
                expect={"k0": ("a", 1), "k1": ("b", 1), "k2": ("a", 1)})
    rows = zipper.check()
    assert by_key(rows) == {
        "k0": [(("a", 1), D1, OPEN_END)],
        "k1": [(("a", 1), D1, D2), (("b", 1), D2, OPEN_END)],
        "k2": [(("a", 1), D1, OPEN_END)],
    }
    # Without the freeze the next date closes k0 as usual.
    zipper.load(D3, {"k1": ("b", 1), "k2": ("a", 1)})
    assert by_key(zipper.check())["k0"] == [(("a", 1), D1, D3)]


def test_empty_extract_is_still_a_loaded_date(zipper):
    """An extract with no rows is a real state (every key gone), even when it rewrites nothing."""
    zipper.load(D5, {})  # the very first load: no rows to write, but D5 is loaded
    zipper.load(D3, {"k0": ("a", 1)})
    assert by_key(zipper.check()) == {"k0": [(("a", 1), D3, D5)]}

    later = Zipper(zipper.engine)
    try:
        later.load(D1, {"k0": ("a", 1)})
        later.load(D2, {})  # closes k0: rows are rewritten
        later.load(D4, {})  # nothing open to close, but D4 is loaded
        later.load(D3, {"k0": ("a", 1)})  # so k0's comeback ends at D4
        assert by_key(later.check()) == {"k0": [(("a", 1), D1, D2), (("a", 1), D3, D4)]}
    finally:
        later.close()


def test_unchanged_extract_is_still_a_loaded_date(zipper):
    """A forward load that changes no row still records its date."""
    zipper.load(D1, {"k0": ("a", 1)})
    zipper.load(D3, {"k0": ("a", 1)})  # nothing to close or open
    assert by_key(zipper.check()) == {"k0": [(("a", 1), D1, OPEN_END)]}
    zipper.load(D2, {})  # a gap between two loaded dates where k0 exists
    assert by_key(zipper.check()) == {"k0": [(("a", 1), D1, D2), (("a", 1), D3, OPEN_END)]}
