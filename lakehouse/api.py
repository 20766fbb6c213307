"""The Python API behind the CLI: one object per lakehouse project."""

from __future__ import annotations

import copy
import getpass
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from lakehouse.admission import checks as admission
from lakehouse.catalog import business_metadata as catalog
from lakehouse.governance import tables as governance
from lakehouse.governance.records import (
    AdmissionLogRecord, QualityResultsRecord, QualityScorecardRecord, QualityStatusRecord)
from lakehouse.governance.store import GovernanceStore
from lakehouse.admission import registration
from lakehouse.admission import system_lifecycle
from lakehouse.config import SourceContract, load_project
from lakehouse.config.project import SOURCES_DIR
from lakehouse.engine import Engine
from lakehouse.errors import ConfigError, Problem
from lakehouse.filters import Filter, between, where
from lakehouse.graph import ordered
from lakehouse.zones.near_source import near_source_spec
from lakehouse.quality.readmission import Readmission
from lakehouse.admission.registration import RegistrationResult, latest_registrations
from lakehouse.ingestion.t1_load import LoadContext, LoadResult
from lakehouse.zones.tables import TableSpec

EXPORT_FORMATS = ("csv", "parquet")


@dataclass
class RunSummary:
    run_id: str
    data_date: date
    results: list[LoadResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "succeeded" for r in self.results)

    @property
    def failed(self) -> list[LoadResult]:
        return [r for r in self.results if r.status != "succeeded"]


@dataclass
class LayerSummary:
    run_id: str
    data_date: date
    results: list = field(default_factory=list)  # ModelResult per model, in build order

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def not_built(self) -> list:
        return [r for r in self.results if not r.ok]


@dataclass
class QualityReport:
    data_date: date
    scorecard: list[dict]
    html: Path
    data_docs: Path
    failed: list[dict]  # the failed rule results of the date
    statuses: list[dict]  # the latest promotion decision per table


def _read_without_spark_with_keys_of(project) -> None:
    """The Delta readers without Spark (data services) decrypt with this project's key."""
    from lakehouse.engine import delta_rs
    from lakehouse.security.at_rest import reading_key

    delta_rs.use_parquet_key(lambda: reading_key(project))


class Lakehouse:
    """A lakehouse project: its configuration in ``conf_dir`` and its engine.

    ``root``, ``landing`` and ``reports_dir`` override the settings ``root``, ``landing`` and
    ``reports``; they win over ``conf/lakehouse.yaml`` and the LAKEHOUSE_* environment variables.
    Spark starts only when ``engine`` is first used."""

    def __init__(self, conf_dir: str | Path = "conf", engine: Engine | None = None, *,
                 root: str | Path | None = None, landing: str | Path | None = None,
                 reports_dir: str | Path | None = None, principal: str | None = None):
        self.conf_dir = Path(conf_dir)
        self.project = load_project(self.conf_dir, paths={
            "root": root, "landing": landing, "reports": reports_dir})
        self.settings = self.project.settings
        self._engine = engine
        self._encryption_set = False
        self._principal = principal
        _read_without_spark_with_keys_of(self.project)

    @staticmethod
    def validate(conf_dir: str | Path = "conf") -> list[Problem]:
        """Every problem of the configuration, then of the security levels of the layer models
        (a level lowered without an approved declassification)."""
        from lakehouse.security.column_levels import model_levels

        try:
            model_levels(load_project(conf_dir))
        except ConfigError as error:  # the configuration's problems, or else the levels'
            return error.problems
        return []

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine.from_settings(self.settings)
        if not self._encryption_set:  # this project's keys (encryption at rest, 4.2.2.2 c)
            from lakehouse.security.at_rest import reading_key

            self._engine.encrypt_at_rest(reading_key(self.project), self.settings.encrypt_at_rest)
            self._encryption_set = True
        return self._engine

    def as_principal(self, principal: str) -> "Lakehouse":
        """The same lakehouse (project, engine) acting as ``principal``."""
        other = copy.copy(self)
        other._principal = principal
        return other

    def with_engine(self, engine: Engine) -> "Lakehouse":
        """The same lakehouse (project, principal) working through ``engine`` (a worker engine
        of the same Spark application, for another thread)."""
        other = copy.copy(self)
        other._engine, other._encryption_set = engine, False
        return other

    def as_service(self) -> "Lakehouse":
        """The same lakehouse acting as the scheduled batch's service principal (security.yaml)."""
        return self.as_principal(self.project.security.service_principal)

    @property
    def clearance(self):
        """Who this lakehouse acts as (``principal``, else $LAKEHOUSE_PRINCIPAL, else the
        default principal of security.yaml) and what that principal may see."""
        from lakehouse.security.access import clearance

        return clearance(self.project, self._principal)

    def _require(self, operation: str, action: str, table: str | None = None) -> None:
        """Refuse (``AccessRefused``) unless this lakehouse's principal may ``operation``."""
        self.clearance.require(operation, action, self.project, table)

    @property
    def root(self) -> str:
        return self.settings.root

    @property
    def store(self) -> GovernanceStore:
        """The lakehouse's governance records."""
        return GovernanceStore(self.engine, self.root)

    def today(self) -> date:
        """Today in the configured time zone."""
        return datetime.now(self.settings.tzinfo).date()

    def yesterday(self) -> date:
        """Data date of today's T-1 batch in the configured time zone."""
        return self.today() - timedelta(days=1)

    def contract(self, name: str):
        if name not in self.project.sources:
            known = ", ".join(self.project.sources)
            raise ConfigError(f"unknown source {name!r}", [Problem(
                f"no contract for {name!r}", key="--source", value=name,
                fix=f"use one of: {known} (system.entity)")])
        return self.project.sources[name]

    def table(self, source: str) -> TableSpec:
        return near_source_spec(self.contract(source), self.root)

    def tables(self) -> list[TableSpec]:
        """Every table the framework writes: near-source, the modelled layers and governance."""
        from lakehouse.layers.model_tables import model_spec

        specs = [near_source_spec(c, self.root) for c in self.project.sources.values()]
        specs += [model_spec(self.project, m) for m in self.project.models.values()]
        quarantined = [*(c.table_name for c in self.project.sources.values()), *self.project.models]
        return specs + governance.all_specs(self.root, quarantined)

    # -- layers --------------------------------------------------------------------------------

    def build_layers(self, data_date: date | None = None, models: list[str] | None = None,
                     on_result: Callable | None = None, record_skips: bool = True,
                     skip_current: bool = False) -> LayerSummary:
        """Build the integrated, common and mart models for ``data_date`` (default: yesterday) in
        dependency order; a model whose inputs are not ready for the date is skipped (and that
        is recorded unless ``record_skips`` is false: an orchestrator asking early). With
        ``skip_current``, a model built after its inputs last changed for the date is left as
        it is (status ``current``)."""
        self._require("manage", "build the layers")
        from lakehouse.layers.runner import LayerBuild

        data_date = data_date or self.yesterday()
        for name in models or []:
            if name not in self.project.models:
                raise ConfigError(f"unknown model {name!r}", [Problem(
                    f"no model {name!r} under {self.project.layers_dir}", key="--model", value=name,
                    fix=f"use one of: {', '.join(self.project.models)}")])
        run_id = f"{data_date:%Y%m%d}-layers-{datetime.now():%H%M%S}-{uuid.uuid4().hex[:6]}"
        build = LayerBuild(self.engine, self.project, run_id, data_date, record_skips, skip_current,
                           workers=self.settings.parallel_loads)
        try:
            results = build.run(models, on_result)
        finally:
            build.flush()
        return LayerSummary(run_id, data_date, results)

    def query(self, sql: str, limit: int = 1000) -> list[dict]:
        """Run a Spark SQL query over the project's tables, named as in ``lakehouse tables``
        (``mart.mart_customer_360``, ``near_source.cbs_account``, ``governance.load_log``), as
        this lakehouse's principal: columns above its clearance are masked or refuse the query
        (see ``lakehouse.security.guarded_query``)."""
        from lakehouse.security.guarded_read import guarded_rows

        return guarded_rows(self, sql, limit, operation="query")

    def export(self, sql: str, path: str | Path, file_format: str | None = None) -> int:
        """Write the rows of ``sql`` to the local file ``path`` (``csv`` or ``parquet``, by the
        file's suffix unless given) as this lakehouse's principal may export them: its roles
        need the ``export`` operation; columns are masked or refused as for ``query``, and the
        export is audited before the file appears. The number of rows written."""
        self._require("export", "export query results")
        from lakehouse.security.guarded_read import guarded_export

        path = Path(path)
        file_format = file_format or path.suffix.lstrip(".").lower()
        if file_format not in EXPORT_FORMATS:
            raise ConfigError(f"cannot export to {path}", [Problem(
                f"unknown export format {file_format!r}", str(path), key="--format",
                fix=f"name a .csv or .parquet file, or give --format {' or '.join(EXPORT_FORMATS)}")])
        return guarded_export(self, sql, path, file_format)

    def run(self, data_date: date | None = None, sources: list[str] | None = None,
            file: Path | None = None, on_result: Callable[[LoadResult], None] | None = None,
            force: bool = False, parallel: int | None = None) -> RunSummary:
        """Land and load the deliveries of ``data_date`` (default: yesterday) for the sources,
        ``parallel`` of them side by side (default: the ``parallel_loads`` setting);
        ``on_result`` is called after each source's load (for progress). A file already loaded
        for the date is not loaded again unless ``force``."""
        self._require("manage", "load deliveries")
        from lakehouse.ingestion.side_by_side import load_all

        data_date = data_date or self.yesterday()
        names = sources or list(self.project.sources)
        contracts, waits_for = self._in_reference_order([self.contract(n) for n in names])
        if file is not None and len(contracts) != 1:
            raise ConfigError("--file needs exactly one --source", [Problem(
                "a delivered file belongs to one source", key="--source",
                fix="add --source SYSTEM.ENTITY")])
        if file is not None and contracts[0].feed_only:
            raise ConfigError(f"{contracts[0].name} takes no delivered file", [Problem(
                "it is known only by its real-time feed: its table is kept from the feed's events",
                str(file), key="--file", fix="run without --file")])
        run_id = f"{data_date:%Y%m%d}-{datetime.now():%H%M%S}-{uuid.uuid4().hex[:6]}"
        ctx = LoadContext(self.engine, self.project, run_id,
                          latest_registrations(self.engine, self.root), force=force)
        summary = RunSummary(run_id, data_date)
        try:
            with ctx.store.holding():  # the run's governance records: one commit per table
                summary.results = load_all(ctx, contracts, data_date, file, waits_for,
                                           parallel or self.settings.parallel_loads, on_result)
        finally:
            ctx.flush()
        return summary

    def _in_reference_order(self, contracts: list[SourceContract]
                            ) -> tuple[list[SourceContract], dict[str, list[str]]]:
        """``contracts`` with the tables that reference rules look up loaded before their users
        (otherwise, and within a reference cycle, in the given order), and for each source the
        sources before it whose tables it looks up (it waits for them)."""
        from lakehouse.quality.assessment import referenced_tables

        by_table = {c.table_name: c for c in contracts}
        inputs = {c.table_name: sorted(referenced_tables(self.project, c)) for c in contracts}
        rank = {c.table_name: index for index, c in enumerate(contracts)}
        order = [by_table[t] for t in ordered(inputs, rank, break_cycles=True)]
        before: set[str] = set()
        waits_for = {}
        for contract in order:
            waits_for[contract.name] = [by_table[t].name for t in inputs[contract.table_name]
                                        if t in before]
            before.add(contract.table_name)
        return order, waits_for

    # -- quality -------------------------------------------------------------------------------

    def promotion(self, source: str, data_date: date) -> dict | None:
        """The latest promotion decision on ``source``'s table (or a model's table) for
        ``data_date`` (None if the date has not been validated): ``promotable`` is false when a
        fail rule failed."""
        table = self._qualified(source)
        newest = self.store.newest(QualityStatusRecord, "table_name", "decided_at",
                                   where(table_name=table, data_date=data_date))
        found = newest.get(table)
        return found.as_row() if found else None

    def quality_report(self, data_date: date, table: str | None = None, days: int = 14) -> QualityReport:
        """The scorecard of ``data_date`` (one table or all), an HTML report with the trend over
        the ``days`` dates up to it, and the Great Expectations Data Docs."""
        self._require("query", "read the quality reports", f"governance.{QualityResultsRecord.TABLE}")
        from lakehouse.quality import ge_adapter, report

        since = data_date - timedelta(days=days - 1)
        of_table = Filter()
        if table is not None:
            table = self._qualified(table)
            of_table = where(table_name=table)
        window = between("data_date", since, data_date) & of_table
        day = where(data_date=data_date) & of_table

        def read(record_type, where):
            return [r.as_row() for r in self.store.read(record_type, where)]

        scores = read(QualityScorecardRecord, window)
        results = read(QualityResultsRecord, day & where(success=False))
        statuses = read(QualityStatusRecord, day)
        html = report.render_html(data_date, scores, results, statuses, table=table, days=days)
        path = report.write_html(self.project.reports_dir / f"quality_{data_date}.html", html)
        docs = ge_adapter.build_data_docs(self.project.reports_dir / "data_docs")
        latest = report.latest(statuses, ["table_name", "data_date"], "decided_at")
        return QualityReport(data_date, report.scorecard(scores, data_date, table), path, docs,
                             results, latest)

    def _qualified(self, table: str) -> str:
        """``cbs_account``, ``near_source.cbs_account``, ``cbs.account`` or a model's
        ``mart_risk_warning`` / ``mart.mart_risk_warning`` -> the qualified name."""
        from lakehouse.layers.model_tables import model_spec

        for contract in self.project.sources.values():
            spec = near_source_spec(contract, self.root)
            if table in (spec.name, spec.qualified_name, contract.name):
                return spec.qualified_name
        for model in self.project.models.values():
            spec = model_spec(self.project, model)
            if table in (spec.name, spec.qualified_name):
                return spec.qualified_name
        known = ", ".join([*(c.table_name for c in self.project.sources.values()), *self.project.models])
        raise ConfigError(f"unknown table {table!r}", [Problem(
            f"no table {table!r} in this project", key="--table", value=table,
            fix=f"use one of: {known}")])

    def quarantined(self, source: str, data_date: date) -> list[dict]:
        """The rows of ``source`` held in quarantine for ``data_date``, as this lakehouse's
        principal sees them: level-3+ values masked, a sealed line (``sealed``) opened only for a
        principal who reads the source's table in clear; the read is audited (see
        ``lakehouse.security.guarded_read.quarantined_rows``)."""
        from lakehouse.security.guarded_read import quarantined_rows

        return quarantined_rows(self, source, data_date)

    def readmit(self, source: str, data_date: date, file: Path) -> Readmission:
        """Re-admit corrected rows for rows quarantined by drop rules on ``data_date``."""
        self._require("manage", "re-admit quarantined rows")
        from lakehouse.quality.readmission import readmit

        contract = self.contract(source)
        if contract.feed_only:
            raise ConfigError(f"{source} takes no corrected file", [Problem(
                "it is known only by its real-time feed: its rows are corrected at the source "
                "and arrive as new events", str(file), key="--file",
                fix="send the corrections as events of the feed")])
        run_id = f"{data_date:%Y%m%d}-readmit-{datetime.now():%H%M%S}-{uuid.uuid4().hex[:6]}"
        return readmit(self.engine, self.project, contract, data_date, Path(file), run_id)

    # -- governance: registration, admission, catalog, system lifecycle -----------------------

    def contracts_at(self, path: str | Path) -> list[SourceContract]:
        """The project's contracts in the file or folder ``path``."""
        target = Path(path).resolve()
        found = [c for c in self.project.sources.values() if c.source_file is not None and (
            c.source_file.resolve() == target or target in c.source_file.resolve().parents)]
        if not found:
            sources = self.project.file(SOURCES_DIR)
            raise ConfigError(f"no source contract at {path}", [Problem(
                "not a contract file or folder of this project", str(path),
                fix=f"put the contract at {sources}/<system>/<entity>.yaml and pass that path "
                    f"(or {sources} for all)")])
        return found

    def register(self, path: str | Path, by: str | None = None, reason: str | None = None
                 ) -> list[RegistrationResult]:
        """Register the contracts at ``path`` (a new version for each changed one)."""
        self._require("manage", "register source contracts")
        return registration.register(self.project, self.engine, self.contracts_at(path),
                                     self.today(), by or getpass.getuser(), reason)

    def static_admission(self) -> list[admission.AdmissionRejected]:
        """The contracts that would be refused by a static check today (no Spark needed)."""
        refusals = []
        for contract in self.project.sources.values():
            checks = admission.static_checks(self.project, contract, self.today(),
                                             require_registration=False)
            decision = admission.Decision(contract.name, self.today(), contract.content_hash, None,
                                          {**checks, "quality": admission.check_quality(None, [])})
            if decision.failed:
                refusals.append(decision.rejection(f"contract {contract.name}"))
        return refusals

    def check_source(self, name: str, data_date: date | None = None) -> admission.Decision:
        """The six checks for ``name`` on ``data_date`` (default: yesterday); quality comes from
        the latest admission decision on that date's delivery, if there is one."""
        contract = self.contract(name)
        data_date = data_date or self.yesterday()
        registered = latest_registrations(self.engine, self.root).get(name)
        checks = admission.static_checks(self.project, contract, data_date, registered)
        checks["quality"] = self._measured_quality(name, data_date)
        return admission.Decision(name, data_date, contract.content_hash,
                                  registered.version if registered else None, checks)

    def _measured_quality(self, name: str, data_date: date) -> admission.CheckResult:
        last = self.store.newest(AdmissionLogRecord, "source", "decided_at",
                                 where(source=name, data_date=data_date, check_name="quality")).get(name)
        if last is not None:
            return admission.CheckResult("quality", last.status, json.loads(last.evidence), [
                Problem(p.message, p.file, p.line, key=p.key, value=p.value, fix=p.fix)
                for p in last.problems or []])
        return admission.CheckResult("quality", admission.NOT_RUN, {
            "note": f"measured when the delivery for {data_date} is loaded"})

    def source_overview(self) -> list[dict]:
        """Every source with owner, system certification today, level and registration."""
        latest = latest_registrations(self.engine, self.root)
        today = self.today()
        overview = []
        for name, contract in self.project.sources.items():
            registered = latest.get(name)
            system = self.project.systems[contract.system]
            overview.append({
                "source": name, "owner": contract.owner, "system": system.code,
                "certified": system.certified_on(today), "load_type": contract.load_type,
                "level": contract.table_level,
                "version": registered.version if registered else None,
                "registered_at": registered.registered_at if registered else None,
                "current": bool(registered and registered.content_hash == contract.content_hash),
            })
        return overview

    def decertify(self, code: str, reason: str, effective: date | None = None,
                  replaced_by: str | None = None, by: str | None = None, note: str = "") -> dict:
        """Decertify a source system from ``effective`` (default: today); recorded, not edited."""
        self._require("manage", "decertify a source system")
        event = system_lifecycle.decertify(self.project, self.engine, code, reason,
                                           effective or self.today(), by or getpass.getuser(),
                                           replaced_by, note)
        self.project = load_project(self.conf_dir)
        return event

    def search(self, term: str) -> list[dict]:
        """Registered tables and columns whose business metadata matches every word of ``term``."""
        if not term.strip():
            raise ConfigError("empty search term", [Problem(
                "nothing to search for", key="TERM", fix="give a business name such as 客户号 or 'customer id'")])
        return catalog.search(self.engine, self.root, term)

    # -- the access audit ----------------------------------------------------------------------

    def audit_verify(self):
        """Recompute the access audit's hash chain (principals with the ``audit`` operation)."""
        self._require("audit", "verify the access audit")
        from lakehouse.security import audit

        return audit.verify(self.engine, self.root)

    def audit_records(self, principal: str | None = None, table: str | None = None,
                      since: date | None = None, until: date | None = None) -> list:
        """The access audit's records, filtered (principals with the ``audit`` operation)."""
        self._require("audit", "read the access audit")
        from lakehouse.security import audit

        return audit.show(self.engine, self.root, principal, table, since, until,
                          self.settings.tzinfo)

    # -- backups (4.2.2.2 d) -------------------------------------------------------------------

    def backup(self, to: str | Path | None = None):
        """Back up the lakehouse (zones and governance) and the project's files to ``to``
        (default: the ``backups`` setting), incrementally (``lakehouse.lifecycle.backup``); the
        backup is recorded in ``governance.backup_log``. No Spark job."""
        self._require("manage", "back up the lakehouse")
        from lakehouse.lifecycle import backup, backup_log

        result = backup.take(self.root, self.conf_dir.resolve().parent, str(to or self.settings.backups))
        self.store.append([backup_log.taken(result)])
        return result

    def verify_backup(self, backup_root: str | Path | None = None, backup_id: str | None = None):
        """Restore a backup (default: the latest) into a scratch folder and compare every table
        with the original as of the version backed up; recorded in ``governance.backup_log``."""
        self._require("manage", "verify a backup")
        from lakehouse.lifecycle import backup_log, restore

        backup_root = str(backup_root or self.settings.backups)
        result = restore.verify(self.engine, backup_root, backup_id)
        self.store.append([backup_log.verified(result, backup_root)])
        return result

    def restore_backup(self, to_root: str | Path, backup_root: str | Path | None = None,
                       backup_id: str | None = None, project_to: str | Path | None = None):
        """Rebuild the lakehouse of a backup (default: the latest) at ``to_root`` (new or empty),
        its project files at ``project_to`` when given; every byte is checked against the
        manifest. Point ``root`` (or ``--root``) at ``to_root`` to use it."""
        self._require("manage", "restore a backup")
        from lakehouse.lifecycle import restore

        return restore.restore(str(backup_root or self.settings.backups), str(to_root),
                               Path(project_to) if project_to else None, backup_id)

    def deidentify(self, to: str | Path, layers: list[str] | None = None, plan_only: bool = False):
        """A de-identified copy of ``layers`` (default: those of ``conf/deidentify.yaml``) at
        ``to`` for development and test (``lakehouse.lifecycle.deidentify``): reading every
        protected value needs the ``manage`` operation, and the read is audited. With
        ``plan_only``, the report of what would be copied and how, with nothing written."""
        self._require("manage", "make a de-identified copy")
        from lakehouse.lifecycle import deidentify
        from lakehouse.security.keys import for_project

        to = str(to) if "://" in str(to) else str(Path(to).resolve())
        deidentify.refuse_overlap(self.root, to)
        copies = deidentify.plan(self.project, layers or self.project.deidentify.layers, to,
                                 lambda spec: self._types_of(spec))
        if plan_only:
            return deidentify.CopyReport(to, copies)
        report = deidentify.copy(self.engine, self.project, for_project(self.project).secret(
            deidentify.PURPOSE), copies, to)
        self._audit_copy(report)
        return report

    def _types_of(self, spec) -> dict[str, str] | None:
        layout = self.engine.table_layout(spec) if self.engine.table_exists(spec) else None
        return layout.types if layout else None

    def _audit_copy(self, report) -> None:
        from lakehouse.security import audit
        from lakehouse.security.column_levels import table_levels

        levels = table_levels(self.project)
        objects = [audit.AccessedColumn(t.spec.qualified_name, column, level)
                   for t in report.tables
                   for column, level in levels.get(t.spec.qualified_name, {}).items()]
        if audit.must_audit(objects):
            clearance = self.clearance
            audit.record_access(self.engine, self.root, audit.AccessEvent(
                principal=clearance.principal.id, roles=[r.name for r in clearance.roles],
                operation="deidentify", objects=objects, result="allowed",
                rows_returned=sum(t.rows or 0 for t in report.tables),
                query_text=f"deidentify to {report.target_root}",
                detail=f"{len(report.tables)} tables copied to {report.target_root}"))

    # -- retention and destruction (4.2.2.2 b, 4.2.2.5) --------------------------------------

    def retention(self, dry_run: bool = False, latest: date | None = None,
                  vacuum_window_hours: int | None = None):
        """Remove the data every zone keeps no longer (``conf/retention.yaml``), physically, except
        what a hold pins (``conf/holds.yaml``); ``latest`` is the newest data date (default:
        yesterday); recorded in ``governance.retention_log``. A dry run only plans."""
        self._require("manage", "run retention")
        from lakehouse.lifecycle import retention

        return retention.run(self.engine, self.store, self.project, latest or self.yesterday(),
                             dry_run=dry_run, vacuum_window_hours=vacuum_window_hours)

    # -- the history zone (6.2.3 d) ------------------------------------------------------------

    def move_to_history(self, table: str | None = None, as_of: date | None = None, dry_run: bool = False,
                        between_steps: Callable | None = None) -> list:
        """Move the data dates older than each table's hot window (``conf/history.yaml``; the
        ``hot_days`` dates up to ``as_of``, default yesterday) to the history zone, one table or
        all, each move recorded in ``governance.history_log`` (``lakehouse.lifecycle.history``);
        ``dry_run``: only what would move."""
        self._require("manage", "move data to the history zone")
        from lakehouse.config.project import HISTORY_FILE
        from lakehouse.lifecycle import history

        movable = history.movable_tables(self.project, self.root)
        if table is not None:
            name = self._qualified(table)
            movable = [m for m in movable if m.spec.qualified_name == name]
            if not movable:
                raise ConfigError(f"{name} does not move to the history zone", [Problem(
                    f"{name} has no hot window", str(self.project.file(HISTORY_FILE)), key="--table",
                    value=table, fix=f"give it hot_days under tables: (or its layer's under layers:) in "
                                     f"{HISTORY_FILE}; zipper tables are history already")])
        return history.move(self.engine, self.store, self.root, movable, as_of or self.yesterday(),
                            dry_run, between_steps)

    def rotate_master_key(self) -> str:
        """Replace the key provider's master key by a new one and re-wrap the root secret with
        it (4.2.2.2 c): no data file, pseudonym or sealed value is rewritten. A ``manage``
        operation; returns the new key's fingerprint (never the key)."""
        self._require("manage", "rotate the master key")
        from lakehouse.security.keys import rotate_master_key

        return rotate_master_key(self.settings.key_file)

    def scan_for_leaks(self, files: list[Path] | None = None):
        """Look for level-3+ values in clear in every governance and quarantine table, in
        ``files`` (default: the reports folder: quality reports, Data Docs, logs) and in every
        byte stored under the lakehouse and backup roots — a check for
        principals with the ``audit`` operation; findings are reported masked
        (``lakehouse.security.leak_scan``)."""
        self._require("audit", "scan for protected values in clear")
        from lakehouse.security.leak_scan import scan

        return scan(self, [self.project.reports_dir] if files is None else files)

    # -- data services (6.2.4.3, 6.3.1.3) -----------------------------------------------------

    def services(self) -> list[dict]:
        """Every service of ``services.yaml`` with its lifecycle state and last step. No Spark."""
        from lakehouse.services.registry import ServiceRegistry

        return ServiceRegistry(self.project).overview()

    def service_step(self, name: str, event: str, reason: str = ""):
        """This lakehouse's principal takes lifecycle step ``event`` (registered, approved,
        published, deprecated, retired) on service ``name``; recorded in
        ``governance.service_events``. No Spark."""
        from lakehouse.services.registry import ServiceRegistry

        return ServiceRegistry(self.project).take(name, event, self.clearance, reason)

    def issue_service_key(self, consumer: str) -> str:
        """A new API key for principal ``consumer`` (by a principal whose role grants manage):
        the key text, shown once; governance keeps its hash."""
        self._require("manage", "issue API keys")
        from lakehouse.services import api_keys

        key, _ = api_keys.issue(self.project, consumer, self.clearance.principal.id)
        return key
