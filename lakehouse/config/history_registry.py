"""Typed model of ``conf/history.yaml``: which tables move to the history zone, and when (6.2.3 d).

A snapshot or append table keeps ``hot_days`` data dates in the standard zone (the hot
window, ending at the data date of the move); older dates move to its history table under
``<root>/history``. ``layers`` gives the hot window of every snapshot and append table of a
layer, ``tables`` one table's (it wins over its layer's). Zipper tables are history already:
every version stays, with its ``start_dt`` and ``end_dt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from .fields import Schedule
from .findings import Finding, did_you_mean
from .models import _Model

HISTORY_LAYERS = ("near_source", "integrated", "common", "mart")
MOVABLE_LOAD_TYPES = ("snapshot", "append")
HotDays = Annotated[int, Field(strict=True, ge=1, description="data dates kept in the standard zone")]


class HistoryRegistry(_Model):
    """The hot windows of the tables that move to the history zone."""

    schedule: Schedule | None = Field(
        None, description="when the lakehouse_history DAG moves the due data dates (daily, "
        "weekdays, weekly, monthly or a 5-field cron, in the lakehouse time zone); null: no DAG")
    layers: dict[str, HotDays] = Field(default_factory=dict, description="layer -> hot_days for "
                                   "every snapshot and append table of the layer")
    tables: dict[str, HotDays] = Field(default_factory=dict, description="schema.table -> hot_days "
                                   "(wins over its layer's)")

    def hot_days(self, table: str, layer: str | None, load_type: str | None) -> int | None:
        """The hot window of the table ``layer.name`` (None: it does not move)."""
        if load_type not in MOVABLE_LOAD_TYPES:
            return None
        return self.tables.get(table, self.layers.get(layer or ""))


TableFacts = Mapping[str, tuple[str | None, int | None]]
"""Qualified table name -> (load type, retention_days) of every near-source and model table."""


def history_findings(data: object, tables: TableFacts) -> list[Finding]:
    """What is wrong in ``history.yaml``'s plain ``data`` for a project with ``tables``."""
    if not isinstance(data, Mapping):
        return []
    findings: list[Finding] = []
    layers = data.get("layers")
    for layer, days in (layers.items() if isinstance(layers, Mapping) else ()):
        if layer not in HISTORY_LAYERS:
            findings.append(Finding(("layers", layer), f"unknown layer {layer!r}{did_you_mean(layer, HISTORY_LAYERS)}",
                                    layer, f"use one of: {', '.join(HISTORY_LAYERS)}"))
    named = data.get("tables")
    for table, days in (named.items() if isinstance(named, Mapping) else ()):
        loc = ("tables", table)
        if table not in tables:
            findings.append(Finding(loc, f"no table {table!r} in this project{did_you_mean(table, tables)}",
                                    table, "name a near-source or model table as `lakehouse tables` "
                                    "lists it, e.g. near_source.cbs_transaction"))
            continue
        load_type, retention = tables[table]
        if load_type not in MOVABLE_LOAD_TYPES:
            findings.append(Finding(loc, f"{table} is a {load_type} table: zipper tables are history "
                                    "already (every version stays, with start_dt and end_dt)", table,
                                    "remove it from history.yaml; only snapshot and append tables move"))
        elif isinstance(days, int) and retention is not None and days >= retention:
            findings.append(Finding(loc, f"hot_days {days} of {table} is not below its retention_days "
                                    f"{retention}: its snapshots are removed before they are due to move",
                                    days, f"set hot_days below {retention}, or raise the model's retention_days"))
    if isinstance(layers, Mapping):
        for table, (load_type, retention) in tables.items():
            days = layers.get(table.split(".", 1)[0])
            if (load_type in MOVABLE_LOAD_TYPES and isinstance(days, int) and retention is not None
                    and days >= retention and not (isinstance(named, Mapping) and table in named)):
                layer = table.split(".", 1)[0]
                findings.append(Finding(("layers", layer), f"hot_days {days} of layer {layer} is not "
                                        f"below the retention_days {retention} of {table}: its snapshots "
                                        "are removed before they are due to move", days,
                                        f"give {table} its own hot_days below {retention} under tables:"))
    return findings

