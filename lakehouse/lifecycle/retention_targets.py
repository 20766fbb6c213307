"""What retention looks at, zone by zone: the Delta tables holding a data table's rows (near-source
with, for an incremental extract, its stored increments; model snapshots, history, quarantine,
governance samples) and the raw zone's date folders.

A zone's tables are one more ``TableTarget`` list: the history zone plugs in through
``history_targets``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyarrow import fs as pafs

from lakehouse.governance.records import QualitySamplesRecord, QuarantineRecord, spec_of
from lakehouse.lifecycle.retention_rules import Keep, RetentionRules
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.increments import increments_spec
from lakehouse.zones.near_source import near_source_spec
from lakehouse.zones.storage import filesystem
from lakehouse.zones.tables import TableSpec, join_path


@dataclass(frozen=True)
class TableTarget:
    """The rows of data table ``table`` kept in the Delta table ``spec`` of ``zone``."""

    zone: str
    table: str  # near-source table or model name: the rules and holds name it
    spec: TableSpec
    keep: Keep
    dated_by: str = "data_date"  # end_dt: zipper rows, expired once closed before the cutoff
    rows_of: tuple[str, str] | None = None  # (column, value): its rows in a table shared by many (samples)

    @property
    def shown(self) -> str:
        """How a report names it: the Delta table, and the data table when the Delta table is shared."""
        return self.spec.qualified_name + (f" [{self.table}]" if self.rows_of else "")


@dataclass(frozen=True)
class RawTarget:
    """The raw zone's date folders of one source: ``raw/<system>/<entity>/data_date=<D>``."""

    source: str  # system.entity
    table: str
    folder: str
    keep: Keep


def table_targets(project, rules: RetentionRules) -> list[TableTarget]:
    """Every Delta table retention applies to, with the keep of its data table in its zone;
    tables of zones no rule covers are left out."""
    root = project.settings.root
    found: list[TableTarget] = []

    def add(zone: str, table: str, spec: TableSpec, dated_by: str = "data_date",
            rows_of: tuple[str, str] | None = None) -> None:
        keep = rules.keep(table, zone)
        if keep is not None:
            found.append(TableTarget(zone, table, spec, keep, dated_by, rows_of))

    for contract in project.sources.values():
        add("near_source", contract.table_name, near_source_spec(contract, root),
            "end_dt" if contract.load_type == "zipper" else "data_date")
        if contract.incremental is not None:  # the admitted extracts a backfill folds again
            add("near_source", contract.table_name, increments_spec(contract, root))
    if project.models:
        from lakehouse.layers.model_tables import model_spec

        for model in project.models.values():
            if model.load_type == "snapshot":
                add("model_snapshots", model.name, model_spec(project, model))
    names = [*(c.table_name for c in project.sources.values()), *project.models]
    for table in names:
        add("quarantine", table, spec_of(QuarantineRecord, root, table))
    samples = spec_of(QualitySamplesRecord, root)
    for table in names:
        add("samples", table, samples, rows_of=("table_name", _qualified_name(project, table)))
    found += history_targets(project, rules)
    return found


def history_targets(project, rules: RetentionRules) -> list[TableTarget]:
    """The history zone's Delta tables, ``history/<layer>/<table>``, each under its data table's
    history rule; dated by ``data_date``, or by ``end_dt`` for a table of zipper versions."""
    import json

    fs, base = filesystem(zone_path(project.settings.root, Zone.HISTORY))
    known = {c.table_name for c in project.sources.values()} | set(project.models)
    found = []
    for layer in _folders(fs, base):
        for folder in _folders(fs, f"{base}/{layer}"):
            if folder not in known:
                continue
            keep = rules.keep(folder, "history")
            path = join_path(zone_path(project.settings.root, Zone.HISTORY), layer, folder)
            first = f"{base}/{layer}/{folder}/_delta_log/{0:020d}.json"
            if keep is None or fs.get_file_info(first).type != pafs.FileType.File:
                continue
            with fs.open_input_stream(first) as stream:
                lines = [json.loads(x) for x in stream.read().decode("utf-8").splitlines() if x.strip()]
            meta = next((a["metaData"] for a in lines if "metaData" in a), {})
            columns = {f["name"] for f in json.loads(meta.get("schemaString", "{}")).get("fields", [])}
            dated_by = "data_date" if "data_date" in columns else "end_dt" if "end_dt" in columns else None
            if dated_by:
                spec = TableSpec(name=folder, zone=Zone.HISTORY.value, layer=None, path=path, columns=(),
                                 properties=dict(meta.get("configuration") or {}))
                found.append(TableTarget("history", folder, spec, keep, dated_by))
    return found


def raw_targets(project, rules: RetentionRules) -> list[RawTarget]:
    """The raw zone folder of every source contract whose table has a raw rule."""
    found = []
    for contract in project.sources.values():
        keep = rules.keep(contract.table_name, "raw")
        if keep is not None:
            found.append(RawTarget(contract.name, contract.table_name,
                                   zone_path(project.settings.root, Zone.RAW, contract.system,
                                             contract.entity), keep))
    return found


def _qualified_name(project, table: str) -> str:
    if table in project.models:
        return f"{project.models[table].layer}.{table}"
    return f"near_source.{table}"


def _folders(fs, path: str) -> list[str]:
    selector = pafs.FileSelector(path, allow_not_found=True, recursive=False)
    return sorted(i.base_name for i in fs.get_file_info(selector) if i.type == pafs.FileType.Directory)
