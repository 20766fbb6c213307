"""One source's T-1 load: find the delivery, verify its transfer, land it raw, parse, check, load
near-source.

Any file-level problem stops the load before the target table is touched, so the table keeps
its previous Delta version. Row-level problems go to quarantine; the load log records rows in,
rows loaded and rows quarantined for every attempt, failed ones included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.admission import checks as admission
from lakehouse.governance.records import (
    LoadLogRecord, QuarantineRecord, RawManifestRecord, newest_per_key)
from lakehouse.governance import zipper_dates
from lakehouse.governance.store import GovernanceStore
from lakehouse.zones import raw_zone
from lakehouse.admission.checks import Registered
from lakehouse.config import Project
from lakehouse.ingestion.control_file import ControlTotals, read_control_file
from lakehouse.ingestion.delivery_checks import control_problems, key_problems
from lakehouse.ingestion.transfer_verification import TransferCheck, check_transfer
from lakehouse.engine import LINE, Engine
from lakehouse.errors import DeliveryError, LakehouseError, Problem
from lakehouse.filters import where
from lakehouse.ingestion import incremental_load
from lakehouse.ingestion.extract_parser import ParsedExtract, parse_extract
from lakehouse.ingestion.text_values import exact_sum
from lakehouse.ingestion.misnamed import found_instead
from lakehouse.zones.locks import table_date_lock
from lakehouse.zones.near_source import near_source_spec
from lakehouse.quality import assessment as quality
from lakehouse.security import at_rest
from lakehouse.security.keys import for_project
from lakehouse.security.masking import masked_attributes
from lakehouse.security.sealing import QUARANTINE_LINE, seal
from lakehouse.zones.storage import filesystem, remove_dir
from lakehouse.zones.tables import join_path


@dataclass
class LoadResult:
    source: str
    table: str
    data_date: date
    status: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""
    table_version: int | None = None
    file: str = ""
    admission: dict | None = None
    rows_dropped: int = 0
    rows_refused: int = 0  # records of a delivery refused as a whole
    promotable: bool | None = None
    blocking_rules: list[str] = field(default_factory=list)
    unchanged: bool = False  # this very file was already loaded for the date: nothing was written
    loaded_at: datetime | None = None  # when the rows now in the table for the date were loaded
    watermark: datetime | date | None = None  # incremental extracts: the newest update applied before


@dataclass
class LoadContext:
    """What the loads of one run share. Governance records are appended as each load step
    ends; a run holds them in its store and writes them together (``GovernanceStore.holding``)."""

    engine: Engine
    project: Project
    run_id: str
    registered: dict[str, Registered] = field(default_factory=dict)
    validations: list = field(default_factory=list)
    force: bool = False  # load a delivery again even when this very file was loaded for the date
    _loaded: dict[date, dict[str, LoadLogRecord]] = field(default_factory=dict)
    _store: GovernanceStore | None = None

    @property
    def store(self) -> GovernanceStore:
        if self._store is None:
            self._store = GovernanceStore(self.engine, self.root)
        return self._store

    def last_load(self, source: str, data_date: date) -> LoadLogRecord | None:
        """The latest successful load of a delivered file of ``source`` for ``data_date`` (read
        once per date); re-admissions do not count, so rerunning the delivery they corrected
        does not undo them, nor do reruns that found the file loaded already. A later date
        folded again by a backfill counts, with the counts it has since."""
        if data_date not in self._loaded:
            deliveries = [r for r in self.store.read(LoadLogRecord, where(data_date=data_date,
                                                                           status="succeeded"))
                          if r.operation in incremental_load.FILE_LOADS]
            self._loaded[data_date] = {key[0]: r for key, r in
                                       newest_per_key(deliveries, ["source"], "finished_at").items()}
        return self._loaded[data_date].get(source)

    @property
    def root(self) -> str:
        return self.project.settings.root

    @property
    def landing(self) -> str:
        return self.project.settings.landing

    def flush(self) -> None:
        """Keep the run's Great Expectations results for the Data Docs; remove the run's
        staging area."""
        remove_dir(join_path(self.root, "_staging", self.run_id))
        if self.validations:
            from lakehouse.quality import ge_adapter
            ge_adapter.store_results(self.validations, self.project.reports_dir / "data_docs")
        self.validations = []


def load_source(ctx: LoadContext, contract, data_date: date, file: Path | None = None) -> LoadResult:
    """Land, admit and load ``contract``'s delivery for ``data_date``; never raises for bad
    input, reports it. A delivery refused admission stays in the raw zone only. A source known
    only by its real-time feed is kept from the feed's events (``realtime.feed_loads``)."""
    if contract.feed_only:
        from lakehouse.realtime.feed_loads import load_from_feed

        return load_from_feed(ctx, contract, data_date)
    spec = near_source_spec(contract, ctx.root)
    started = datetime.now()
    result = LoadResult(contract.name, spec.qualified_name, data_date, "failed")
    data_file, control_file = None, None
    try:
        data_file, control_file = _locate(ctx, contract, data_date, file)
    except LakehouseError as exc:
        result.message = exc.render()
        log_load(ctx, contract, spec, result, "", started)
        return result
    result.file = str(data_file)
    with table_date_lock(ctx.root, spec.qualified_name, data_date, ctx.run_id):
        sha, staging = "", None
        try:
            transfer = check_transfer(ctx.project, contract, data_date, data_file, control_file)
            sha = transfer.sha256 or ""
            if transfer.problems:  # bytes the source system did not send are not even landed
                raise transfer.refusal(contract, data_date, data_file, control_file)
            landed = _land(ctx, contract, data_date, data_file, control_file, transfer)
            sha = landed.sha256
            if transfer.sha256 is not None and sha != transfer.sha256:
                raise DeliveryError(f"delivery {data_file} for {contract.name} on {data_date} "
                                    "changed while it was being landed", [Problem(
                                        "the landed bytes are not the verified ones", str(data_file),
                                        fix="wait until the delivery is complete, then run again")])
            _require_control(ctx, contract, data_date, control_file)
            previous = None if ctx.force else ctx.last_load(contract.name, data_date)
            if previous is not None and previous.sha256 == sha:
                return _unchanged(ctx, spec, previous, result)
            parsed, staging, checked = _admit(ctx, contract, spec, data_date, data_file,
                                              control_file, result)
            _write(ctx, contract, spec, parsed, staging, data_date, checked, result)
            result.table_version = ctx.engine.version(spec)
            result.status = "succeeded"
        except LakehouseError as exc:
            # the whole file is refused (its bytes stay in the raw zone): every record read is
            # refused, none loaded or quarantined
            result.message = exc.render()
            result.rows_loaded = result.rows_quarantined = 0
            result.rows_refused = result.rows_in
        finally:
            if staging is not None:
                _unstage(staging)
            log_load(ctx, contract, spec, result, sha, started,
                     "unchanged" if result.unchanged else "delivery")
    return result


def log_load(ctx: LoadContext, contract, spec, result: LoadResult, sha: str, started: datetime,
             operation: str = "delivery") -> None:
    """Append the load log record of ``result`` (an attempt that wrote nothing too: a refusal,
    or a rerun of a file already loaded, ``operation`` "unchanged")."""
    finished = datetime.now()
    if operation != "unchanged":
        result.loaded_at = finished
    ctx.store.append([LoadLogRecord(
        run_id=ctx.run_id, source=contract.name, table_name=spec.qualified_name,
        data_date=result.data_date, load_type=contract.load_type,
        file_name=Path(result.file).name if result.file else None, sha256=sha or None,
        rows_in=result.rows_in if operation != "unchanged" else 0,
        rows_loaded=result.rows_loaded if operation != "unchanged" else 0,
        rows_quarantined=result.rows_quarantined if operation != "unchanged" else 0,
        rows_refused=result.rows_refused, status=result.status,
        message=result.message or None, table_version=result.table_version,
        started_at=started, finished_at=finished, operation=operation,
    )])


def _unchanged(ctx: LoadContext, spec, previous: LoadLogRecord, result: LoadResult) -> LoadResult:
    """The same file was loaded for the date already: report that load, write nothing."""
    result.status, result.unchanged = "succeeded", True
    result.rows_in, result.rows_loaded = previous.rows_in, previous.rows_loaded
    result.rows_quarantined = previous.rows_quarantined
    result.table_version, result.loaded_at = ctx.engine.version(spec), previous.finished_at
    result.message = (f"already loaded by run {previous.run_id} at "
                      f"{previous.finished_at:%Y-%m-%d %H:%M:%S} (same file, sha256 "
                      f"{previous.sha256[:12]}…): nothing to do; load it again with --force")
    return result


def _admit(ctx: LoadContext, contract, spec, data_date: date, data_file: Path,
           control_file: Path | None, result: LoadResult
           ) -> tuple[ParsedExtract, str, quality.Assessment]:
    """Run the six admission checks on the delivery and record the decision; the quality
    check runs the table's new-rows rules on the staged extract.

    Returns the parsed extract, its staged Parquet (the caller removes it) and the quality
    assessment; raises ``AdmissionRejected`` listing every failing check.
    """
    registered = ctx.registered.get(contract.name)
    checks = admission.static_checks(ctx.project, contract, data_date, registered)
    masked = masked_attributes(ctx.project, contract.attributes)
    parsed, staging, profile, checked, blocking = None, None, None, None, []
    try:
        parsed = parse_extract(data_file, contract, masked)
    except DeliveryError as exc:
        blocking = [Problem(exc.summary, str(data_file)), *exc.problems]
    if parsed is not None:
        result.rows_in, result.rows_quarantined = parsed.rows_in, len(parsed.rejected)
        try:
            totals, blocking = _delivery_problems(contract, parsed, data_date, control_file)
        except DeliveryError as exc:  # an unreadable control file
            totals, blocking = None, [Problem(exc.summary, str(control_file)), *exc.problems]
        staging = _stage(ctx, contract, parsed)
        facts = quality.DeliveryFacts(
            parsed.rows_in, len(parsed.rejected), totals.row_count if totals else None,
            _expected_amount(contract, parsed, totals), _arrival(ctx, data_file),
            _amount_undecided(contract, parsed, totals))
        try:
            checked = quality.assess_new_rows(ctx.engine, ctx.project, contract, spec, staging,
                                              data_date, facts)
        except BaseException:
            _unstage(staging)
            raise
        profile = quality.evidence(checked, facts)
    checks["quality"] = admission.check_quality(profile, blocking)
    decision = admission.Decision(contract.name, data_date, contract.content_hash,
                                  registered.version if registered else None, checks)
    ctx.store.append(decision.log_records(ctx.run_id, data_file.name, masked))
    if not decision.admitted:
        if staging is not None:
            _unstage(staging)
        raise decision.rejection(f"delivery {data_file} for {contract.name} on {data_date}")
    result.admission = profile
    return parsed, staging, checked


def _arrival(ctx: LoadContext, data_file: Path) -> datetime:
    """When the delivery arrived in landing (its modification time), in the lakehouse time zone."""
    tz = ctx.project.settings.tzinfo
    return datetime.fromtimestamp(data_file.stat().st_mtime, tz).replace(tzinfo=None)


def _reconciled_column(contract, totals) -> str | None:
    """The amount column whose sum the control file's amount total states (None when the
    contract declares none or the control file gives no amount total)."""
    control = contract.delivery.control
    if totals is None or totals.amount_total is None or control is None or not control.amount_column:
        return None
    return control.amount_column


def _expected_amount(contract, parsed: ParsedExtract, totals) -> float | None:
    """The amount the loadable rows must sum to: the control total less the rejected rows'
    amounts (unknown when a rejected row's amount could not be read)."""
    column = _reconciled_column(contract, totals)
    if column is None or parsed.amount_total is None or parsed.amount_unreadable:
        return None
    column_type = next(a.spark_type for a in contract.attributes if a.name == column)
    loaded = exact_sum([v for v in parsed.columns[column] if v is not None], column_type)
    return float(exact_sum([totals.amount_total, loaded, -parsed.amount_total], column_type))


def _amount_undecided(contract, parsed: ParsedExtract, totals) -> str | None:
    """Why the control file's amount total cannot be reconciled with the delivery (None when
    it can be, or there is none to reconcile)."""
    column = _reconciled_column(contract, totals)
    if column is None or not parsed.amount_unreadable:
        return None
    return (f"{parsed.amount_unreadable} rejected row(s) have no readable {column}, "
            "so the control file's amount total cannot be reconciled; the source system must "
            "redeliver the file with those rows corrected")


def _locate(ctx: LoadContext, contract, data_date: date, file: Path | None) -> tuple[Path, Path | None]:
    delivery = contract.delivery
    landing = Path(ctx.landing)
    if file is None:
        file = landing / delivery.data_path(data_date)
    else:
        file = Path(file)
        relative = _relative_to(file, landing)
        found = delivery.date_in_path(relative) if relative else None
        if found is None:
            found = delivery.date_in_path(file.name) if "/" not in delivery.path else None
        if found is not None and found != data_date:
            raise DeliveryError(f"delivery {file} is for data date {found}, not {data_date}", [
                Problem(f"the path says data date {found}, the run is for {data_date}", str(file),
                        fix=f"run with --date {found.isoformat()}, or deliver the file for "
                        f"{data_date} at {delivery.data_path(data_date)}")])
    if not file.is_file():
        raise DeliveryError(f"delivery for {contract.name} on {data_date} is missing", [
            _instead(contract, landing, file, data_date) or Problem(
                "file not found", str(file),
                fix="wait for the source system to deliver it, or check delivery.path in "
                f"{contract.source_file or 'the contract'}")])
    control = None
    if delivery.control is not None:
        # beside a file given by path; at its declared place for the declared data file
        control = landing / delivery.control.control_path(data_date, delivery.path_date_format)
        if file.resolve() != (landing / delivery.data_path(data_date)).resolve():
            control = file.parent / control.name
    return file, control


def _require_control(ctx: LoadContext, contract, data_date: date, control: Path | None) -> None:
    """Refuse a delivery whose declared control file is missing (after its data file landed)."""
    if control is not None and not control.is_file():
        raise DeliveryError(f"control file for {contract.name} on {data_date} is missing", [
            _instead(contract, Path(ctx.landing), control, data_date) or Problem(
                "control file not found", str(control),
                fix="the source system must deliver the control file with the data file")])


def _instead(contract, landing: Path, missing: Path, data_date: date) -> Problem | None:
    """What is there instead of ``missing`` (a near miss of its name), if anything."""
    relative = _relative_to(missing, landing)
    folder, expected = (landing, relative) if relative else (missing.parent, missing.name)
    return found_instead(folder, expected, data_date, contract.delivery.path_date_format,
                         contract.source_file)


def _relative_to(file: Path, landing: Path) -> str | None:
    try:
        return file.resolve().relative_to(landing.resolve()).as_posix()
    except ValueError:
        return None


def _land(ctx: LoadContext, contract, data_date: date, data_file: Path, control_file: Path | None,
          transfer: TransferCheck):
    """Keep both files in the raw zone (before any check but the transfer's: nothing the source
    system delivered is lost); the data file's manifest row says how it was verified."""
    declared = None
    if control_file is not None and control_file.is_file():
        try:
            declared = read_control_file(control_file, contract.delivery.encoding,
                                         contract.delivery.path_date_format).row_count
        except DeliveryError:
            pass  # reported by the checks; the bytes are landed all the same
    landed_data, manifest = None, []
    for role, path in (("data", data_file), ("control", control_file)):
        if path is None or not path.is_file():
            continue
        landed = raw_zone.land(path, ctx.root, contract.system, contract.entity, data_date,
                               at_rest.raw_kek(ctx.project))
        landed_data = landed_data or landed
        if landed.is_new:
            manifest.append(RawManifestRecord(
                run_id=ctx.run_id, source=contract.name, data_date=data_date,
                file_name=landed.file_name, role=role, version=landed.version,
                raw_path=landed.raw_path, size_bytes=landed.size_bytes,
                sha256=landed.sha256, rows=declared, received_at=landed.received_at,
                verified=transfer.verified if landed.sha256 == transfer.sha256 else None,
            ))
    ctx.store.append(manifest)
    return landed_data


def _delivery_problems(contract, parsed: ParsedExtract, data_date: date, control_file: Path | None
                       ) -> tuple[ControlTotals | None, list[Problem]]:
    """The control file's totals and the problems that make a delivery unusable as a whole."""
    problems: list[Problem] = []
    totals = None
    if control_file is not None:
        totals = read_control_file(control_file, contract.delivery.encoding,
                                   contract.delivery.path_date_format)
        problems += control_problems(parsed, totals, data_date)
    problems += key_problems(parsed, list(contract.keys))
    if contract.incremental is not None:  # only changed rows: none, or a key unread, is no loss
        return totals, problems
    if contract.load_type in ("snapshot", "zipper") and parsed.rows_loaded == 0:
        problems.append(Problem(
            "the full extract has no loadable rows; loading it would empty the table",
            parsed.file, fix="redeliver the extract"))
    if contract.load_type == "zipper":
        unknown = [r for r in parsed.rejected if r.key is None]
        for row in unknown[:20]:
            problems.append(Problem(
                f"rejected row has no readable key ({row.reason}); in a full extract its key "
                "would look deleted", parsed.file, row.line,
                fix="redeliver the extract with this row corrected"))
    return totals, problems


def _frozen_keys(contract, parsed: ParsedExtract) -> list[tuple]:
    """The keys of a full zipper extract whose rows were rejected: they keep their versions
    (an incremental extract's rejected row is simply not applied)."""
    if contract.load_type != "zipper" or contract.incremental is not None:
        return []
    return sorted({r.key for r in parsed.rejected if r.key is not None})


def _stage(ctx: LoadContext, contract, parsed: ParsedExtract) -> str:
    """The good rows as Parquet in the extract's folder of the run's staging area (measured,
    then loaded from there)."""
    types = {a.name: a.spark_type for a in contract.attributes}
    staging = join_path(ctx.root, "_staging", ctx.run_id, contract.table_name, "extract.parquet")
    fs, staged = filesystem(staging)
    fs.create_dir(staged.rsplit("/", 1)[0], recursive=True)
    table = parsed.to_arrow(types)
    pq.write_table(table.append_column(LINE, pa.array(parsed.lines, pa.int64())), staged, filesystem=fs,
                   **at_rest.staged_parquet_options(ctx.project))
    return staging


def _unstage(staging: str) -> None:
    """Remove the staging folder of this extract (and what was split off it); the other
    extracts of the run, loaded side by side, keep theirs."""
    remove_dir(staging.rsplit("/", 1)[0])


def _write(ctx: LoadContext, contract, spec, parsed: ParsedExtract, staging: str, data_date: date,
           checked: quality.Assessment, result: LoadResult) -> None:
    """Quarantine what the parser and the drop rules rejected, load the rest, then check the
    whole-table rules and record the quality results, scorecard and promotion status."""
    engine = ctx.engine
    file_name = Path(parsed.file).name
    dropped, frozen = None, _frozen_keys(contract, parsed)
    if checked.failed("drop"):
        kept_path, dropped_path = staging + ".kept", staging + ".dropped"
        result.rows_dropped = quality.drop_failing(engine, checked, kept_path, dropped_path)
        dropped = quality.dropped_rows(ctx.project, checked, dropped_path, ctx.run_id, file_name)
        if contract.load_type == "zipper" and contract.incremental is None:
            frozen = sorted({*frozen, *engine.distinct_rows(dropped_path, list(contract.keys))})
        staging = kept_path
    held = quality.quarantine_spec(contract, ctx.root)
    if parsed.rejected or dropped or engine.has_rows(held, where(data_date=data_date)):
        ctx.store.prepared(QuarantineRecord, contract.table_name)  # with the columns added since
        engine.write_quarantine(held, data_date, _rejected_rows(ctx, contract, spec, parsed, data_date),
                                dropped)
    result.rows_loaded = parsed.rows_loaded - result.rows_dropped
    result.rows_quarantined = len(parsed.rejected) + result.rows_dropped
    # the admission's quality measurement is published with the data, in the load's commit
    metadata = {"run_id": ctx.run_id, "source": contract.name, "data_date": data_date.isoformat(),
                "operation": f"{contract.load_type} load", "admission": result.admission}
    if contract.incremental is not None:
        folded = incremental_load.apply_increment(engine, ctx.store, ctx.project, contract, spec,
                                                  staging, data_date, file_name, ctx.run_id, metadata)
        result.rows_loaded -= folded.held
        result.rows_quarantined += folded.held
        result.watermark, result.message = folded.watermark_before, incremental_load.summary(folded)
    elif contract.load_type == "zipper":
        zipper_dates.load_zipper(ctx.engine, ctx.store, spec, staging, data_date, ctx.run_id, metadata, frozen)
    else:
        engine.load_partition(spec, staging, data_date, metadata)
    record_quality(ctx, spec, data_date, checked, result)


def _rejected_rows(ctx: LoadContext, contract, spec, parsed: ParsedExtract, data_date: date
                   ) -> list[dict]:
    """The quarantine rows of the rows the parser rejected: each line with its level-3+ values
    masked or, where it cannot be split into its fields to mask them, sealed for its table."""
    keys, now = for_project(ctx.project), datetime.now()
    return [QuarantineRecord(
        source=contract.name, table_name=spec.qualified_name, data_date=data_date,
        run_id=ctx.run_id, file_name=Path(parsed.file).name, line=row.line, stage="parse",
        rule=None, dimension="validity", reason=row.reason, raw_line=row.shown,
        sealed_line=None if row.shown is not None else seal(keys, QUARANTINE_LINE, row.raw,
                                                            spec.qualified_name),
        row_json=None, key_hash=None, quarantined_at=now, readmitted_run=None,
    ).as_row() for row in parsed.rejected]


def record_quality(ctx: LoadContext, spec, data_date: date, checked: quality.Assessment,
                   result: LoadResult, still_blocking: list[str] = ()) -> None:
    """Check the whole-table rules on the loaded table and keep the quality results, samples,
    scorecard and promotion status of the load; ``still_blocking`` are rules that held the date
    back before and were not run again (they keep holding it)."""
    assessments = [checked]
    whole = quality.assess_table(ctx.engine, ctx.project, checked.contract, spec, data_date)
    if whole is not None:
        assessments.append(whole)
    ctx.validations += [assessment.validation for assessment in assessments]
    results, samples, scorecard, status = quality.records(ctx.project, assessments, ctx.run_id,
                                                          still_blocking)
    ctx.store.append_each(results, samples, scorecard, [status])
    result.promotable, result.blocking_rules = status.promotable, status.blocking_rules
