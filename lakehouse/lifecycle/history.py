"""History moves (6.2.3 d): the data dates of a snapshot or append table older than its hot
window go to its history table, and each move is recorded in ``governance.history_log``.

A move of one table, under the table-date lock of every date it moves (no load writes them
meanwhile):

1. **copy** the dates, as of the hot table's version read, into the history table: one commit
   replacing those dates there (so a repeated copy writes the same rows, never twice), then the
   months touched are compacted;
2. check the rows copied are the rows counted in the hot table (otherwise stop, deleting nothing);
3. **delete** the dates from the hot table: one commit, whose metadata carries the whole move;
4. **record** the move in ``governance.history_log``.

A crash after 1 leaves the dates in both tables; the table read across both (see
``lakehouse.engine.history_moves``) takes them from the hot table only, and the next move copies
them again and deletes them. A crash after 3 loses only the record: the next move finds the
hot table's delete commit without a record and writes it (status ``recovered``). No step relies
on Delta time travel to keep history: the history table holds the rows themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lakehouse.errors import Problem, TerminalError
from lakehouse.filters import where
from lakehouse.governance.records import HistoryLogRecord
from lakehouse.zones.history import history_path, history_spec
from lakehouse.zones.locks import table_date_lock
from lakehouse.zones.tables import TableSpec

MOVE_KEY = "history_move"
"""The key of a move in the commit metadata of the hot table's delete."""


@dataclass(frozen=True)
class Movable:
    """A table that moves, and its hot window."""

    spec: TableSpec
    hot_days: int


@dataclass
class TableMove:
    """What a move did (or, in a dry run, would do) to one table."""

    table: str
    history_table: str
    hot_days: int
    keep_from: date  # the oldest data date the hot table keeps
    dates: list[date] = field(default_factory=list)
    rows: int = 0
    status: str = "nothing due"  # moved, would move, nothing due, no table
    record: HistoryLogRecord | None = None
    recovered: list[HistoryLogRecord] = field(default_factory=list)


def movable_tables(project, root: str) -> list[Movable]:
    """Every near-source and model table with a hot window in ``history.yaml``, in table order."""
    from lakehouse.layers.model_tables import model_spec
    from lakehouse.zones.near_source import near_source_spec

    specs = [near_source_spec(c, root) for c in project.sources.values()]
    specs += [model_spec(project, m) for m in project.models.values()]
    found = []
    for spec in specs:
        days = project.history.hot_days(spec.qualified_name, spec.layer, spec.load_type)
        if days is not None:
            found.append(Movable(spec, days))
    return sorted(found, key=lambda m: m.spec.qualified_name)


def move(engine, store, root: str, tables: list[Movable], as_of: date, dry_run: bool = False,
         between_steps: Callable[[TableMove], None] | None = None) -> list[TableMove]:
    """Move each table's data dates before its hot window (the ``hot_days`` dates up to
    ``as_of``) to its history table; ``dry_run``: only say what would move. ``between_steps``
    is called after the copy and before the delete (a test's crash)."""
    return [_move_table(engine, store, root, m, as_of, dry_run, between_steps) for m in tables]


def _move_table(engine, store, root, movable: Movable, as_of, dry_run, between_steps) -> TableMove:
    spec = movable.spec
    keep_from = as_of - timedelta(days=movable.hot_days - 1)
    result = TableMove(spec.qualified_name, history_spec(spec, []).qualified_name, movable.hot_days,
                       keep_from)
    if not engine.table_exists(spec):
        result.status = "no table"
        return result
    if not dry_run and engine.path_version(history_path(spec)) is not None:
        result.recovered = _recover(engine, store, spec, movable.hot_days)
    version = engine.version(spec)
    due = engine.dates_before(spec, keep_from, version)
    if not due:
        return result
    result.dates, result.rows = [d for d, _ in due], sum(n for _, n in due)
    if dry_run:
        result.status = "would move"
        return result
    move_id = f"{as_of:%Y%m%d}-history-{datetime.now():%H%M%S}-{uuid.uuid4().hex[:6]}"
    with ExitStack() as locks:
        for day in result.dates:
            locks.enter_context(table_date_lock(root, spec.qualified_name, day, move_id))
        if not engine.is_latest(spec, version):  # a load committed before the locks were taken
            version = engine.version(spec)
            due = [(d, n) for d, n in engine.dates_before(spec, keep_from, version) if d in result.dates]
            result.dates, result.rows = [d for d, _ in due], sum(n for _, n in due)
            if not due:
                return result
        record = _copy_and_delete(engine, movable, result, move_id, version, between_steps)
    result.record = record
    store.append([record])
    result.status = "moved"
    return result


def _copy_and_delete(engine, movable: Movable, result: TableMove, move_id: str, version: int,
                     between_steps) -> HistoryLogRecord:
    """Steps 1 to 3 of a move (the dates held by their locks); the record of the move."""
    spec = movable.spec
    history = history_spec(spec, list(engine.table_layout(spec).types.items()))
    moved = {"move_id": move_id, "table": spec.qualified_name,
             "data_dates": [d.isoformat() for d in result.dates], "hot_version_read": version}
    copied = engine.copy_to_history(spec, history, result.dates, version,
                                    {"operation": "history copy", **moved})
    if copied.rows != result.rows:
        raise TerminalError(f"the history copy of {spec.qualified_name} does not match the hot table", [
            Problem(f"{copied.rows} rows copied to {history.qualified_name} for {len(result.dates)} "
                    f"data dates, {result.rows} rows in the hot table at version {version}",
                    file=history.path, fix="nothing was deleted from the hot table; run the move "
                    "again (the copy replaces those dates), and report it if it repeats")])
    if between_steps is not None:
        between_steps(result)
    move = {**moved, "history_table": history.qualified_name, "rows": copied.rows,
            "files": copied.files, "bytes": copied.bytes, "hot_days": movable.hot_days,
            "history_version": copied.version}
    hot_version = engine.delete_dates(spec, result.dates, {"operation": "history delete", MOVE_KEY: move})
    return _record(move, hot_version, "moved")


def _recover(engine, store, spec: TableSpec, hot_days: int) -> list[HistoryLogRecord]:
    """Record the moves of ``spec`` whose delete committed (in the hot table's retained commits)
    but whose record was lost."""
    deletes = [(meta[MOVE_KEY], meta["version"]) for meta in engine.commit_metadata(spec.path)
               if isinstance(meta.get(MOVE_KEY), dict)]
    if not deletes:
        return []
    logged = {r.move_id for r in store.read(HistoryLogRecord, where(table_name=spec.qualified_name))}
    found = [_record({"hot_days": hot_days, **move}, version, "recovered")
             for move, version in reversed(deletes) if move["move_id"] not in logged]
    store.append(found)
    return found


def _record(move: dict, hot_version: int, status: str) -> HistoryLogRecord:
    return HistoryLogRecord.of(
        move_id=move["move_id"], table_name=move["table"], history_table=move["history_table"],
        data_dates=[date.fromisoformat(d) for d in move["data_dates"]], rows=move["rows"],
        files=move["files"], bytes=move["bytes"], hot_days=move["hot_days"],
        hot_version_read=move["hot_version_read"], hot_version=hot_version,
        history_version=move["history_version"], status=status, moved_at=datetime.now())
