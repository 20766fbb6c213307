"""One source's T-1 load: find the delivery, land it raw, parse, check, load near-source.

Any file-level problem stops the load before the target table is touched, so the table keeps
its previous Delta version. Row-level problems go to quarantine; the load log records rows in,
rows loaded and rows quarantined for every attempt, failed ones included.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq

from lakehouse import admission, delivery_profile, governance, raw_zone
from lakehouse.admission import Registered
from lakehouse.config import Project
from lakehouse.control_file import read_control_file
from lakehouse.delivery_checks import control_problems, key_problems
from lakehouse.engine import Engine
from lakehouse.errors import DeliveryError, LakehouseError, Problem
from lakehouse.extract_parser import ParsedExtract, parse_extract
from lakehouse.near_source import near_source_spec
from lakehouse.storage import filesystem
from lakehouse.tables import join_path


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


@dataclass
class LoadContext:
    """What the loads of one run share; governance rows are written once per run (flush)."""

    engine: Engine
    project: Project
    run_id: str
    registered: dict[str, Registered] = field(default_factory=dict)
    manifest_rows: list[dict] = field(default_factory=list)
    log_rows: list[dict] = field(default_factory=list)
    admission_rows: list[dict] = field(default_factory=list)

    @property
    def root(self) -> str:
        return self.project.settings.root

    @property
    def landing(self) -> str:
        return self.project.settings.landing

    def flush(self) -> None:
        self.engine.append_rows(governance.raw_manifest(self.root), self.manifest_rows)
        self.engine.append_rows(governance.admission_log(self.root), self.admission_rows)
        self.engine.append_rows(governance.load_log(self.root), self.log_rows)
        self.manifest_rows, self.log_rows, self.admission_rows = [], [], []


def load_source(ctx: LoadContext, contract, data_date: date, file: Path | None = None) -> LoadResult:
    """Land, admit and load ``contract``'s delivery for ``data_date``; never raises for bad
    input, reports it. A delivery refused admission stays in the raw zone only."""
    spec = near_source_spec(contract, ctx.root)
    started = datetime.now()
    result = LoadResult(contract.name, spec.qualified_name, data_date, "failed")
    sha, staging = "", None
    try:
        data_file, control_file = _locate(ctx, contract, data_date, file)
        result.file = str(data_file)
        landed = _land(ctx, contract, data_date, data_file, control_file)
        sha = landed.sha256
        parsed, staging = _admit(ctx, contract, spec, data_date, data_file, control_file, landed, result)
        frozen = _frozen_keys(contract, parsed)
        _write(ctx, contract, spec, parsed, staging, data_date, frozen, result.admission)
        result.rows_loaded = parsed.rows_loaded
        result.table_version = ctx.engine.version(spec)
        result.status = "succeeded"
    except LakehouseError as exc:
        # the whole file is refused (its bytes stay in the raw zone): nothing loaded or quarantined
        result.message = exc.render()
        result.rows_loaded = result.rows_quarantined = 0
    finally:
        if staging is not None:
            _unstage(staging)
        ctx.log_rows.append({
            "run_id": ctx.run_id, "source": contract.name, "table_name": spec.qualified_name,
            "data_date": data_date, "load_type": contract.load_type,
            "file_name": Path(result.file).name if result.file else None, "sha256": sha or None,
            "rows_in": result.rows_in, "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined, "status": result.status,
            "message": result.message or None, "table_version": result.table_version,
            "started_at": started, "finished_at": datetime.now(),
        })
    return result


def _admit(ctx: LoadContext, contract, spec, data_date: date, data_file: Path,
           control_file: Path | None, landed, result: LoadResult) -> tuple[ParsedExtract, str]:
    """Run the six admission checks on the delivery and record the decision.

    Returns the parsed extract and its staged Parquet (the caller removes it); raises
    ``AdmissionRejected`` listing every failing check.
    """
    registered = ctx.registered.get(contract.name)
    checks = admission.static_checks(ctx.project, contract, data_date, registered)
    parsed, staging, profile, blocking = None, None, None, []
    try:
        parsed = parse_extract(data_file, contract)
    except DeliveryError as exc:
        blocking = [Problem(exc.summary, str(data_file)), *exc.problems]
    if parsed is not None:
        result.rows_in, result.rows_quarantined = parsed.rows_in, len(parsed.rejected)
        try:
            control, blocking = _delivery_problems(contract, parsed, data_date, control_file)
        except DeliveryError as exc:  # an unreadable control file
            control, blocking = {}, [Problem(exc.summary, str(control_file)), *exc.problems]
        staging = _stage(ctx, contract, parsed)
        try:
            metrics = ctx.engine.measure(staging, spec, delivery_profile.profile_expressions(
                contract, ctx.project.standards))
        except BaseException:
            _unstage(staging)
            raise
        profile = delivery_profile.summarize(contract, metrics, parsed.rows_in, len(parsed.rejected),
                                             control, landed.received_at, data_date)
    checks["quality"] = admission.check_quality(profile, blocking)
    decision = admission.Decision(contract.name, data_date, contract.content_hash,
                                  registered.version if registered else None, checks)
    ctx.admission_rows += decision.log_rows(ctx.run_id, data_file.name)
    if not decision.admitted:
        if staging is not None:
            _unstage(staging)
        raise decision.rejection(f"delivery {data_file} for {contract.name} on {data_date}")
    result.admission = profile
    return parsed, staging


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
            Problem("file not found", str(file),
                    fix="wait for the source system to deliver it, or check delivery.path in "
                    f"{contract.source_file or 'the contract'}")])
    control = None
    if delivery.control is not None:
        # beside a file given by path; at its declared place for the declared data file
        control = landing / delivery.control.control_path(data_date, delivery.path_date_format)
        if file.resolve() != (landing / delivery.data_path(data_date)).resolve():
            control = file.parent / control.name
        if not control.is_file():
            raise DeliveryError(f"control file for {contract.name} on {data_date} is missing", [
                Problem("control file not found", str(control),
                        fix="the source system must deliver the control file with the data file")])
    return file, control


def _relative_to(file: Path, landing: Path) -> str | None:
    try:
        return file.resolve().relative_to(landing.resolve()).as_posix()
    except ValueError:
        return None


def _land(ctx: LoadContext, contract, data_date: date, data_file: Path, control_file: Path | None):
    """Keep both files in the raw zone (before any check: nothing delivered is lost)."""
    declared = None
    if control_file is not None:
        try:
            declared = read_control_file(control_file, contract.delivery.encoding,
                                         contract.delivery.path_date_format).row_count
        except DeliveryError:
            pass  # reported by the checks; the bytes are landed all the same
    landed_data = None
    for role, path in (("data", data_file), ("control", control_file)):
        if path is None:
            continue
        landed = raw_zone.land(path, ctx.root, contract.system, contract.entity, data_date)
        landed_data = landed_data or landed
        if landed.is_new:
            ctx.manifest_rows.append({
                "run_id": ctx.run_id, "source": contract.name, "data_date": data_date,
                "file_name": landed.file_name, "role": role, "version": landed.version,
                "raw_path": landed.raw_path, "size_bytes": landed.size_bytes,
                "sha256": landed.sha256, "rows": declared, "received_at": landed.received_at,
            })
    return landed_data


def _delivery_problems(contract, parsed: ParsedExtract, data_date: date, control_file: Path | None
                       ) -> tuple[dict, list[Problem]]:
    """Control-total results and the problems that make a delivery unusable as a whole."""
    problems: list[Problem] = []
    control: dict = {}
    if control_file is not None:
        totals = read_control_file(control_file, contract.delivery.encoding,
                                   contract.delivery.path_date_format)
        found = control_problems(parsed, totals, data_date)
        problems += found
        control = {"row_count": totals.row_count == parsed.rows_in,
                   "amount_total": None if totals.amount_total is None
                   else not any(p.key == "amount_total" for p in found),
                   "data_date": not any(p.key == "data_date" for p in found)}
    problems += key_problems(parsed, list(contract.keys))
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
    return control, problems


def _frozen_keys(contract, parsed: ParsedExtract) -> list[tuple]:
    if contract.load_type != "zipper":
        return []
    return sorted({r.key for r in parsed.rejected if r.key is not None})


def _stage(ctx: LoadContext, contract, parsed: ParsedExtract) -> str:
    """The good rows as Parquet in the run's staging folder (measured, then loaded from there)."""
    types = {a.name: a.spark_type for a in contract.attributes}
    staging = join_path(ctx.root, "_staging", ctx.run_id, f"{contract.table_name}.parquet")
    fs, staged = filesystem(staging)
    fs.create_dir(staged.rsplit("/", 1)[0], recursive=True)
    pq.write_table(parsed.to_arrow(types), staged, filesystem=fs)
    return staging


def _unstage(staging: str) -> None:
    fs, staged = filesystem(staging)
    fs.delete_file(staged)
    if "://" not in staging:
        shutil.rmtree(Path(staged).parent, ignore_errors=True)


def _write(ctx: LoadContext, contract, spec, parsed: ParsedExtract, staging: str, data_date: date,
           frozen: list[tuple], admitted: dict | None) -> None:
    engine = ctx.engine
    quarantine = governance.quarantine(ctx.root)
    now = datetime.now()
    earlier = f"table_name = '{spec.qualified_name}' AND data_date = DATE'{data_date.isoformat()}'"
    if parsed.rejected or (engine.table_exists(quarantine) and engine.count(quarantine, earlier)):
        engine.replace_rows(quarantine, [{
            "source": contract.name, "table_name": spec.qualified_name, "data_date": data_date,
            "run_id": ctx.run_id, "file_name": Path(parsed.file).name, "line": row.line,
            "reason": row.reason, "raw_line": row.raw, "quarantined_at": now,
        } for row in parsed.rejected], earlier)
    # the admission's quality measurement is published with the data, in the load's commit
    metadata = {"run_id": ctx.run_id, "source": contract.name, "data_date": data_date.isoformat(),
                "operation": f"{contract.load_type} load", "admission": admitted}
    if contract.load_type == "zipper":
        engine.load_zipper(spec, staging, data_date, metadata, frozen)
    else:
        engine.load_partition(spec, staging, data_date, metadata)
