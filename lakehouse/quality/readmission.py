"""Re-admission of corrected rows: rows a ``drop`` rule quarantined for a data date come back,
corrected by the source, in a file of the delivery's format.

Each corrected row must match a held row by key. A re-admission is one load of the date, like a
delivery: under the table-date lock, the table's current rows of the date with the corrected
rows in place (the corrected extract) run the table's new-rows rules (a corrected row still
failing a drop or fail rule stays held), the rows that pass replace the table's state for that
data date in one commit (the snapshot or append partition, or the zipper versions valid that
day, which are rebuilt), and the load log, quality records and the quarantine rows (marked
re-admitted by this run) tell the layer models and the reports that the date changed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.config import Project, SourceContract
from lakehouse.engine import LINE, Engine
from lakehouse.errors import DeliveryError, Problem
from lakehouse.filters import where
from lakehouse.governance import zipper_dates
from lakehouse.governance.records import QualityStatusRecord, QuarantineRecord
from lakehouse.ingestion.extract_parser import ParsedExtract, parse_extract
from lakehouse.ingestion.t1_load import LoadContext, LoadResult, log_load, record_quality
from lakehouse.quality import assessment as quality
from lakehouse.quality.rule_sql import fails_sql
from lakehouse.security import at_rest
from lakehouse.security.masking import masked_attributes
from lakehouse.security.pseudonyms import quarantine_key
from lakehouse.zones.locks import table_date_lock
from lakehouse.zones.near_source import near_source_spec
from lakehouse.zones.storage import filesystem, remove_dir
from lakehouse.zones.tables import join_path

MARKER = "re-admission"
"""How a re-admission's load log row begins its message."""


@dataclass
class Readmission:
    source: str
    data_date: date
    run_id: str
    readmitted: int = 0
    still_held: list[str] = field(default_factory=list)  # "line N: rule" for rows failing again
    not_held: list[int] = field(default_factory=list)  # lines whose key is not in quarantine
    table_version: int | None = None


def readmit(engine: Engine, project: Project, contract: SourceContract, data_date: date, file: Path,
            run_id: str) -> Readmission:
    """Re-admit the corrected rows in ``file`` for ``data_date``; raises ``TableBusy`` while
    another run writes the table for that date, ``DeliveryError`` when nothing can be re-admitted."""
    ctx = LoadContext(engine, project, run_id)
    spec = near_source_spec(contract, ctx.root)
    with table_date_lock(ctx.root, spec.qualified_name, data_date, run_id):
        try:
            outcome = _readmit(ctx, contract, spec, data_date, Path(file))
            ctx.flush()
        finally:
            remove_dir(join_path(ctx.root, "_staging", run_id))
    return outcome


def _readmit(ctx: LoadContext, contract: SourceContract, spec, data_date: date, file: Path) -> Readmission:
    engine, started = ctx.engine, datetime.now()
    if contract.incremental is not None:
        raise DeliveryError(f"{contract.name} is loaded from incremental extracts: its held rows "
                            "are not re-admitted", [Problem(
                                "a correction of an incremental extract is a new change", str(file),
                                fix="the source system delivers the corrected rows in its next "
                                "extract, updated after the watermark")])
    held_spec = quality.quarantine_spec(contract, ctx.root)
    day = where(data_date=data_date)
    held = ctx.store.read(QuarantineRecord, day & where(stage="quality", readmitted_run=None),
                          table=contract.table_name)
    if not held:
        raise DeliveryError(f"no rows of {contract.name} are held in quarantine for {data_date}", [
            Problem("nothing to re-admit", str(file), fix=f"check the data date; held rows are in "
                    f"{held_spec.qualified_name}")])
    parsed = parse_extract(file, contract, masked_attributes(ctx.project, contract.attributes))
    if parsed.rejected:
        raise DeliveryError(f"corrected file {file} has rows that cannot be read", [
            Problem(r.reason, str(file), r.line, fix="correct the row and re-admit again")
            for r in parsed.rejected])
    outcome = Readmission(contract.name, data_date, ctx.run_id)
    folder = join_path(ctx.root, "_staging", ctx.run_id)
    hashes = engine.key_hashes(_stage(ctx.project, contract, parsed, range(len(parsed.lines)),
                                      join_path(folder, f"{contract.table_name}.delivered.parquet")),
                               spec, quarantine_key(ctx.project))
    held_keys = {r.key_hash for r in held}
    keep = [i for i, line in enumerate(parsed.lines) if hashes[line] in held_keys]
    outcome.not_held = [line for line in parsed.lines if hashes[line] not in held_keys]
    if not keep:
        raise DeliveryError(f"no corrected row of {file} matches a held row of {data_date}", [
            Problem(f"line {line}: its key is not held in quarantine", str(file), line,
                    fix="re-admit only rows the quarantine holds (same key)") for line in outcome.not_held])

    corrected = _stage(ctx.project, contract, parsed, keep, join_path(folder, f"{contract.table_name}.corrected.parquet"))
    extract = join_path(folder, f"{contract.table_name}.parquet")
    rows_in = engine.merge_corrected(spec, data_date, corrected, extract)
    checked = quality.assess_new_rows(engine, ctx.project, contract, spec, extract, data_date,
                                      quality.DeliveryFacts(rows_in, 0))
    # only corrected rows stay out: the table's rows of the date were admitted before
    failing = {r.name: f"({fails_sql(r)}) AND {LINE} IS NOT NULL" for r in checked.failed()
               if r.severity in ("drop", "fail") and r.row_level}
    loadable, dropped, failed = extract, None, []
    if failing:
        loadable, dropped = extract + ".kept", extract + ".dropped"
        engine.split_batch(checked.frame, failing, loadable, dropped)
        failed = engine.failed_lines(dropped)
        outcome.still_held = [f"line {line}: {', '.join(rules)}" for line, rules in failed]
        checked.dropped = dict(Counter(rule for _, rules in failed for rule in rules))
    failed_lines = {line for line, _ in failed}
    readmitted = {hashes[parsed.lines[i]] for i in keep if parsed.lines[i] not in failed_lines}
    outcome.readmitted = len(readmitted)
    if readmitted:
        _load(ctx, contract, spec, data_date, file, loadable, dropped)
        outcome.table_version = engine.version(spec)
        result = LoadResult(contract.name, spec.qualified_name, data_date, "succeeded", rows_in,
                            rows_in - len(failed), len(failed), table_version=outcome.table_version,
                            file=str(file), rows_dropped=len(failed))
        result.message = (f"{MARKER} of {len(readmitted)} corrected row(s) held in quarantine"
                          + (f"; {len(failed)} still held" if failed else ""))
        record_quality(ctx, spec, data_date, checked, result, _still_blocking(ctx, contract, data_date))
        log_load(ctx, contract, spec, result, hashlib.sha256(file.read_bytes()).hexdigest(), started,
                 operation="readmission")
        _mark_readmitted(ctx, contract, data_date, held, readmitted)
    else:
        outcome.table_version = engine.version(spec)
    return outcome


def _stage(project: Project, contract: SourceContract, parsed: ParsedExtract, indices, path: str) -> str:
    """The rows ``indices`` of the corrected file as Parquet with their lines, at ``path``."""
    indices = list(indices)
    types = {a.name: a.spark_type for a in contract.attributes}
    columns = {name: [values[i] for i in indices] for name, values in parsed.columns.items()}
    lines = [parsed.lines[i] for i in indices]
    arrow = parsed.__class__(parsed.file, columns, lines).to_arrow(types)
    fs, local = filesystem(path)
    fs.create_dir(local.rsplit("/", 1)[0], recursive=True)
    pq.write_table(arrow.append_column(LINE, pa.array(lines, pa.int64())), local, filesystem=fs,
                   **at_rest.staged_parquet_options(project))
    return path


def _load(ctx: LoadContext, contract: SourceContract, spec, data_date: date, file: Path,
          loadable: str, dropped: str | None) -> None:
    """Replace the table's state for the date with the loadable extract, in one commit; the
    versions of keys still held stay as they are (zipper)."""
    metadata = {"run_id": ctx.run_id, "source": contract.name, "data_date": data_date.isoformat(),
                "operation": "readmission", "corrected_file": str(file)}
    if contract.load_type == "zipper":
        frozen = None
        if dropped is not None:
            frozen = sorted(ctx.engine.distinct_rows(dropped, list(contract.keys)))
        zipper_dates.load_zipper(ctx.engine, ctx.store, spec, loadable, data_date, ctx.run_id, metadata, frozen)
    else:
        ctx.engine.load_partition(spec, loadable, data_date, metadata)


def _still_blocking(ctx: LoadContext, contract: SourceContract, data_date: date) -> list[str]:
    """The rules that held the date back at its last decision and that a re-admission does not
    check again (the delivery's own rules, such as the control totals): they keep holding it."""
    previous = ctx.store.newest_of_date(QualityStatusRecord, data_date, "source",
                                        "decided_at").get(contract.name)
    if previous is None or previous.promotable:
        return []
    checked_again = {rule.name for rule in quality.table_rules(ctx.project, contract)}
    return [name for name in previous.blocking_rules or [] if name not in checked_again]


def _mark_readmitted(ctx: LoadContext, contract: SourceContract, data_date: date,
                     held: list[QuarantineRecord], readmitted: set[str]) -> None:
    """Mark the held rows of the re-admitted keys with this run, in one commit."""
    day = where(data_date=data_date)
    marked = [replace(r, readmitted_run=ctx.run_id) if r.key_hash in readmitted else r for r in held]
    everything = ctx.store.read(QuarantineRecord, day, table=contract.table_name)
    others = [r for r in everything if not (r.stage == "quality" and r.readmitted_run is None)]
    ctx.store.replace(QuarantineRecord, others + marked, day, table=contract.table_name)
