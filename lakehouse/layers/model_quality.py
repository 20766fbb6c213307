"""The quality of a layer model's table for one data date, measured as a near-source table's is.

The rules are derived from the model (its keys, its declared columns) and changed or added by
``quality_rules/<model>.yaml``. The rows the model built for the date are measured before they
are written (``drop`` rules split the failing rows off into ``governance.quarantine_<model>``),
the whole-table rules after; results, masked samples, scorecard and promotion status go to the
same governance tables as a near-source table's, under the model's table name. A model whose
``fail`` rule failed is not promoted: the models reading it are held for the date.
"""

from __future__ import annotations

from datetime import date

from lakehouse.config import derived_rules
from lakehouse.config.quality_rules import QualityRule
from lakehouse.filters import where
from lakehouse.governance.records import QualityStatusRecord, QuarantineRecord
from lakehouse.quality import assessment as quality
from lakehouse.quality.assessment import Assessment, MeasuredTable
from lakehouse.security.column_levels import model_masks
from lakehouse.zones.tables import TableSpec


def model_rules(project, model) -> list[QualityRule]:
    """The model table's rules: derived from the model (as changed by its rule file), then the
    declared ones."""
    return quality.rules_of(project, model.name, derived_rules.model_rules(model, project.standards))


def measured_table(project, model, spec: TableSpec, columns: list[str]) -> MeasuredTable:
    """The model's table as quality measures it; ``columns``: the query's columns."""
    return MeasuredTable(model.name, spec.qualified_name, None, tuple(columns), tuple(model.keys),
                         model_masks(project, model, columns))


def assess_built_rows(engine, project, table: MeasuredTable, model, spec: TableSpec, staged: str,
                      data_date: date) -> Assessment:
    """Run the model's new-rows rules on the rows it built for ``data_date`` (staged)."""
    rules = [r for r in model_rules(project, model) if r.scope == "new_rows"]
    batch = engine.new_rows_batch(staged, spec, {"data_date": data_date})
    return quality.validate(engine, project, table, batch, rules, data_date, "new_rows")


def quarantine_dropped(engine, store, project, checked: Assessment, staged: str, run_id: str,
                       zipper: bool) -> tuple[str, int, list[tuple]]:
    """Split the built rows failing a failed ``drop`` rule off into the model's quarantine table
    (replacing what an earlier build of the date put there); returns the rows to write, how
    many were dropped and, for a ``zipper`` model, the keys of the dropped rows (each keeps its
    previous version rather than being closed, as in a near-source zipper load)."""
    held = quality.quarantine_spec(checked.table, project.settings.root)
    dropped, count, frozen = None, 0, []
    if checked.failed("drop"):
        kept_path, dropped_path = staged + ".kept", staged + ".dropped"
        count = quality.drop_failing(engine, checked, kept_path, dropped_path)
        dropped = quality.dropped_rows(project, checked, dropped_path, run_id, None)
        if zipper and count:
            frozen = engine.distinct_rows(dropped_path, list(checked.table.keys))
        staged = kept_path
    if dropped or engine.has_rows(held, where(data_date=checked.data_date)):
        store.prepared(QuarantineRecord, checked.table.name)
        engine.write_quarantine(held, checked.data_date, [], dropped)
    return staged, count, frozen


def record_quality(engine, store, project, model, spec: TableSpec, checked: Assessment, run_id: str
                   ) -> tuple[QualityStatusRecord, list]:
    """Run the whole-table rules on the written table and keep the records of both scopes;
    returns the promotion status and the Great Expectations validations (for the Data Docs)."""
    assessments = [checked]
    whole = [r for r in model_rules(project, model) if r.scope == "table"]
    if whole:
        assessments.append(quality.validate(engine, project, checked.table, engine.table_batch(spec),
                                            whole, checked.data_date, "table"))
    results, samples, scorecard, status = quality.records(project, assessments, run_id)
    store.append_each(results, samples, scorecard, [status])
    return status, [a.validation for a in assessments]


def held_reason(project, model, table_name: str, data_date: date, blocking_rules: list[str]) -> str:
    """Why the models reading ``model`` are held for ``data_date``: its rules that failed."""
    rules = ", ".join(blocking_rules) or "?"
    return (f"{table_name} for {data_date} held by quality rule(s) of severity fail: {rules} "
            f"(see governance.quality_results); correct the model or its inputs and rebuild it, or "
            f"change the rule in {project.rules_dir / (model.name + '.yaml')}")
