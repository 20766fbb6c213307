"""Incremental collection by watermark (6.3.1.1 c): a zipper source whose daily extract carries
only the rows changed since the previous one, found by their update timestamp.

Loading data date D keeps D's admitted rows in the source's increments table, then folds D and
every loaded date after it again, in date order (D's rows change the state of each later date):
each fold turns the date's rows into the full state at the end of that date, checking them
against the watermark (``lakehouse.engine.increments``), quarantines its late corrections and
rows from the future, folds the state into the zipper table with the zipper's own load
(``zipper_dates.load_zipper``) and records the watermark in ``governance.watermarks``; a later
date folded again gets a load-log record of its own (operation ``refold``) with the counts it
has now. So the zipper's guarantees hold: a rerun changes nothing, and loading the dates in
any order gives the table loading them in order gives. The same scheme as the change-event path
(``lakehouse.realtime.change_zipper``), for extracts instead of log events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from lakehouse.engine.increments import FUTURE, LATE, FoldOutcome, IncrementPlan, as_timestamp
from lakehouse.filters import where
from lakehouse.governance import zipper_dates
from lakehouse.governance.records import LoadLogRecord, QuarantineRecord, WatermarksRecord
from lakehouse.governance.zipper_dates import fold_dates
from lakehouse.security.masking import masked_attributes
from lakehouse.security.pseudonyms import quarantine_key
from lakehouse.zones.increments import increments_spec
from lakehouse.zones.tables import join_path

STAGE = "watermark"
"""The quarantine stage of the rows a watermark check holds back."""
REFOLD = "refold"
"""The load-log operation of a later date folded again by a backfill."""
FILE_LOADS = (None, "delivery", REFOLD)
"""The load-log operations whose counts are those of a delivered file now in the table (not a
re-admission, nor a rerun that found the file loaded already)."""


def increment_plan(contract) -> IncrementPlan:
    """What the engine needs to read ``contract``'s incremental extracts."""
    block = contract.incremental
    deletes = block.deletes
    return IncrementPlan(
        keys=tuple(contract.keys), attributes=tuple(a.name for a in contract.attributes),
        updated_at=block.updated_at,
        dated=contract.attribute(block.updated_at).parsed_type.kind == "date",
        delete_column=deletes.column if deletes else None,
        delete_value=deletes.value if deletes else None)


def fold_increments(engine, spec, increments, plan: IncrementPlan, data_date: date,
                    loaded: list[date], folder: str,
                    fold: Callable[[str, FoldOutcome, str], None]) -> list[FoldOutcome]:
    """Fold the increments kept in ``increments`` of ``data_date`` and of each ``loaded`` date
    after it into zipper table ``spec``, in date order: each date's full state is staged under
    ``folder`` and handed to ``fold(state_path, outcome, held_path)`` (which folds it and
    quarantines the held rows); what each fold did."""
    loaded = sorted({*loaded, data_date})
    outcomes = []
    for day in fold_dates(data_date, loaded):
        state_path = join_path(folder, f"fold_{day.isoformat()}.state.parquet")
        held_path = join_path(folder, f"fold_{day.isoformat()}.held.parquet")
        outcome = engine.increments.stage_fold(spec, increments, plan, day,
                                               [d for d in loaded if d < day], state_path, held_path)
        fold(state_path, outcome, held_path)
        outcomes.append(outcome)
    return outcomes


def apply_increment(engine, store, project, contract, spec, staged_path: str, data_date: date,
                    file_name: str, run_id: str, metadata: dict[str, Any]) -> FoldOutcome:
    """Keep the staged incremental extract of ``data_date`` and fold it, and every loaded date
    after it, into zipper table ``spec``; what folding ``data_date`` did."""
    increments = increments_spec(contract, project.settings.root)
    plan = increment_plan(contract)
    _prepare(engine, increments)
    engine.increments.store(increments, staged_path, data_date, file_name, metadata)
    recorded = zipper_dates.loaded_dates(store, spec)
    loaded = recorded if recorded is not None else engine.zipper_loaded_dates(spec)

    def fold(state_path: str, outcome: FoldOutcome, held_path: str) -> None:
        day = outcome.data_date
        held_spec = store.spec(QuarantineRecord, contract.table_name)
        if outcome.held or engine.has_rows(held_spec, where(data_date=day, stage=STAGE)):
            held = _held(project, contract, spec, plan, outcome, held_path, run_id) \
                if outcome.held else None
            engine.replace_quarantined(store.prepared(QuarantineRecord, contract.table_name),
                                       day, STAGE, held)
        zipper_dates.load_zipper(engine, store, spec, state_path, day, run_id, {
            **metadata, "operation": "incremental zipper load", "folded_date": day.isoformat(),
            "watermark": _text(outcome.watermark_before)})
        store.append([_record(contract, spec, plan, outcome, data_date, run_id)])
        if day != data_date:
            store.append(_refold_log(engine, store, contract, spec, outcome, data_date, run_id))

    folded = fold_increments(engine, spec, increments, plan, data_date, loaded,
                             staged_path.rsplit("/", 1)[0], fold)
    return folded[0]


def summary(outcome: FoldOutcome) -> str:
    """What folding a date did, for the load log's message."""
    watermark = _text(outcome.watermark_before) or "none (no update applied before)"
    return (f"incremental extract against the watermark {watermark}: {outcome.changed} changed, "
            f"{outcome.unchanged} unchanged, {outcome.deleted} deleted; {outcome.late} late "
            f"correction(s) and {outcome.future} row(s) from the future quarantined")


def _prepare(engine, spec) -> None:
    """Create the increments table, or add the columns the contract gained since."""
    def bring_to_spec() -> None:
        layout = engine.table_layout(spec)
        added = [c for c in spec.column_names if layout is not None and c not in layout.types]
        if added:
            engine.evolve_table(spec, layout, added)
        engine.ensure_table(spec)

    engine.prepare_table(spec, bring_to_spec)


def _held(project, contract, spec, plan: IncrementPlan, outcome: FoldOutcome, path: str,
          run_id: str) -> dict[str, Any]:
    """What ``Engine.replace_quarantined`` needs to quarantine the date's late and future rows,
    their level-3+ values masked and their keys hashed with the quarantine's key."""
    day, watermark = outcome.data_date, _text(outcome.watermark_before)
    return {
        "path": path, "hmac_key": quarantine_key(project),
        "columns": list(plan.attributes), "keys": list(plan.keys),
        "masked": masked_attributes(project, contract.attributes),
        "reasons": {
            LATE: ("timeliness", f"late correction: {plan.updated_at} is at or before the "
                   f"watermark {watermark} (the newest update applied before {day}) and the row "
                   "differs from the version in effect; the source system must send the "
                   "correction as a new change, updated after the watermark"),
            FUTURE: ("validity", f"from the future: {plan.updated_at} is after the end of the "
                     f"data date {day}; the source system must deliver the row in the extract "
                     "of the date it was updated on"),
        },
        "literals": {"source": contract.name, "table_name": spec.qualified_name, "data_date": day,
                     "run_id": run_id, "file_name": outcome.file_name,
                     "quarantined_at": datetime.now(), "readmitted_run": None},
    }


def _record(contract, spec, plan: IncrementPlan, outcome: FoldOutcome, loaded_date: date,
            run_id: str) -> WatermarksRecord:
    return WatermarksRecord(
        run_id=run_id, source=contract.name, table_name=spec.qualified_name,
        data_date=outcome.data_date, loaded_date=loaded_date, updated_at=plan.updated_at,
        watermark_before=as_timestamp(outcome.watermark_before),
        watermark_after=as_timestamp(outcome.watermark_after), rows_in=outcome.rows_in,
        rows_changed=outcome.changed, rows_unchanged=outcome.unchanged,
        rows_deleted=outcome.deleted, rows_late=outcome.late, rows_future=outcome.future,
        folded_at=datetime.now())


def _refold_log(engine, store, contract, spec, outcome: FoldOutcome, backfilled: date,
                run_id: str) -> list[LoadLogRecord]:
    """The load log's record of a later date folded again by the backfill of ``backfilled``:
    its delivery's counts with the rows the watermark holds back now (none when the date has
    no successful delivery on record)."""
    day, now = outcome.data_date, datetime.now()
    found = [r for r in store.read(LoadLogRecord, where(source=contract.name, data_date=day,
                                                       status="succeeded"))
             if r.operation in FILE_LOADS]
    if not found:
        return []
    previous = max(found, key=lambda r: r.finished_at)
    loaded = outcome.rows_in - outcome.held
    return [LoadLogRecord(
        run_id=run_id, source=contract.name, table_name=spec.qualified_name, data_date=day,
        load_type=contract.load_type, file_name=previous.file_name, sha256=previous.sha256,
        rows_in=previous.rows_in, rows_loaded=loaded,
        rows_quarantined=previous.rows_in - (previous.rows_refused or 0) - loaded,
        rows_refused=previous.rows_refused, status="succeeded",
        message=f"folded again by the backfill of {backfilled}: {summary(outcome)}",
        table_version=engine.version(spec), started_at=now, finished_at=now, operation=REFOLD)]


def _text(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
