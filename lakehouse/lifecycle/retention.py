"""Retention and destruction (4.2.2.2 b, 4.2.2.5): remove what passed its keep, physically.

Per zone, the data dates older than their rule keeps (``retention_rules``), counted back from
the latest data date, expire unless a hold pins them (``holds``):

* Delta tables (near-source, model snapshots, history, quarantine, governance samples): the
  expired rows are DELETEd in one commit per table (deletion vectors purged), and the table is
  VACUUMed once the declared window has passed since the deletion, in this run or a later one,
  so that no version, time travel included, reads them any more;
* raw zone: the expired date folders (every version: data, control, checksum and signature
  files) are destroyed;
* staging: run folders untouched for longer than their keep are removed.

Every removal, and every expired date a hold kept, is a row of ``governance.retention_log``
(zone, table or path, data date, rows, files, bytes, rule, when, run). A dry run plans the same
and touches nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from pyarrow import fs as pafs

from lakehouse.governance.records import RetentionLogRecord
from lakehouse.lifecycle.holds import Holds
from lakehouse.lifecycle.retention_rules import Keep, RetentionRules
from lakehouse.lifecycle.retention_targets import RawTarget, TableTarget, raw_targets, table_targets
from lakehouse.sql import literal, quote_column
from lakehouse.zones.storage import filesystem, remove_dir
from lakehouse.zones.tables import join_path

DELETED, VACUUMED, DESTROYED, REMOVED, HELD = "deleted", "vacuumed", "destroyed", "removed", "held"


@dataclass(frozen=True)
class Removal:
    """One removal (planned, or done) or one expired date kept by a hold."""

    zone: str
    action: str
    table: str  # schema.name of the table (raw zone: the source's near-source table; staging: run id)
    path: str
    rule: str = ""
    keep_days: int | None = None
    data_date: date | None = None
    rows: int | None = None
    files: int | None = None
    bytes: int | None = None
    held_by: str | None = None
    table_version: int | None = None


@dataclass
class RetentionResult:
    run_id: str
    latest: date
    dry_run: bool
    vacuum_window_hours: int
    removals: list[Removal] = field(default_factory=list)

    @property
    def removed(self) -> list[Removal]:
        return [r for r in self.removals if r.action != HELD]

    @property
    def held(self) -> list[Removal]:
        return [r for r in self.removals if r.action == HELD]


def run(engine, store, project, latest: date, *, dry_run: bool = False, run_id: str | None = None,
        now: datetime | None = None, vacuum_window_hours: int | None = None,
        zones: set[str] | None = None) -> RetentionResult:
    """Expire every zone's data older than its keep before ``latest`` (the newest data date),
    vacuum the tables whose deletions passed the window, and record it all (dry run: plan
    only). ``zones`` limits the run to those zones."""
    now = now or datetime.now()
    window = project.retention.vacuum_window_hours if vacuum_window_hours is None else vacuum_window_hours
    result = RetentionResult(run_id or f"{latest:%Y%m%d}-retention-{now:%H%M%S}-{uuid.uuid4().hex[:6]}",
                             latest, dry_run, window)
    rules, holds = RetentionRules(project), Holds.of(project, now.date())
    targets = [t for t in table_targets(project, rules) if zones is None or t.zone in zones]

    def done(found: list[Removal]) -> None:  # recorded as it goes: a failure loses no record
        result.removals.extend(found)
        if not dry_run:
            store.append(records(found, result.run_id, now))

    with nullcontext() if dry_run else store.holding():
        for found in expire_each_table(engine, targets, holds, latest, result.run_id, dry_run):
            done(found)
        if zones is None or "raw" in zones:
            for target in raw_targets(project, rules):
                done(expire_raw(target, holds, latest, dry_run))
        if zones is None or "staging" in zones:
            done(expire_staging(project.settings.root, rules.keep(None, "staging"), now, dry_run))
        done(vacuum_due(engine, store, targets, result.removals, window, now, dry_run))
    return result


def expire_model(engine, project, model, spec, latest: date, run_id: str) -> list[Removal]:
    """After a build of snapshot model ``model`` for ``latest``: delete its snapshots past the
    keep of the model's own rule (its ``retention_days``, or a table rule); the table is vacuumed
    by the next retention run after the window, which also applies the broader rules."""
    own = model.retention_days or any(r.table == model.name for r in project.retention.tables)
    if model.load_type != "snapshot" or not own:
        return []
    keep = RetentionRules(project).keep(model.name, "model_snapshots")
    if keep is None or keep.by not in ("table", "model"):
        return []
    target = TableTarget("model_snapshots", model.name, spec, keep)
    return expire_tables(engine, [target], Holds.of(project), latest, run_id)


def expire_tables(engine, targets: list[TableTarget], holds: Holds, latest: date, run_id: str,
                  dry_run: bool = False) -> list[Removal]:
    """Delete the expired, unpinned rows of each target: one count and one commit per Delta
    table (the samples of every table are one Delta table)."""
    return [r for found in expire_each_table(engine, targets, holds, latest, run_id, dry_run) for r in found]


def expire_each_table(engine, targets: list[TableTarget], holds: Holds, latest: date, run_id: str,
                      dry_run: bool = False) -> Iterator[list[Removal]]:
    """``expire_tables``, one Delta table at a time: the removals of each as it is done."""
    by_path: dict[str, list[TableTarget]] = {}
    for target in targets:
        by_path.setdefault(target.spec.path, []).append(target)
    for group in by_path.values():
        spec = group[0].spec
        if not engine.table_exists(spec):
            continue
        counts = _counts(engine, group, latest)
        predicates, removals = [], []
        for i, target in enumerate(group):
            predicate, found = expired(target, counts.get(i, []), holds, latest)
            predicates += [predicate] if predicate else []
            removals += found
        version = None
        if predicates and not dry_run:
            version = engine.delete_rows(spec, " OR ".join(f"({p})" for p in predicates),
                                         {"run_id": run_id, "operation": "retention"})
        yield [r if r.action == HELD else replace(r, table_version=version) for r in removals]


def _dates_of(target: TableTarget) -> list[str]:
    return ["data_date"] if target.dated_by == "data_date" else ["start_dt", "end_dt"]


def _counts(engine, group: list[TableTarget], latest: date) -> dict[int, list[tuple[tuple, int]]]:
    """Rows past the loosest cutoff of ``group`` (targets of one Delta table), counted by date
    (zipper: by start_dt, end_dt), by the target's position in ``group``."""
    cutoff = max(t.keep.cutoff(latest) for t in group)
    dates = _dates_of(group[0])
    older = f"data_date < {literal(cutoff)}" if dates == ["data_date"] else f"end_dt <= {literal(cutoff)}"
    keyed = group[0].rows_of
    if keyed is None:
        return {0: engine.row_counts(group[0].spec, dates, older)}
    column = keyed[0]
    of = {t.rows_of[1]: i for i, t in enumerate(group)}
    found: dict[int, list[tuple[tuple, int]]] = {}
    for values, rows in engine.row_counts(group[0].spec, [column, *dates], older):
        if values[0] in of:
            found.setdefault(of[values[0]], []).append((values[1:], rows))
    return found


def expired(target: TableTarget, counts: list[tuple[tuple, int]], holds: Holds, latest: date
            ) -> tuple[str | None, list[Removal]]:
    """From the target's row counts by date (zipper: by start_dt, end_dt): the SQL selecting its
    expired rows no hold pins (None: none), and the removals and held dates it makes."""
    cutoff = target.keep.cutoff(latest)
    scope = f"{quote_column(target.rows_of[0])} = {literal(target.rows_of[1])} AND " if target.rows_of else ""

    def removal(action: str, day: date, rows: int, held_by: str | None = None) -> Removal:
        return Removal(target.zone, action, target.shown, target.spec.path, target.keep.rule,
                       target.keep.days, day, rows, held_by=held_by)

    if target.dated_by == "data_date":
        days, removals = [], []
        for (day,), rows in sorted(counts):
            if day >= cutoff:
                continue
            hold = holds.pinning(target.table, day)
            removals.append(removal(HELD if hold else DELETED, day, rows, hold and hold.name))
            days += [] if hold else [day]
        if not days:
            return None, removals
        return f"{scope}data_date IN ({', '.join(literal(d) for d in days)})", removals
    # zipper versions are valid from start_dt to the day before end_dt: expired once end_dt <= cutoff
    by_end: dict[tuple[date, str], int] = {}
    for (start, end), rows in counts:
        if end > cutoff:
            continue
        pinned = holds.overlapping(target.table, start, end - timedelta(days=1))
        key = (end, pinned[0].name if pinned else "")
        by_end[key] = by_end.get(key, 0) + rows
    removals = [removal(HELD if hold else DELETED, end, rows, hold or None)
                for (end, hold), rows in sorted(by_end.items())]
    if not any(r.action == DELETED for r in removals):
        return None, removals
    kept = "".join(f" AND NOT (start_dt <= {literal(h.data_dates.end)} AND end_dt > {literal(h.data_dates.start)})"
                   for h in holds.on(target.table))
    return f"{scope}end_dt <= {literal(cutoff)}{kept}", removals


def expire_raw(target: RawTarget, holds: Holds, latest: date, dry_run: bool = False) -> list[Removal]:
    """Destroy the source's raw date folders older than the keep (every version and file in
    them), except those a hold pins."""
    cutoff = target.keep.cutoff(latest)
    fs, base = filesystem(target.folder)
    found = []
    for info in sorted(fs.get_file_info(pafs.FileSelector(base, allow_not_found=True)),
                       key=lambda i: i.base_name):
        name = info.base_name
        if info.type != pafs.FileType.Directory or not name.startswith("data_date="):
            continue
        try:
            day = date.fromisoformat(name.split("=", 1)[1])
        except ValueError:
            continue
        if day >= cutoff:
            continue
        folder = join_path(target.folder, name)
        files, size, _ = _contents(folder)
        hold = holds.pinning(target.table, day)
        found.append(Removal("raw", HELD if hold else DESTROYED, f"near_source.{target.table}", folder,
                             target.keep.rule, target.keep.days, day, None, files, size,
                             held_by=hold and hold.name))
        if not hold and not dry_run:
            remove_dir(folder)
    return found


def expire_staging(root: str, keep: Keep | None, now: datetime, dry_run: bool = False) -> list[Removal]:
    """Remove the run folders of ``<root>/_staging`` in which nothing changed for ``keep.days``
    days (a finished run removes its own: these are left by runs that died)."""
    if keep is None:
        return []
    staging = join_path(root, "_staging")
    fs, base = filesystem(staging)
    found = []
    for info in sorted(fs.get_file_info(pafs.FileSelector(base, allow_not_found=True)),
                       key=lambda i: i.base_name):
        if info.type != pafs.FileType.Directory:
            continue
        folder = join_path(staging, info.base_name)
        files, size, newest = _contents(folder)
        changed = max(filter(None, [newest, _local(info.mtime) if info.mtime else None]), default=None)
        if changed is not None and now - changed < timedelta(days=keep.days):
            continue
        found.append(Removal("staging", REMOVED, info.base_name, folder, keep.rule, keep.days,
                             files=files, bytes=size))
        if not dry_run:
            remove_dir(folder)
    return found


def vacuum_due(engine, store, targets: list[TableTarget], removals: list[Removal], window: int,
               now: datetime, dry_run: bool = False) -> list[Removal]:
    """VACUUM every table with a deletion (this run's, or recorded by an earlier one) that is
    ``window`` hours old and not yet covered by a later VACUUM; the files and bytes it removed."""
    by_path = {t.spec.path: t for t in targets}
    deleted: dict[str, list[datetime]] = {}
    vacuumed: dict[str, list[datetime]] = {}
    for record in store.read(RetentionLogRecord) if store.exists(RetentionLogRecord) else []:
        if record.zone == "raw" or record.zone == "staging":
            continue
        path = record.path or _path_of(record.table_name, by_path)
        if path is None or record.removed_at is None:
            continue
        if record.action in (None, DELETED):
            deleted.setdefault(path, []).append(record.removed_at)
        elif record.action == VACUUMED:
            vacuumed.setdefault(path, []).append(record.removed_at)
    for r in removals:
        if r.action == DELETED and r.path in by_path:
            deleted.setdefault(r.path, []).append(now)
    found = []
    for path, times in sorted(deleted.items()):
        target = by_path.get(path)
        last_vacuum = max(vacuumed.get(path, []), default=None)
        due = [t for t in times if t + timedelta(hours=window) <= now
               and (last_vacuum is None or last_vacuum < t + timedelta(hours=window))]
        if target is None or not due:
            continue
        files = size = None
        if not dry_run:
            before = _data_files(path)
            engine.vacuum(target.spec, window)
            after = _data_files(path)
            gone = set(before) - set(after)
            files, size = len(gone), sum(before[f] for f in gone)
        found.append(Removal(target.zone, VACUUMED, target.spec.qualified_name, path,
                             f"vacuum_window_hours {window}", files=files, bytes=size))
    return found


def _path_of(table_name: str | None, by_path: dict[str, TableTarget]) -> str | None:
    """The path of a table named in a record written before records had paths."""
    return next((p for p, t in by_path.items() if t.spec.qualified_name == table_name), None)


def _data_files(path: str) -> dict[str, int]:
    """The table's files outside its log, with their sizes."""
    fs, base = filesystem(path)
    found = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=True))
    return {i.path: i.size for i in found if i.type == pafs.FileType.File
            and not i.path[len(base):].lstrip("/").startswith("_delta_log/")}


def _contents(folder: str) -> tuple[int, int, datetime | None]:
    """Files, bytes and the newest modification time in ``folder``."""
    fs, base = filesystem(folder)
    infos = [i for i in fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=True))
             if i.type == pafs.FileType.File]
    newest = max((_local(i.mtime) for i in infos if i.mtime), default=None)
    return len(infos), sum(i.size for i in infos), newest


def _local(moment: datetime) -> datetime:
    """A file time as a naive local time, as ``datetime.now()`` gives."""
    return datetime.fromtimestamp(moment.timestamp())


def _record(r: Removal, run_id: str, now: datetime) -> RetentionLogRecord:
    return RetentionLogRecord(
        run_id=run_id, table_name=r.table, data_date=r.data_date, rows=r.rows,
        retention_days=r.keep_days, table_version=r.table_version, removed_at=now, zone=r.zone,
        action=r.action, path=r.path, files=r.files, bytes=r.bytes, rule=r.rule, held_by=r.held_by)


def records(removals: list[Removal], run_id: str, now: datetime | None = None) -> list[RetentionLogRecord]:
    """The retention log rows of ``removals``."""
    now = now or datetime.now()
    return [_record(r, run_id, now) for r in removals]

