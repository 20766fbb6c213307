"""The data dates folded into each zipper table, kept as governance records (not only in Delta
commit metadata, which the Delta log cleanup removes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from lakehouse.filters import where
from lakehouse.governance.records import ZipperDatesRecord
from lakehouse.governance.store import GovernanceStore
from lakehouse.zones.tables import TableSpec


def fold_dates(data_date: date, loaded: list[date]) -> list[date]:
    """The dates to fold again when ``data_date`` is loaded into a table whose every date's state
    builds on the date before (change events, incremental extracts): it, then every loaded
    later one."""
    return [data_date, *sorted(d for d in set(loaded) if d > data_date)]


def loaded_dates(store: GovernanceStore, spec: TableSpec) -> list[date] | None:
    """The data dates recorded as loaded into ``spec``; None when none is recorded yet."""
    found = {r.data_date for r in store.read(ZipperDatesRecord, where(table_name=spec.qualified_name))}
    return sorted(found) if found else None


def load_zipper(engine, store: GovernanceStore, spec: TableSpec, staged_path: str, data_date: date,
                run_id: str, metadata: dict[str, Any], frozen_keys: list[tuple] | None = None) -> None:
    """Fold the staged extract into zipper table ``spec`` for ``data_date`` with ``engine`` and
    record the date in ``store``.

    A table without records yet takes its loaded dates from its commits once; they are then
    recorded with this date, so later loads no longer need the commits."""
    recorded = loaded_dates(store, spec)
    loaded = recorded if recorded is not None else engine.zipper_loaded_dates(spec)
    engine.load_zipper(spec, staged_path, data_date, metadata, frozen_keys, loaded_dates=loaded)
    new = sorted({*loaded, data_date} - set(recorded or []))
    now = datetime.now()
    store.append([ZipperDatesRecord(table_name=spec.qualified_name, data_date=day, run_id=run_id,
                                    loaded_at=now) for day in new])
