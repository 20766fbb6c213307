"""A plain-Python oracle for zipper (SCD type 2) tables (no Spark).

A zipper table is the run-length compression of each key's state over the loaded data dates:
a row ``[start_dt, end_dt)`` holds one version, ``end_dt`` is the loaded date at which the key
changed or disappeared, and rows still current end at 9999-12-31. The oracle recomputes that
table from scratch from the latest extract of every loaded date, so it knows nothing of load
order, reruns or windows; tests and benchmarks compare the engine's table with it.

Extracts are ``{key: values}`` dictionaries where ``key`` is the tuple of key values and
``values`` the tuple of non-key attribute values (``None`` for null).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, Hashable, Mapping

OPEN_END = date(9999, 12, 31)
_ABSENT: Hashable = object()  # a key missing from an extract

Extract = Mapping[tuple, tuple]
#: one zipper row: (key, values, start_dt, end_dt)
ZipperRow = tuple[tuple, tuple, date, date]


def expected_zipper(extracts: Mapping[date, Extract]) -> set[ZipperRow]:
    """The zipper rows for the given extract of each loaded date."""
    dates = sorted(extracts)
    keys = {k for extract in extracts.values() for k in extract}
    rows: set[ZipperRow] = set()
    for key in keys:
        current: tuple | None = None  # (values, start) of the version being built
        for d in dates:
            state = extracts[d].get(key, _ABSENT)
            if current is not None and current[0] != state:
                rows.add((key, current[0], current[1], d))
                current = None
            if current is None and state is not _ABSENT:
                current = (state, d)
        if current is not None:
            rows.add((key, current[0], current[1], OPEN_END))
    return rows


def state_at(rows: set[ZipperRow] | list[ZipperRow], as_of: date) -> dict[tuple, tuple]:
    """The ``{key: values}`` a zipper table says held on ``as_of``."""
    state: dict[tuple, tuple] = {}
    for key, values, start, end in rows:
        if start <= as_of < end:
            assert key not in state, f"two versions of {key} on {as_of}"
            state[key] = values
    return state


def invariant_errors(rows: list[ZipperRow], extracts: Mapping[date, Extract]) -> list[str]:
    """Everything structurally wrong with a zipper table over the given loaded extracts.

    Checks the shape independently of the oracle so a failure says *what* is broken: interval
    sanity, overlaps, open rows against the latest date, boundaries on loaded dates, full
    compression, and the state of every loaded date.
    """
    errors: list[str] = []
    dates = sorted(extracts)
    loaded = set(dates)
    by_key: dict[tuple, list[ZipperRow]] = defaultdict(list)
    for row in rows:
        by_key[row[0]].append(row)
        key, _, start, end = row
        if not start < end:
            errors.append(f"{key}: empty or reversed interval [{start}, {end})")
        if start not in loaded:
            errors.append(f"{key}: start_dt {start} is not a loaded date {dates}")
        if end != OPEN_END and end not in loaded:
            errors.append(f"{key}: end_dt {end} is not a loaded date {dates}")
    for key, key_rows in by_key.items():
        key_rows.sort(key=lambda r: (r[2], r[3]))
        opens = [r for r in key_rows if r[3] == OPEN_END]
        if len(opens) > 1:
            errors.append(f"{key}: {len(opens)} open rows")
        for a, b in zip(key_rows, key_rows[1:]):
            if b[2] < a[3]:
                errors.append(f"{key}: [{a[2]}, {a[3]}) overlaps [{b[2]}, {b[3]})")
            elif b[2] == a[3] and a[1] == b[1]:
                errors.append(f"{key}: adjacent rows with equal values {a[1]} not merged at {b[2]}")
    if dates:
        last = extracts[dates[-1]]
        open_keys = {r[0] for r in rows if r[3] == OPEN_END}
        if open_keys != set(last):
            errors.append(
                f"open keys {sorted(open_keys)} != keys of the latest extract {sorted(last)}"
            )
    for d in dates:
        try:
            state = state_at(rows, d)
        except AssertionError as exc:
            errors.append(str(exc))
            continue
        if state != dict(extracts[d]):
            errors.append(f"state on {d}: table says {sorted(state.items())}, "
                          f"extract says {sorted(extracts[d].items())}")
    return errors


def to_rows(records: list[dict[str, Any]], keys: list[str], attributes: list[str]) -> list[ZipperRow]:
    """Table rows as dictionaries (``Engine.rows``) turned into oracle rows."""
    return [
        (tuple(r[k] for k in keys), tuple(r[a] for a in attributes), r["start_dt"], r["end_dt"])
        for r in records
    ]



#: one change event: (log position, op, key, values); op c/u/r sets the key, d deletes it
Change = tuple[int, str, tuple, tuple | None]


def states_from_changes(changes: Mapping[date, list[Change]]) -> dict[date, dict[tuple, tuple]]:
    """The state at the end of each date of ``changes``: every change of that date and the dates
    before it applied in log order (a delete removes its key). Feeding these states to
    ``expected_zipper`` gives the zipper table change events must produce."""
    state: dict[tuple, tuple] = {}
    states = {}
    for day in sorted(changes):
        for _, op, key, values in sorted(changes[day], key=lambda c: c[0]):
            if op == "d":
                state.pop(key, None)
            else:
                state[key] = values
        states[day] = dict(state)
    return states


#: one row of an incremental extract: (key, values, updated_at, deleted); ``values`` hold every
#: non-key attribute, the update time and the delete flag included
IncrementRow = tuple[tuple, tuple, Any, bool]


def states_from_increments(increments: Mapping[date, list[IncrementRow]], dated: bool = False
                           ) -> tuple[dict[date, dict[tuple, tuple]], dict[date, set[tuple]]]:
    """The state at the end of each date of ``increments`` (incremental extracts applied by
    watermark, in date order) and the rows held back on each date as ``(key, rule)``.

    The watermark before a date is the newest update of the rows applied before it. A row
    updated after the end of its date is held (``future_update``); one updated at or before the
    watermark (``dated``: on a day before it) is a re-delivery when it equals the key's state (or
    deletes an absent key), else held (``late_correction``); every other row sets its key, or
    removes it when flagged deleted.
    A key an extract does not carry keeps its state."""
    from datetime import datetime, timedelta

    state: dict[tuple, tuple] = {}
    states, held = {}, {}
    watermark = None
    for day in sorted(increments):
        end = day if dated else datetime.combine(day + timedelta(days=1), datetime.min.time())
        before, held[day] = watermark, set()
        for key, values, updated, deleted in increments[day]:
            if (updated > end) if dated else (updated >= end):
                held[day].add((key, "future_update"))
                continue
            watermark = updated if watermark is None else max(watermark, updated)
            if before is not None and (updated < before if dated else updated <= before):
                same = key not in state if deleted else state.get(key) == values
                if not same:
                    held[day].add((key, "late_correction"))
                continue  # a re-delivery changes nothing
            if deleted:
                state.pop(key, None)
            else:
                state[key] = values
        states[day] = dict(state)
    return states, held
