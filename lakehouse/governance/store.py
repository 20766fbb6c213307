"""The governance store: typed records in, typed records out, one Delta append per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lakehouse import filters
from lakehouse.errors import Problem, TerminalError
from lakehouse.filters import Filter
from lakehouse.governance.records import GovernanceRecord, R, newest_per_key, spec_of
from lakehouse.zones.tables import TableSpec


class GovernanceStore:
    """The governance tables of the lakehouse at ``root``, written and read through ``engine``."""

    def __init__(self, engine, root: str):
        self.engine, self.root = engine, root

    def spec(self, record_type: type[GovernanceRecord], table: str | None = None) -> TableSpec:
        return spec_of(record_type, self.root, table)

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

    def append(self, records: Sequence[GovernanceRecord], table: str | None = None) -> None:
        """Append ``records`` (all of one record type) in one commit; nothing for no records.
        ``table`` names the data table of per-table records (quarantine)."""
        prepared = self._prepared(records, table)
        if prepared is not None:
            self.engine.append_rows(*prepared)

    def append_each(self, *batches: Sequence[GovernanceRecord]) -> None:
        """``append`` each batch (records of one table, a different table per batch) at the
        same time: one commit per table, written side by side."""
        prepared = [p for p in (self._prepared(b, None) for b in batches) if p is not None]
        if len({spec.path for spec, _ in prepared}) != len(prepared):
            raise ValueError("governance store: append_each takes one batch per table")
        self.engine.append_many(prepared)

    def _prepared(self, records: Sequence[GovernanceRecord], table: str | None
                  ) -> tuple[TableSpec, list[dict[str, Any]]] | None:
        """The table and rows of a valid append (None for no records)."""
        records = list(records)
        if not records:
            return None
        record_type = type(records[0])
        for item in records:
            if not isinstance(item, GovernanceRecord):
                raise TypeError(f"governance store: {type(item).__name__} is not a governance record "
                                f"({item!r:.80}); fix: build a lakehouse.governance.records class")
            if type(item) is not record_type:
                raise TypeError(f"governance store: one append takes records of one table, got "
                                f"{record_type.__name__} and {type(item).__name__}")
        spec = self.spec(record_type, table)
        self._ensure(record_type, spec)
        return spec, [r.as_row() for r in records]

    def replace(self, record_type: type[R], records: Sequence[R], where: Filter,
                table: str | None = None) -> None:
        """Replace the rows matching ``where`` with ``records`` in one commit (``table``: as for
        ``append``)."""
        for item in records:
            if type(item) is not record_type:
                raise TypeError(f"governance store: expected {record_type.__name__}, got "
                                f"{type(item).__name__}")
        spec = self.spec(record_type, table)
        self._ensure(record_type, spec)
        self.engine.replace_rows(spec, [r.as_row() for r in records], where)

    def exists(self, record_type: type[GovernanceRecord], table: str | None = None) -> bool:
        return self.engine.table_exists(self.spec(record_type, table))

    def read(self, record_type: type[R], where: Filter | None = None, table: str | None = None,
             order_by: list[str] | None = None) -> list[R]:
        """The records matching ``where`` (all when None); none when the table does not exist."""
        spec = self.spec(record_type, table)
        if not self.engine.table_exists(spec):
            return []
        return [record_type.from_row(row) for row in self.engine.rows(spec, where, order_by)]

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
