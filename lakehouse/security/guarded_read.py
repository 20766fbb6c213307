"""Reading a lakehouse as its principal: the guarded query run or exported, the quarantine
read, and their use audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from lakehouse.errors import ConfigError, Problem
from lakehouse.filters import where
from lakehouse.security.access import AccessRefused
from lakehouse.security.column_levels import GOVERNANCE_LEVEL, table_levels, table_masks
from lakehouse.security.guarded_query import GuardedQuery, guard, refusal

T = TypeVar("T")


def guarded_rows(lh, sql: str, limit: int | None, operation: str = "query") -> list[dict[str, Any]]:
    """The rows of ``sql`` as ``lh``'s principal sees them; the read (allowed, masked or refused)
    is audited when it touches level-2+ data, and fails if the audit cannot be written."""
    guarded = _guarded(lh, sql, operation)
    rows = _run(lambda: lh.engine.sql_over_views(guarded.views, guarded.sql, limit))
    _audit(lh, lh.clearance, operation, sql, guarded.result, guarded.reads, len(rows), "",
           tables=guarded.tables)
    return rows


def guarded_export(lh, sql: str, path: Path, file_format: str) -> int:
    """Write the rows of ``sql``, as ``lh``'s principal may export them, to ``path`` (``csv`` or
    ``parquet``); the export is audited like a read (operation ``export``, the file named in the
    record's detail) and its rows counted. Roles without the ``export`` operation are refused."""
    guarded = _guarded(lh, sql, "export")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")  # the file appears only once audited
    try:
        rows = _run(lambda: lh.engine.export_over_views(guarded.views, guarded.sql, str(partial),
                                                        file_format))
        _audit(lh, lh.clearance, "export", sql, guarded.result, guarded.reads, rows,
               f"to {path.name}", tables=guarded.tables)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return rows


def _guarded(lh, sql: str, operation: str) -> GuardedQuery:
    """``sql`` guarded for ``lh``'s principal; a refusal is audited, then raised."""
    clearance = lh.clearance
    specs = {spec.qualified_name: spec for spec in lh.tables()}
    engine = lh.engine

    def columns_of(name: str) -> dict[str, str] | None:
        spec = specs.get(name)
        if spec is None or not engine.table_exists(spec):
            return None
        engine.ensure_table(spec)
        return dict(engine.table_layout(spec).types)

    def relation_of(name: str) -> str | None:  # the table across the hot and history zones
        return engine.spanning_view(specs[name])

    try:
        return guard(sql, clearance, columns_of, table_levels(lh.project), table_masks(lh.project),
                     operation, lh.project, relation_of)
    except AccessRefused as refused:
        _audit(lh, clearance, operation, sql, "refused", refused.reads, None, refused.summary,
               tables=refused.tables)
        raise


def _run(work: Callable[[], T]) -> T:
    """``work`` (the guarded query on the engine), Spark's analysis errors shown cleanly."""
    try:
        return work()
    except Exception as exc:  # noqa: BLE001 - Spark's analysis errors, shown cleanly
        message = str(exc).split("\n")[0]
        raise ConfigError("the query failed", [Problem(
            message, key="SQL",
            fix="name tables as `lakehouse tables` lists them (e.g. mart.mart_customer_360) and "
                "columns as the table has them")]) from None


def quarantined_rows(lh, source: str, data_date: date) -> list[dict[str, Any]]:
    """The rows of ``source`` held in quarantine for ``data_date`` as ``lh``'s principal sees
    them, by line. A role of the principal must cover the quarantine table. A sealed line (one
    that could not be split into its fields to mask them; ``sealed`` true) is opened into
    ``raw_line`` only for a principal who reads the source's table in clear at its highest level,
    and withheld (``raw_line`` null) from any other. The read is audited first, like a query:
    allowed, masked (sealed lines withheld) or refused."""
    from lakehouse.governance.records import QuarantineRecord
    from lakehouse.security.audit import AccessedColumn
    from lakehouse.security.keys import for_project
    from lakehouse.security.sealing import QUARANTINE_LINE, unseal

    contract, clearance = lh.contract(source), lh.clearance
    held = lh.store.spec(QuarantineRecord, contract.table_name).qualified_name
    level = contract.table_level  # what a sealed line may hold
    reads = [AccessedColumn(held, name, level if name == "sealed_line" else GOVERNANCE_LEVEL)
             for name in QuarantineRecord.field_names()]
    command = f"quarantine show --source {source} --date {data_date.isoformat()}"
    if clearance.access(held, GOVERNANCE_LEVEL) == "refused":
        refused = refusal([], clearance, "query", lh.project, reads, [held])
        _audit(lh, clearance, "quarantine", command, "refused", reads, None, refused.summary)
        raise refused
    records = lh.store.read(QuarantineRecord, where(data_date=data_date), table=contract.table_name,
                            order_by=["line"])
    opened = clearance.access(lh.table(source).qualified_name, level) == "clear"
    withheld = not opened and any(r.sealed_line for r in records)
    _audit(lh, clearance, "quarantine", command, "masked" if withheld else "allowed", reads,
           len(records), "sealed lines withheld" if withheld else "")
    keys, rows = for_project(lh.project), []
    for record in records:
        row = record.as_row()
        sealed = row.pop("sealed_line")
        if sealed and opened:
            row["raw_line"] = unseal(keys, QUARANTINE_LINE, sealed, record.table_name)
        rows.append({**row, "sealed": sealed is not None})
    return rows


def _audit(lh, clearance, operation, sql, result, reads, rows, detail, tables=()) -> None:
    """One access record when the read touches level-2+ data; a read of a table without any
    column (``count(*)``) counts as touching the table's data."""
    from lakehouse.security import audit

    objects = [audit.AccessedColumn(r.table, r.column, r.level) for r in reads]
    if not objects:
        objects = [audit.AccessedColumn(table, "*", audit.AUDITED_FROM_LEVEL) for table in tables]
    if not audit.must_audit(objects):
        return
    audit.record_access(lh.engine, lh.root, audit.AccessEvent(
        principal=clearance.principal.id, roles=[r.name for r in clearance.roles],
        operation=operation, objects=objects, result=result,
        rows_returned=rows, query_text=sql, detail=detail))
