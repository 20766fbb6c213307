"""Build the integrated, common and mart layers for one data date, model by model (models that
do not read each other side by side, ``parallel_loads`` at a time).

A model runs for data date D only when every input is ready for D: a near-source table whose
delivery was admitted, loaded and not held by a failed quality rule, or a model built for D and
not held by a failed quality rule of its own (``model_quality``). Otherwise it is skipped with
the reason, and so is everything downstream of it. Results, quality, the lineage of new model
definitions and removed snapshots are recorded in governance tables as each model is done, with
the Delta version of every input the model read.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from lakehouse.errors import LakehouseError, Problem, TerminalError, first_line
from lakehouse.filters import where
from lakehouse.governance import zipper_dates
from lakehouse.catalog import business_metadata
from lakehouse.governance.records import (
    CatalogRecord, LineageRecord, LoadLogRecord, ModelRunsRecord, QualityStatusRecord)
from lakehouse.governance.store import GovernanceStore
from lakehouse import graph, sql_parsing
from lakehouse.layers import model_quality, sql_lineage
from lakehouse.lifecycle import retention
from lakehouse.layers.model_tables import model_hash, model_spec
from lakehouse.security.column_levels import key_masks
from lakehouse.security.masking import masked_key
from lakehouse.security import pseudonyms
from lakehouse.security.keys import for_project
from lakehouse.side_by_side import side_by_side
from lakehouse.zones.locks import TableBusy, table_date_lock
from lakehouse.zones.near_source import near_source_spec
from lakehouse.zones.storage import remove_dir
from lakehouse.zones.tables import join_path


@dataclass
class ModelResult:
    model: str
    table: str
    layer: str
    data_date: date
    status: str  # succeeded, skipped, failed, or current (built after its inputs last changed)
    reason: str = ""
    blocked_by: list[str] = field(default_factory=list)
    rows: int | None = None
    table_version: int | None = None
    seconds: float = 0.0
    removed: list[tuple[date, int]] = field(default_factory=list)

    built_at: datetime | None = None  # for a current model: when it was built
    started_at: datetime | None = None
    finished_at: datetime | None = None
    input_versions: dict[str, int] | None = None  # input table -> Delta version read
    promotable: bool | None = None  # None: not measured (not built, or built before measuring)
    blocking_rules: list[str] = field(default_factory=list)  # failed fail-severity rules
    rows_dropped: int = 0  # rows a drop rule split off into the model's quarantine

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "current")

    @property
    def held(self) -> bool:
        """Built, but held from the models reading it by a failed fail-severity rule."""
        return self.ok and self.promotable is False


def build_order(project) -> list[str]:
    """Every model after the models it reads, lower layers first."""
    return graph.ordered({n: list(m.inputs) for n, m in project.models.items()},
                         {n: m.layer_rank for n, m in project.models.items()})


class LayerBuild:
    """One build of the selected models for one data date (``run``); the build's records are
    written when it ends (see ``GovernanceStore.holding``); ``flush`` removes the build's
    staging folder."""

    def __init__(self, engine, project, run_id: str, data_date: date, record_skips: bool = True,
                 skip_current: bool = False, workers: int = 1):
        self._engine, self.project, self.run_id, self.data_date = engine, project, run_id, data_date
        self.workers = workers  # models built side by side (each once its model inputs are built)
        self._local = threading.local()  # the engine of a thread building side by side
        self._lock = threading.RLock()  # the lazily read governance state, the build's lists
        self.record_skips = record_skips  # False: a model not ready yet is not a recorded event
        self.skip_current = skip_current  # True: leave a model built after its inputs changed
        self.root = project.settings.root
        self.store = GovernanceStore(engine, self.root)
        self.results: dict[str, ModelResult] = {}
        self._sources = {c.table_name: c for c in project.sources.values()}
        self._source_state: dict[str, tuple[bool, str]] | None = None
        self._model_state: dict[str, tuple[bool, str]] | None = None
        self._built: dict[str, ModelRunsRecord] | None = None  # model -> latest successful run for D
        self._model_status: dict[str, QualityStatusRecord] | None = None  # table -> latest for D
        self._hashes: set[str] | None = None  # model definitions whose lineage is recorded
        self.validations: list = []  # Great Expectations results of the build, for the Data Docs

    @property
    def engine(self):
        """The engine of the calling thread (a worker's own session when building side by side)."""
        return getattr(self._local, "engine", None) or self._engine

    def run(self, models: list[str] | None = None, on_result=None) -> list[ModelResult]:
        """Build ``models`` (default: all) in dependency order, up to ``workers`` side by side
        (a model once the models it reads are done); returns a result per model, in build
        order. ``on_result`` is called with each result as it is done (for progress)."""
        order = build_order(self.project)
        wanted = [name for name in order if not models or name in models]

        def done(name: str, result: ModelResult) -> None:
            self.results[name] = result
            self._record(result)
            self.store.checkpoint()
            if on_result is not None:
                on_result(result)

        waits_for = {name: [i for i in self.project.models[name].inputs if i in wanted]
                     for name in wanted}
        with self.store.holding():  # the build's governance records: one commit per table
            side_by_side(self._engine, wanted, lambda name: name, waits_for, self.workers,
                         self._build_with, done, pool="model")
        return [self.results[n] for n in order if n in self.results]

    def _build_with(self, engine, name: str) -> ModelResult:
        """Build model ``name`` with ``engine`` (this thread's, when building side by side)."""
        self._local.engine = engine
        return self._build(self.project.models[name])

    # -- readiness -----------------------------------------------------------------------------
    def _blocked(self, model) -> list[tuple[str, str]]:
        """(input, why) for every input not ready for the data date."""
        blocked = []
        for name in model.inputs:
            if name in self.project.models:
                ready, why = self._model_ready(name)
            else:
                ready, why = self._source_ready(name)
            if not ready:
                blocked.append((name, why))
        return blocked

    def _model_ready(self, name: str) -> tuple[bool, str]:
        if name in self.results:
            result = self.results[name]
            if result.held:
                return False, self._held_reason(name, result.blocking_rules)
            return result.ok, f"model {name} {result.status}" + (f": {result.reason}" if result.reason else "")
        with self._lock:
            if self._model_state is None:
                self._model_state = self._recorded_model_state()
        return self._model_state.get(name, (False, f"model {name} has not been built for {self.data_date}"))

    def _recorded_model_state(self) -> dict[str, tuple[bool, str]]:
        """Model -> (ready, why not) as the governance records have it for the data date."""
        state = {}
        for row in self.store.newest_of_date(ModelRunsRecord, self.data_date, "model",
                                             "finished_at").values():
            status = self._quality_status(row.table_name)
            if row.status == "succeeded" and status is not None and not status.promotable:
                state[row.model] = (False, self._held_reason(row.model, list(status.blocking_rules or [])))
                continue
            state[row.model] = (row.status == "succeeded", f"model {row.model} {row.status}"
                                + (f": {row.reason}" if row.reason else ""))
        return state

    def _quality_status(self, table_name: str) -> QualityStatusRecord | None:
        """The latest promotion decision on a model table for the data date (None: none)."""
        with self._lock:
            if self._model_status is None:
                self._model_status = self.store.newest_of_date(QualityStatusRecord, self.data_date,
                                                               "table_name", "decided_at")
        return self._model_status.get(table_name)

    def _held_reason(self, name: str, blocking_rules: list[str]) -> str:
        model = self.project.models[name]
        return model_quality.held_reason(self.project, model, model_spec(self.project, model).qualified_name,
                                         self.data_date, blocking_rules)

    def _source_ready(self, table: str) -> tuple[bool, str]:
        with self._lock:
            if self._source_state is None:
                self._source_state = self._recorded_source_state()
        return self._source_state.get(table, (False, f"{table} is not a table of this project"))

    def _recorded_source_state(self) -> dict[str, tuple[bool, str]]:
        """Near-source table -> (ready, why not) as the load log and promotions have it."""
        found = {}
        loads = self.store.newest_of_date(LoadLogRecord, self.data_date, "source", "finished_at")
        held = self.store.newest_of_date(QualityStatusRecord, self.data_date, "source",
                                         "decided_at")
        for contract in self.project.sources.values():
            load, status = loads.get(contract.name), held.get(contract.name)
            if load is None:
                state = (False, f"{contract.name} has no load for {self.data_date}")
            elif load.status != "succeeded":
                state = (False, f"{contract.name} {load.status} for {self.data_date}: "
                                f"{load.message.splitlines()[0] if load.message else ''}")
            elif status is not None and not status.promotable:
                state = (False, f"{contract.name} held by quality rule "
                                f"{', '.join(status.blocking_rules or [])}")
            else:
                state = (True, "")
            found[contract.table_name] = state
        return found

    # -- one model -----------------------------------------------------------------------------
    def _build(self, model) -> ModelResult:
        began = time.perf_counter()
        spec = model_spec(self.project, model)
        result = ModelResult(model.name, spec.qualified_name, model.layer, self.data_date, "skipped",
                             started_at=datetime.now())
        blocked = self._blocked(model)
        if blocked:
            result.blocked_by = [self._input_label(n) for n, _ in blocked]
            result.reason = "; ".join(why for _, why in blocked)
            result.finished_at = datetime.now()
            return result
        result.input_versions = self._input_versions(model)
        if self.skip_current and (built := self._current(model, result.input_versions)) is not None:
            result.status, result.built_at = "current", built.finished_at
            result.rows, result.table_version = built.rows, built.table_version
            status = self._quality_status(spec.qualified_name)
            if status is not None:  # the measurement of the build it stands on still holds
                result.promotable, result.blocking_rules = status.promotable, list(status.blocking_rules or [])
            result.reason = (f"built at {built.finished_at:%Y-%m-%d %H:%M:%S} from the same "
                             "definition and input versions")
            result.finished_at = datetime.now()
            return result
        staged = join_path(self.root, "_staging", self.run_id, "models", f"{model.name}.parquet")
        try:
            with table_date_lock(self.root, spec.qualified_name, self.data_date, self.run_id):
                self._write(model, staged, result)
            result.status = "succeeded"
        except TableBusy:
            raise  # another build of this date is writing the table: retry later
        except LakehouseError as exc:
            result.status, result.reason = "failed", exc.render()
        except Exception as exc:  # noqa: BLE001 - a Spark error in one model fails that model only
            result.status = "failed"
            result.reason = f"{self._file(model)}: {first_line(exc)}"  # the traceback is logged
            logging.getLogger(__name__).error("model %s failed for %s (%s)", model.name, self.data_date,
                                              self._file(model), exc_info=exc)
        finally:
            remove_dir(staged)
            result.seconds = time.perf_counter() - began
            result.finished_at = datetime.now()
        return result

    def _input_versions(self, model) -> dict[str, int]:
        """Input table (qualified name) -> its current Delta version (inputs with a table)."""
        versions = {}
        for _, spec, _ in self._input_specs(model):
            version = self.engine.version(spec)
            if version is not None:
                versions[spec.qualified_name] = version
        return versions

    def _current(self, model, input_versions: dict[str, int]) -> ModelRunsRecord | None:
        """The model's latest successful run for D, when it ran the same definition on the same
        version of every input; else None."""
        with self._lock:
            if self._built is None:
                self._built = self.store.newest_of_date(ModelRunsRecord, self.data_date, "model",
                                                        "finished_at", where(status="succeeded"))
        built = self._built.get(model.name)
        if built is None or built.sql_hash != model_hash(model):
            return None
        if built.input_versions is None or dict(built.input_versions) != input_versions:
            return None
        return built

    def _input_label(self, table: str) -> str:
        return self._sources[table].name if table in self._sources else table

    def _input_specs(self, model) -> list[tuple[str, object, str]]:
        specs = []
        for name, mode in model.inputs.items():
            spec = near_source_spec(self._sources[name], self.root) if name in self._sources \
                else model_spec(self.project, self.project.models[name])
            specs.append((name, spec, mode))
        return specs

    def _write(self, model, staged: str, result: ModelResult) -> None:
        """Run the model's query, measure its rows, write them and record the measurement
        (rows, version, removed snapshots and promotion go to ``result``)."""
        engine = self.engine
        query = sql_parsing.bind(model.sql, {**model.params, "data_date": self.data_date})
        query, keys = pseudonyms.expand(query, for_project(self.project))
        columns = engine.model_output(query, self._input_specs(model), self.data_date, staged, keys)
        rows, repeated, null_keys = engine.staged_summary(staged, list(model.keys))
        if repeated or null_keys:
            masks = key_masks(self.project, model)
            shown = [masked_key(masks, model.keys, key) for key in repeated[:3]]
            raise TerminalError(f"model {model.name} returned {len(repeated)}+ repeated and "
                                f"{null_keys} null keys for {self.data_date}", [Problem(
                                    f"keys {', '.join(model.keys)} must identify one row; repeated: "
                                    f"{shown}", file=str(self._file(model)), key="sql",
                                    fix="group or deduplicate the query by its keys")])
        spec = model_spec(self.project, model, columns)
        self._prepare_table(model, spec)
        measured = model_quality.measured_table(self.project, model, spec, [c for c, _ in columns])
        checked = model_quality.assess_built_rows(engine, self.project, measured, model, spec, staged,
                                                  self.data_date)
        staged, result.rows_dropped, frozen = model_quality.quarantine_dropped(
            engine, self.store, self.project, checked, staged, self.run_id, model.load_type == "zipper")
        rows -= result.rows_dropped
        metadata = {"run_id": self.run_id, "data_date": self.data_date.isoformat(),
                    "model": model.name, "model_hash": model_hash(model)}
        if model.load_type == "zipper":
            zipper_dates.load_zipper(self.engine, self.store, spec, staged, self.data_date, self.run_id,
                                     metadata, frozen)
        else:
            engine.load_partition(spec, staged, self.data_date, metadata)
        removals = retention.expire_model(engine, self.project, model, spec, self.data_date, self.run_id)
        status, validations = model_quality.record_quality(engine, self.store, self.project, model,
                                                           spec, checked, self.run_id)
        with self._lock:
            self.validations += validations
        result.promotable, result.blocking_rules = status.promotable, list(status.blocking_rules)
        version = engine.version(spec)
        self.store.append(retention.records(removals, self.run_id))
        self._lineage(model, spec, columns)
        result.rows, result.table_version = rows, version
        result.removed = [(r.data_date, r.rows) for r in removals if r.action == retention.DELETED]

    def _file(self, model):
        return self.project.layers_dir / model.layer / f"{model.name}.yaml"

    def _prepare_table(self, model, spec) -> None:
        """Create the table, or bring an existing one to the query's columns (added columns only).
        Done once per table layout in an engine's session."""
        self.engine.prepare_table(spec, lambda: self._bring_to_spec(model, spec))

    def _bring_to_spec(self, model, spec) -> None:
        layout = self.engine.table_layout(spec)
        if layout is None:
            self.engine.ensure_table(spec)
            return
        from lakehouse.zones.schema_diff import schema_diff

        diff = schema_diff(layout.types, spec.column_types)
        if diff.incompatible:
            raise TerminalError(f"model {model.name} no longer matches its table {spec.qualified_name}", [
                Problem(f"columns {', '.join(diff.removed)} removed" if diff.removed else
                        "column types changed: "
                        + ", ".join(f"{c} {old} -> {new}" for c, (old, new) in diff.retyped.items()),
                        file=str(self._file(model)), key="sql",
                        fix="keep the existing columns and types (cast in the query), or give the "
                            "model a new name and rebuild it")])
        if diff.added or any(layout.properties.get(k) != v for k, v in spec.properties.items()):
            self.engine.evolve_table(spec, layout, diff.added)
        self.engine.ensure_table(spec)

    # -- records -------------------------------------------------------------------------------
    def _lineage(self, model, spec, columns: list[tuple[str, str]]) -> None:
        """Table-level lineage from the declared inputs, column-level where the query shows it
        (one model at a time: each replaces its rows of the shared lineage and catalog tables)."""
        with self._lock:
            self._lineage_of(model, spec, columns)

    def _lineage_of(self, model, spec, columns: list[tuple[str, str]]) -> None:
        digest = model_hash(model)
        if digest in self._recorded_hashes():
            return
        now = datetime.now()
        inputs = {name: spec_ for name, spec_, _ in self._input_specs(model)}
        base = {"table_name": spec.qualified_name, "model_hash": digest, "recorded_at": now}
        rows = [LineageRecord(**base, column_name=None, input_table=inputs[name].qualified_name,
                              input_column=None, input_mode=mode, derived_by="declared")
                for name, mode in model.inputs.items()]
        schemas = {name: self._column_types(s) for name, s in inputs.items()}
        for source in sql_lineage.column_sources(model.sql, [c for c, _ in columns], schemas):
            rows.append(LineageRecord(**base, column_name=source.column,
                                      input_table=inputs[source.input_table].qualified_name,
                                      input_column=source.input_column,
                                      input_mode=model.inputs[source.input_table],
                                      derived_by="parsed"))
        self.store.replace(LineageRecord, rows, where(table_name=spec.qualified_name))
        self.store.replace(CatalogRecord, business_metadata.model_entries(
            self.project, model, spec, spec.properties["lakehouse.owner"], now),
            where(table_name=spec.qualified_name))
        self._recorded_hashes().add(digest)

    def _column_types(self, spec) -> dict[str, str]:
        """An input's columns: from its spec (sources), or from its table (models)."""
        if spec.columns:
            return spec.column_types
        layout = self.engine.table_layout(spec)
        return dict(layout.types) if layout else {}

    def _recorded_hashes(self) -> set[str]:
        with self._lock:
            if self._hashes is None:
                self._hashes = {r.model_hash for r in self.store.read(LineageRecord)}
            return self._hashes

    def _record(self, result: ModelResult) -> None:
        """Append the model's run (not for a current model, nor a skip when skips are not
        recorded)."""
        if result.status == "current" or (result.status == "skipped" and not self.record_skips):
            return
        self.store.append([ModelRunsRecord(
            run_id=self.run_id, model=result.model, table_name=result.table, layer=result.layer,
            data_date=result.data_date, status=result.status, reason=result.reason,
            blocked_by=result.blocked_by, rows=result.rows, table_version=result.table_version,
            sql_hash=model_hash(self.project.models[result.model]),
            started_at=result.started_at, finished_at=result.finished_at,
            input_versions=result.input_versions)])

    def flush(self) -> None:
        """Keep the build's Great Expectations results for the Data Docs; remove the build's
        staging folder."""
        remove_dir(join_path(self.root, "_staging", self.run_id))
        if self.validations:
            from lakehouse.quality import ge_adapter
            ge_adapter.store_results(self.validations, self.project.reports_dir / "data_docs")
        self.validations = []
