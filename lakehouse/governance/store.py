"""The governance store: typed records in, typed records out.

An append is one Delta commit per table. Inside ``holding()`` (a run, a layer build) appends
are held and written together when the block ends, one commit per table for the whole block:
a Delta commit costs about a second on a small machine whatever its size, and a source load
makes seven kinds of record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from lakehouse import filters
from lakehouse.errors import Problem, TerminalError
from lakehouse.filters import Filter
from lakehouse.governance.records import GovernanceRecord, R, newest_per_key, spec_of
from lakehouse.zones.tables import TableSpec


HOLD_SECONDS = 60.0
"""How long ``checkpoint`` lets a held record wait before writing it."""


class GovernanceStore:
    """The governance tables of the lakehouse at ``root``, written and read through ``engine``."""

    def __init__(self, engine, root: str, hold_seconds: float = HOLD_SECONDS):
        self.engine, self.root = engine, root
        self.hold_seconds = hold_seconds  # the longest a held record waits (see ``checkpoint``)
        self._held: dict[tuple[type[GovernanceRecord], str | None], list[GovernanceRecord]] = {}
        self._held_since: float | None = None
        self._holding = 0
        self._lock = threading.RLock()

    # -- holding appends ---------------------------------------------------------------------
    @contextmanager
    def holding(self) -> Iterator[GovernanceStore]:
        """Hold the appends made inside the block (from any thread) and write them when the
        outermost block ends, also when it ends by an exception. Reads see the held records.
        A process killed inside the block loses what it held; ``checkpoint`` bounds that."""
        with self._lock:
            self._holding += 1
        try:
            yield self
        finally:
            with self._lock:
                self._holding -= 1
                outermost = self._holding == 0
            if outermost:
                self.flush()

    def checkpoint(self) -> None:
        """Write the held records if the oldest has waited ``hold_seconds`` (call it between
        units of work, e.g. after each source load of a run)."""
        since = self._held_since
        if since is not None and time.monotonic() - since >= self.hold_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the held records now: one commit per table, the tables side by side. When the
        write fails the records stay held (the next flush retries them)."""
        with self._lock:
            held, since = self._held, self._held_since
            self._held, self._held_since = {}, None
        if not held:
            return
        try:
            self.engine.append_many([self._prepared(records, table)
                                     for (_, table), records in held.items()])
        except BaseException:
            with self._lock:
                for key, records in held.items():
                    self._held[key] = records + self._held.get(key, [])
                self._held_since = since
            raise

    def _hold(self, records: list[GovernanceRecord], table: str | None) -> bool:
        """Keep ``records`` for the flush when holding; False when not holding."""
        with self._lock:
            if not self._holding:
                return False
            self._held.setdefault((type(records[0]), table), []).extend(records)
            if self._held_since is None:
                self._held_since = time.monotonic()
            return True

    def _held_records(self, record_type: type[R], table: str | None) -> list[R]:
        with self._lock:
            return list(self._held.get((record_type, table), []))

    def spec(self, record_type: type[GovernanceRecord], table: str | None = None) -> TableSpec:
        return spec_of(record_type, self.root, table)

    def prepared(self, record_type: type[GovernanceRecord], table: str | None = None) -> TableSpec:
        """The table of ``record_type`` (``table``: as for ``append``), created or brought to its
        record, for a writer that writes it through the engine (the quarantine)."""
        spec = self.spec(record_type, table)
        self._ensure(record_type, spec)
        return spec

    def _ensure(self, record_type: type[GovernanceRecord], spec: TableSpec) -> None:
        """Create the table, or bring one written by an earlier version to its record: add the
        columns the record gained, convert the columns whose type it changed (once per table in
        the engine's session)."""
        self.engine.prepare_table(spec, lambda: self._bring_to_record(record_type, spec))

    def _bring_to_record(self, record_type: type[GovernanceRecord], spec: TableSpec) -> None:
        layout = self.engine.table_layout(spec)
        if layout is not None:
            changed = [c for c in spec.columns
                       if c.name in layout.types and layout.types[c.name] != c.spark_type]
            if changed:
                self.engine.retype_table(spec, _conversions(record_type, spec, changed, layout.types))
                layout = self.engine.table_layout(spec)
            added = [c for c in spec.column_names if c not in layout.types]
            if added:
                self.engine.evolve_table(spec, layout, added)
        self.engine.ensure_table(spec)

    # -- writing -----------------------------------------------------------------------------
    def append(self, records: Sequence[GovernanceRecord], table: str | None = None) -> None:
        """Append ``records`` (all of one record type) in one commit, or hold them (see
        ``holding``); nothing for no records. ``table`` names the data table of per-table
        records (quarantine)."""
        records = list(records)
        if not records:
            return
        _check_one_type(records)
        if not self._hold(records, table):
            self.engine.append_rows(*self._prepared(records, table))

    def append_each(self, *batches: Sequence[GovernanceRecord]) -> None:
        """``append`` each batch (records of one table, a different table per batch) at the
        same time: one commit per table, written side by side."""
        batches = [list(b) for b in batches if b]
        for batch in batches:
            _check_one_type(batch)
        if len({type(b[0]) for b in batches}) != len(batches):
            raise ValueError("governance store: append_each takes one batch per table")
        held = [self._hold(batch, None) for batch in batches]
        if not any(held):
            self.engine.append_many([self._prepared(b, None) for b in batches])

    def _prepared(self, records: list[GovernanceRecord], table: str | None
                  ) -> tuple[TableSpec, list[dict[str, Any]]]:
        """The table, brought to its record, and the rows of ``records`` (of one type)."""
        return self.prepared(type(records[0]), table), [r.as_row() for r in records]

    def replace(self, record_type: type[R], records: Sequence[R], where: Filter,
                table: str | None = None) -> None:
        """Replace the rows matching ``where`` with ``records`` in one commit (``table``: as for
        ``append``)."""
        for item in records:
            if type(item) is not record_type:
                raise TypeError(f"governance store: expected {record_type.__name__}, got "
                                f"{type(item).__name__}")
        if self._held_records(record_type, table):
            self.flush()  # the held appends come first
        spec = self.prepared(record_type, table)
        self.engine.replace_rows(spec, [r.as_row() for r in records], where)

    # -- reading -----------------------------------------------------------------------------
    def exists(self, record_type: type[GovernanceRecord], table: str | None = None) -> bool:
        return bool(self._held_records(record_type, table)) or \
            self.engine.table_exists(self.spec(record_type, table))

    def read(self, record_type: type[R], where: Filter | None = None, table: str | None = None,
             order_by: list[str] | None = None) -> list[R]:
        """The records matching ``where`` (all when None), held ones included; none when the
        table does not exist."""
        spec = self.spec(record_type, table)
        held = [r for r in self._held_records(record_type, table)
                if where is None or where.matches(r.as_row())]
        found = [record_type.from_row(row) for row in self.engine.rows(spec, where, order_by)] \
            if self.engine.table_exists(spec) else []
        if held and order_by:
            return sorted(found + held, key=lambda r: tuple(_sortable(getattr(r, c)) for c in order_by))
        return found + held

    def newest(self, record_type: type[R], key: str | Sequence[str], order: str,
               where: Filter | None = None) -> dict[Any, R]:
        """The newest record (greatest ``order``) per ``key`` among those matching ``where``:
        by key value for one key field, by tuple of values for several."""
        fields = [key] if isinstance(key, str) else list(key)
        found = newest_per_key(self.read(record_type, where), fields, order)
        return {(k[0] if isinstance(key, str) else k): r for k, r in found.items()}

    def newest_of_date(self, record_type: type[R], data_date, key: str | Sequence[str], order: str,
                       where: Filter | None = None) -> dict[Any, R]:
        """``newest`` among the records of ``data_date``."""
        return self.newest(record_type, key, order,
                           filters.where(data_date=data_date) & (where or filters.Filter()))


def _check_one_type(records: list[GovernanceRecord]) -> None:
    record_type = type(records[0])
    for item in records:
        if not isinstance(item, GovernanceRecord):
            raise TypeError(f"governance store: {type(item).__name__} is not a governance record "
                            f"({item!r:.80}); fix: build a lakehouse.governance.records class")
        if type(item) is not record_type:
            raise TypeError(f"governance store: one append takes records of one table, got "
                            f"{record_type.__name__} and {type(item).__name__}")


def _sortable(value: Any) -> tuple[bool, Any]:
    """A sort key putting NULLs first, as Spark's ascending order does."""
    return (value is not None, value)


def _conversions(record_type: type[GovernanceRecord], spec: TableSpec, changed, types: dict[str, str]
                 ) -> dict[str, str]:
    """Column -> the SQL converting its former values, for every column whose type changed;
    raises ``TerminalError`` for a change the record does not know how to convert."""
    conversions, unknown = {}, []
    for column in changed:
        former, expression = record_type.UPGRADES.get(column.name, (None, None))
        if former == types[column.name]:
            conversions[column.name] = expression
        else:
            unknown.append(column)
    if unknown:
        raise TerminalError(f"{spec.qualified_name} at {spec.path} has columns of another type", [
            Problem(f"column {c.name} is {types[c.name]}, {record_type.__name__} stores {c.spark_type}",
                    file=spec.path, key=c.name,
                    fix=f"add the conversion from {types[c.name]} to {record_type.__name__}.UPGRADES")
            for c in unknown])
    return conversions
