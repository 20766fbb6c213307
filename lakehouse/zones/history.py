"""History zone tables (6.2.3 d): where a snapshot or append table's data dates go once they
leave its hot window, laid out for long date-range scans.

The history table of the standard zone's ``<layer>.<name>`` lives at
``<root>/history/<layer>/<name>``, is named ``history.<layer>__<name>`` and has the hot table's
columns (``data_date`` kept as a column) plus ``data_month``, the first day of the data date's
month, which partitions it: a year is twelve partitions of compacted files, not 365 folders.
"""

from __future__ import annotations

from lakehouse.zones import Zone, zone_path
from lakehouse.zones.tables import Column, TableSpec

MONTH_COLUMN = "data_month"
MONTH_SQL = "trunc(data_date, 'MM')"
"""How ``data_month`` is computed from ``data_date`` (Spark SQL)."""


def lakehouse_root(spec: TableSpec) -> str | None:
    """The lakehouse root of a standard-zone table (its path is ``<root>/standard/<layer>/<name>``),
    None for a table elsewhere."""
    tail = "/".join((Zone.STANDARD.value, spec.layer or "", spec.name))
    if spec.zone != Zone.STANDARD.value or not spec.layer or not spec.path.endswith("/" + tail):
        return None
    return spec.path[: -len(tail) - 1]


def history_path(spec: TableSpec) -> str | None:
    """Where the history table of the snapshot or append table ``spec`` lives (None: a zipper
    table, or one outside the standard zone, has none)."""
    root = lakehouse_root(spec)
    if root is None or spec.load_type == "zipper":
        return None
    return zone_path(root, Zone.HISTORY, spec.layer, spec.name)


def history_spec(spec: TableSpec, columns: list[tuple[str, str]] | None = None) -> TableSpec:
    """The history table of ``spec``: ``data_month``, ``data_date``, then the hot table's other
    ``columns`` (name, Spark SQL type; default: the spec's)."""
    path = history_path(spec)
    if path is None:
        raise ValueError(f"{spec.qualified_name} has no history table: only snapshot and append "
                         "tables of the standard zone move to the history zone")
    comments = {c.name: c.comment for c in spec.columns}
    hot = [Column(name, spark_type, comments.get(name, ""), nullable=name != "data_date")
           for name, spark_type in (columns if columns is not None
                                    else [(c.name, c.spark_type) for c in spec.columns])]
    # data_date first: Delta keeps file statistics of the leading columns only (32 by default),
    # and a date-range scan skips files by them
    hot.sort(key=lambda c: c.name != "data_date")
    return TableSpec(
        name=f"{spec.layer}__{spec.name}",
        zone=Zone.HISTORY.value,
        layer=None,
        path=path,
        columns=(Column(MONTH_COLUMN, "date", "数据月份 / first day of the data date's month",
                        nullable=False), *hot),
        partition_by=(MONTH_COLUMN,),
        load_type=spec.load_type,
        keys=spec.keys,
        comment=f"history of {spec.qualified_name}: data dates past its hot window (6.2.3 d)",
        properties={**{k: v for k, v in spec.properties.items() if k != "lakehouse.retention_days"},
                    "lakehouse.history_of": spec.qualified_name},
    )
