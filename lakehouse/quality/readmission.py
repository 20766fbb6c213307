"""Re-admission of corrected rows: rows a ``drop`` rule quarantined for a data date come back,
corrected by the source, in a file of the delivery's format.

Each corrected row must match a held row by key; it runs the table's new-rows rules again (a
row still failing a drop rule stays held); the rows that pass replace the table's state for
that data date (the snapshot or append partition, or the zipper versions valid that day, which
are rebuilt), and their quarantine rows are marked re-admitted by this run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.config import Project, SourceContract
from lakehouse.engine import LINE, Engine
from lakehouse.errors import DeliveryError, Problem
from lakehouse.filters import where
from lakehouse.governance import zipper_dates
from lakehouse.governance.store import GovernanceStore
from lakehouse.ingestion.extract_parser import parse_extract
from lakehouse.zones.near_source import near_source_spec
from lakehouse.quality import assessment as quality
from lakehouse.quality.rule_sql import fails_sql
from lakehouse.zones.storage import filesystem
from lakehouse.zones.tables import join_path


@dataclass
class Readmission:
    source: str
    data_date: date
    run_id: str
    readmitted: int = 0
    still_held: list[str] = field(default_factory=list)  # "line N: rule" for rows failing again
    not_held: list[int] = field(default_factory=list)  # lines whose key is not in quarantine
    table_version: int | None = None


def key_hash(values: tuple) -> str:
    """The quarantine's ``key_hash`` of a key (same as the engine's SQL sha2 of the joined key)."""
    return hashlib.sha256("\u0001".join("" if v is None else str(v) for v in values).encode()).hexdigest()


def readmit(engine: Engine, project: Project, contract: SourceContract, data_date: date, file: Path,
            run_id: str) -> Readmission:
    """Re-admit the corrected rows in ``file`` for ``data_date``."""
    root = project.settings.root
    spec = near_source_spec(contract, root)
    held_spec = quality.quarantine_spec(contract, root)
    day = where(data_date=data_date)
    held = engine.rows(held_spec, day & where(stage="quality", readmitted_run=None)) \
        if engine.table_exists(held_spec) else []
    if not held:
        raise DeliveryError(f"no rows of {contract.name} are held in quarantine for {data_date}", [
            Problem("nothing to re-admit", str(file), fix=f"check the data date; held rows are in "
                    f"{held_spec.qualified_name}")])
    parsed = parse_extract(file, contract)
    if parsed.rejected:
        raise DeliveryError(f"corrected file {file} has rows that cannot be read", [
            Problem(r.reason, str(file), r.line, fix="correct the row and re-admit again")
            for r in parsed.rejected])
    outcome = Readmission(contract.name, data_date, run_id)
    keys = list(contract.keys)
    held_keys = {r["key_hash"] for r in held}
    keep = []
    for index, line in enumerate(parsed.lines):
        if key_hash(tuple(parsed.columns[k][index] for k in keys)) in held_keys:
            keep.append(index)
        else:
            outcome.not_held.append(line)
    if not keep:
        raise DeliveryError(f"no corrected row of {file} matches a held row of {data_date}", [
            Problem(f"line {line}: its key is not held in quarantine", str(file), line,
                    fix="re-admit only rows the quarantine holds (same key)") for line in outcome.not_held])

    folder = join_path(root, "_staging", run_id)
    corrected = join_path(folder, f"{contract.table_name}.corrected.parquet")
    types = {a.name: a.spark_type for a in contract.attributes}
    columns = {name: [values[i] for i in keep] for name, values in parsed.columns.items()}
    arrow = parsed.__class__(parsed.file, columns, [parsed.lines[i] for i in keep]).to_arrow(types)
    fs, path = filesystem(corrected)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    pq.write_table(arrow.append_column(LINE, pa.array([parsed.lines[i] for i in keep], pa.int64())),
                   path, filesystem=fs)
    try:
        facts = quality.DeliveryFacts(len(keep), 0)
        checked = quality.assess_new_rows(engine, project, contract, spec, corrected, data_date, facts)
        failing = [r for r in checked.failed() if r.severity in ("drop", "fail") and r.row_level]
        passing = corrected
        if failing:
            passing, dropped = corrected + ".kept", corrected + ".dropped"
            engine.split_batch(checked.frame, {r.name: fails_sql(r) for r in failing}, passing, dropped)
            outcome.still_held = [f"line {line}: {', '.join(rules)}"
                                  for line, rules in engine.failed_lines(dropped)]
        merged = join_path(folder, f"{contract.table_name}.merged.parquet")
        count = engine.merge_corrected(spec, data_date, passing, merged)
        outcome.readmitted = count
        if count:
            metadata = {"run_id": run_id, "source": contract.name, "data_date": data_date.isoformat(),
                        "operation": "readmission", "corrected_file": str(file)}
            if contract.load_type == "zipper":
                zipper_dates.load_zipper(GovernanceStore(engine, root), spec, merged, data_date,
                                         run_id, metadata)
            else:
                engine.load_partition(spec, merged, data_date, metadata)
            readmitted = {key_hash(k) for k in engine.distinct_rows(passing, keys)}
            for row in held:
                if row["key_hash"] in readmitted:
                    row["readmitted_run"] = run_id
            everything = engine.rows(held_spec, day)
            others = [r for r in everything if not (r["stage"] == "quality" and r["readmitted_run"] is None)]
            engine.replace_rows(held_spec, others + held, day)
        outcome.table_version = engine.version(spec)
    finally:
        fs.delete_dir_contents(path.rsplit("/", 1)[0], missing_dir_ok=True)
    return outcome
