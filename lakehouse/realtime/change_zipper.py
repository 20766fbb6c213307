"""Log-based incremental loads (6.3.1.1 c): a source's change events maintain its near-source
zipper table, instead of diffing full extracts.

The change events of every date stay in the feed's events table. Applying date D folds into
the zipper table the full state they describe at the end of D (each key's newest event up to D,
a delete removing the key, which closes its row), and then the state of every date already
applied after D again, since D's events change those too. Each fold is the zipper's own load
(``Engine.load_zipper``), so its guarantees hold: a rerun changes nothing, and applying the
dates in any order gives the table that applying them in order gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from lakehouse.errors import ConfigError, Problem
from lakehouse.governance import zipper_dates
from lakehouse.governance.zipper_dates import fold_dates
from lakehouse.realtime.ingestion import feed_contract
from lakehouse.realtime.tables import events_spec
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.near_source import near_source_spec


def fold_changes(engine, events_path: str, keys: list[str], attributes: list[tuple[str, str]],
                 data_date: date, applied: list[date], staging: str,
                 fold: Callable[[str, date], None]) -> list[date]:
    """Fold the state the change events at ``events_path`` give at the end of ``data_date``
    and of each ``applied`` date after it, each with ``fold(staged_path, date)``, in date order."""
    dates = fold_dates(data_date, applied)
    for day in dates:
        staged = f"{staging}/{day.isoformat()}_{uuid.uuid4().hex[:8]}"
        engine.realtime.stage_state_from_changes(events_path, keys, attributes, day, staged)
        fold(staged, day)
    return dates


def apply_changes(lakehouse, source: str, data_date: date, run_id: str | None = None) -> list[date]:
    """Apply the change events of ``data_date`` of ``source`` to its near-source zipper table;
    the dates folded (``data_date`` and the applied dates after it)."""
    contract = feed_contract(lakehouse, source)
    if contract.realtime.kind != "change_events" or contract.load_type != "zipper":
        raise ConfigError(f"{source} cannot be maintained from change events", [Problem(
            f"its feed is {contract.realtime.kind} and its load type {contract.load_type}",
            file=contract.source_file, key="realtime.kind",
            fix="declare realtime.kind: change_events on a contract with load_type: zipper")])
    return fold_into_zipper(lakehouse.engine, lakehouse.store, lakehouse.root, contract, data_date,
                            run_id or f"changes-{uuid.uuid4().hex[:12]}")


def fold_into_zipper(engine, store, root: str, contract, data_date: date, run_id: str) -> list[date]:
    """Fold ``contract``'s change events of ``data_date``, and of the applied dates after it,
    into its near-source zipper table; the dates folded."""
    spec = near_source_spec(contract, root)
    applied = zipper_dates.loaded_dates(store, spec) or []
    metadata = {"run_id": run_id, "source": contract.name, "operation": "change events",
                "data_date": data_date.isoformat()}

    def fold(staged: str, day: date) -> None:
        zipper_dates.load_zipper(engine, store, spec, staged, day, run_id,
                                 {**metadata, "folded_date": day.isoformat()})

    return fold_changes(engine, events_spec(contract, root).path, list(contract.keys),
                        [(a.name, a.spark_type) for a in contract.attributes], data_date, applied,
                        staging_path(root, contract, run_id), fold)


def staging_path(root: str, contract, run_id: str) -> str:
    """Where a run stages the states it folds from a feed's events."""
    return zone_path(root, Zone.REALTIME, "_staging", contract.table_name, run_id)
