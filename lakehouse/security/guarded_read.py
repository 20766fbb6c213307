"""Reading a lakehouse as its principal: the guarded query run or exported, and its use audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lakehouse.errors import ConfigError, Problem
from lakehouse.security.access import AccessRefused
from lakehouse.security.column_levels import table_levels, table_masks
from lakehouse.security.guarded_query import GuardedQuery, guard

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

    try:
        return guard(sql, clearance, columns_of, table_levels(lh.project), table_masks(lh.project),
                     operation, lh.project)
    except AccessRefused as refusal:
        _audit(lh, clearance, operation, sql, "refused", refusal.reads, None, refusal.summary,
               tables=refusal.tables)
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
