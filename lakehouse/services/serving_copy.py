"""The serving copy of a published service: its table's rows of the current data date, read with
delta-rs (never Spark) into memory and indexed by the parameters' columns.

A refresh builds the new copy beside the old one and then replaces the reference to it in one
assignment, so a call sees either the whole old data date or the whole new one, never a mix. The
copy lives in the server's memory only: no value of it (levels 3 and above included) is written to
disk by the server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from lakehouse.engine import delta_rs

DATE_COLUMN = "data_date"


@dataclass(frozen=True)
class Snapshot:
    """One data date of a table, indexed: parameter values -> the rows, as JSON-ready dicts."""

    data_date: date
    table_version: int
    index: dict[tuple, list[dict[str, Any]]]
    rows: int
    loaded_at: datetime
    types: dict[str, str]  # column -> its Arrow type, as text


def json_value(value: Any) -> Any:
    """A value as JSON carries it: decimals as text (no precision lost), dates as ISO text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


class ServingCopy:
    """The serving copy of one service's table at ``path``: ``columns`` returned, indexed by
    ``keys`` (the columns its parameters match, in parameter order)."""

    def __init__(self, path: str, keys: list[str], columns: list[str]):
        self.path, self.keys = path, list(keys)
        self.columns = list(dict.fromkeys([*columns, *keys]))
        self.snapshot: Snapshot | None = None
        self._refreshing = threading.Lock()

    def refresh(self) -> bool:
        """Load the table's newest data date when it is not the one served (or the table changed
        since); True when a new copy was switched in. Raises what reading the table raises."""
        with self._refreshing:
            version, dates = delta_rs.partition_dates(self.path, DATE_COLUMN)
            current = self.snapshot
            if not dates or (current is not None and current.table_version == version):
                return False
            newest = dates[-1]
            table = delta_rs.partition(self.path, DATE_COLUMN, newest, self.columns, version)
            index: dict[tuple, list[dict[str, Any]]] = {}
            for row in table.to_pylist():
                key = tuple(row[k] for k in self.keys)
                index.setdefault(key, []).append({c: json_value(row[c]) for c in self.columns})
            types = {f.name: str(f.type) for f in table.schema}
            self.snapshot = Snapshot(newest, version, index, table.num_rows,
                                     datetime.now(timezone.utc), types)  # the switch
            return True

    def lookup(self, key: tuple) -> tuple[Snapshot | None, list[dict[str, Any]]]:
        """The snapshot answering and its rows for ``key`` (one read of the reference)."""
        snapshot = self.snapshot
        if snapshot is None:
            return None, []
        return snapshot, snapshot.index.get(key, [])
