"""A table's quality for one data date: which rules apply, running them on the new rows (before
the load) and on the whole table (after it), and the records kept of it. The table is a
near-source table (its contract's rules) or a layer model's (its model's rules); the records are
the same for both.

Great Expectations is imported only when a batch is validated, so commands that never validate
do not pay for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lakehouse.governance.records import (
    QualityResultsRecord, QualitySamplesRecord, QualityScorecardRecord, QualityStatusRecord,
    QuarantineRecord, spec_of)
from lakehouse.config import Project, SourceContract
from lakehouse.config.quality_rules import QualityRule
from lakehouse.engine import LINE, Batch, Engine, Lookup
from lakehouse.security.masking import MaskRule, mask_row, masked_attributes
from lakehouse.security.pseudonyms import quarantine_key
from lakehouse.zones.near_source import near_source_spec
from lakehouse.config import derived_rules
from lakehouse.quality.rule_sql import RECEIVED_AT, fails_sql, reference_flag
from lakehouse.quality.scorecard import dimension_scores, rule_score
from lakehouse.zones.tables import TableSpec

SAMPLE_ROWS = 5
"""Failing rows kept per failed rule (masked)."""


@dataclass(frozen=True)
class DeliveryFacts:
    """What the delivery itself says, beside its rows: counts, control totals, arrival."""

    rows_in: int
    unparseable: int
    control_rows: int | None = None
    expected_amount: float | None = None
    arrived_at: datetime | None = None  # wall-clock time in the lakehouse time zone
    amount_undecided: str | None = None  # why the amount total cannot be reconciled


@dataclass(frozen=True)
class MeasuredTable:
    """What measuring a table and keeping its records needs to know of it: near-source
    (``source_table``) or a layer model's table (``lakehouse.layers.model_quality``)."""

    name: str  # the table's name in the project (cbs_account, mart_risk_warning)
    table_name: str  # qualified: schema.name
    source: str | None  # the source contract (system.entity); None for a model table
    columns: tuple[str, ...]  # its data columns: what a sampled or quarantined row keeps
    keys: tuple[str, ...]
    masked: dict[str, MaskRule]  # columns of level 3 and above, each with its masking


def source_table(project: Project, contract: SourceContract) -> MeasuredTable:
    spec = near_source_spec(contract, project.settings.root)
    return MeasuredTable(contract.table_name, spec.qualified_name, contract.name,
                         tuple(a.name for a in contract.attributes), tuple(contract.keys),
                         masked_attributes(project, contract.attributes))


@dataclass
class Assessment:
    """The rules of one scope run on one table for one data date, and what they found."""

    table: MeasuredTable
    data_date: date
    scope: str
    rules: list[QualityRule]
    validation: object  # ge_adapter.Validation
    frame: Batch | None = None  # the batch validated (new rows: kept to split off dropped rows)
    dropped: dict[str, int] = field(default_factory=dict)
    samples: list[dict] = field(default_factory=list)  # failing rows, each with its ``_rule``
    contract: SourceContract | None = None  # a near-source table's contract

    @property
    def table_name(self) -> str:
        return self.table.table_name

    def outcomes(self):
        by_rule = {o.rule: o for o in self.validation.outcomes}
        return [(rule, by_rule[rule.name]) for rule in self.rules]

    def failed(self, severity: str | None = None) -> list[QualityRule]:
        return [rule for rule, outcome in self.outcomes() if not outcome.success
                and (severity is None or rule.severity == severity)]

    def scored(self) -> list[tuple[QualityRule, float, bool]]:
        return [(rule, rule_score(rule, o.success, o.element_count, o.unexpected_count, o.error), o.success)
                for rule, o in self.outcomes()]


def table_rules(project: Project, contract: SourceContract) -> list[QualityRule]:
    """A near-source table's rules: derived from its contract (as changed by its rule file),
    then the declared ones."""
    return rules_of(project, contract.table_name,
                    derived_rules.contract_rules(contract, project.standards))


def rules_of(project: Project, name: str, derived: list[QualityRule]) -> list[QualityRule]:
    """The ``derived`` rules of table ``name`` as its rule file (``quality_rules/<name>.yaml``)
    changes them, followed by the rules it declares."""
    rule_file = project.quality_rules.get(name)
    overrides = rule_file.derived if rule_file else {}
    rules = []
    for rule in derived:
        change = overrides.get(rule.name)
        if change is not None and not change.enabled:
            continue
        if change is not None and change.severity:
            rule = rule.with_severity(change.severity)
        rules.append(rule)
    return rules + (list(rule_file.rules) if rule_file else [])


def referenced_tables(project: Project, contract: SourceContract) -> set[str]:
    """The tables this contract's reference rules look up (they load first in a run)."""
    return {r.reference.table for r in table_rules(project, contract) if r.kind == "reference"}


def _lookup_spec(project: Project, name: str) -> TableSpec:
    """The table a reference rule looks up: near-source, or a model's (enough to read it)."""
    from lakehouse.layers.model_tables import model_spec

    for contract in project.sources.values():
        if contract.table_name == name:
            return near_source_spec(contract, project.settings.root)
    return model_spec(project, project.models[name])


def _lookups(project: Project, rules: list[QualityRule]) -> list[Lookup]:
    return [Lookup(reference_flag(r), _lookup_spec(project, r.reference.table),
                   dict(r.reference.columns), dict(r.reference.equal), r.reference.required)
            for r in rules if r.kind == "reference"]


def validate(engine: Engine, project: Project, table: MeasuredTable, batch: Batch,
             rules: list[QualityRule], data_date: date, scope: str,
             contract: SourceContract | None = None) -> Assessment:
    """Run ``rules`` as one Great Expectations suite on ``batch`` (``table``'s rows of
    ``scope``), with a sample of the rows failing each failed row rule."""
    from lakehouse.quality import ge_adapter

    lookups = _lookups(project, rules)
    if lookups:
        batch = engine.with_lookups(batch, lookups, data_date)
    with engine.validating(), engine.held(batch) as held:
        validation = ge_adapter.validate(held, f"{table.table_name}.{scope}", rules, data_date)
        checked = Assessment(table, data_date, scope, rules, validation, batch, contract=contract)
        failed = [r for r in checked.failed() if r.row_level]
        if failed:
            checked.samples = engine.failing_samples(held, {r.name: fails_sql(r) for r in failed},
                                                     SAMPLE_ROWS)
    return checked


def assess_new_rows(engine: Engine, project: Project, contract: SourceContract, spec: TableSpec,
                    staging: str, data_date: date, facts: DeliveryFacts) -> Assessment:
    """Run the new-rows rules and the delivery's own rules on the staged extract."""
    rules = [r for r in table_rules(project, contract) if r.scope == "new_rows"]
    rules += derived_rules.delivery_rules(contract, facts.control_rows, facts.unparseable,
                                          facts.expected_amount, facts.amount_undecided is not None)
    if facts.arrived_at is None:
        rules = [r for r in rules if r.kind != "arrives_by"]
    batch = engine.new_rows_batch(staging, spec, {"data_date": data_date, RECEIVED_AT: facts.arrived_at})
    # Judged here rather than measured on the rows: an amount total that cannot be reconciled,
    # and, for a delivery without rows (whose column aggregates are null), its own facts.
    undecided = [r for r in rules if facts.amount_undecided and r.name == derived_rules.AMOUNT_TOTAL]
    empty = facts.rows_in - facts.unparseable <= 0
    judged = [r for r in rules if empty and r.kind in ("sum_equals", "arrives_by") and r not in undecided]
    checked = validate(engine, project, source_table(project, contract), batch,
                       [r for r in rules if r not in undecided and r not in judged], data_date,
                       "new_rows", contract)
    if undecided or judged:
        checked.rules = rules
        checked.validation.outcomes += [_not_measured(r, facts.amount_undecided) for r in undecided]
        checked.validation.outcomes += [_empty_delivery_outcome(r, facts, data_date) for r in judged]
    return checked


def _not_measured(rule: QualityRule, reason: str):
    """The result of a rule that could not be measured: failed, with the reason, so that its
    severity decides (a ``fail`` rule holds the date back)."""
    from lakehouse.quality.ge_adapter import Outcome

    return Outcome(rule=rule.name, expectation="not measured", arguments={}, success=False,
                   error=f"not measured: {reason}")


def _empty_delivery_outcome(rule: QualityRule, facts: DeliveryFacts, data_date: date):
    """The result of an amount-total or arrival rule on a delivery without rows."""
    from lakehouse.quality.ge_adapter import Outcome

    if rule.kind == "sum_equals":
        success, observed = abs(rule.check.total) <= rule.check.tolerance, 0
    else:
        deadline = datetime.combine(data_date + timedelta(days=rule.check.days_after), rule.check.at)
        success, observed = facts.arrived_at <= deadline, facts.arrived_at.isoformat()
    return Outcome(rule=rule.name, expectation="judged without rows (empty delivery)",
                   arguments=rule.check.model_dump(mode="json"), success=success,
                   element_count=0, unexpected_count=0, unexpected_percent=0.0,
                   observed_value=observed)


def assess_table(engine: Engine, project: Project, contract: SourceContract, spec: TableSpec,
                 data_date: date) -> Assessment | None:
    """Run the whole-table invariants on the loaded table (None when the table has none)."""
    rules = [r for r in table_rules(project, contract) if r.scope == "table"]
    if not rules:
        return None
    return validate(engine, project, source_table(project, contract), engine.table_batch(spec), rules,
                    data_date, "table", contract)


def drop_failing(engine: Engine, assessment: Assessment, kept_path: str, dropped_path: str) -> int:
    """Split the new rows failing a failed ``drop`` rule off to ``dropped_path``; the rest are
    written to ``kept_path`` for loading. Returns the number of rows dropped."""
    rules = assessment.failed("drop")
    fails = {rule.name: fails_sql(rule) for rule in rules}
    dropped = engine.split_batch(assessment.frame, fails, kept_path, dropped_path)
    outcomes = {rule.name: outcome for rule, outcome in assessment.outcomes()}
    assessment.dropped = {rule.name: outcomes[rule.name].unexpected_count for rule in rules}
    return dropped


def quarantine_spec(contract: SourceContract | MeasuredTable, root: str) -> TableSpec:
    """The quarantine table of a source contract's table, or of a measured table."""
    name = contract.name if isinstance(contract, MeasuredTable) else contract.table_name
    return spec_of(QuarantineRecord, root, name)


def dropped_rows(project: Project, assessment: Assessment, dropped_path: str, run_id: str,
                 file_name: str | None) -> dict:
    """What ``Engine.write_quarantine`` needs to quarantine the dropped rows, masked by the
    columns' standards, their keys hashed with the quarantine's key."""
    table = assessment.table
    rules = {r.name: r for r in assessment.rules}
    return {
        "path": dropped_path,
        "hmac_key": quarantine_key(project),
        "columns": list(table.columns),
        "masked": dict(table.masked),
        "keys": list(table.keys),
        "reasons": {name: (rules[name].dimension, f"{name} ({rules[name].severity}): "
                           f"{rules[name].description or rules[name].kind}")
                    for name in assessment.dropped},
        "literals": {"source": table.source, "table_name": assessment.table_name,
                     "data_date": assessment.data_date, "run_id": run_id, "file_name": file_name,
                     "quarantined_at": datetime.now(), "readmitted_run": None},
    }


# -- records -----------------------------------------------------------------------------------
def result_rows(assessment: Assessment, run_id: str) -> list[QualityResultsRecord]:
    from lakehouse.quality.ge_adapter import GE_VERSION, to_json

    now = datetime.now()
    rows = []
    for (rule, outcome), (_, score, _) in zip(assessment.outcomes(), assessment.scored()):
        rows.append(QualityResultsRecord(
            run_id=run_id, source=assessment.table.source, table_name=assessment.table_name,
            data_date=assessment.data_date, rule=rule.name, origin=rule.origin,
            dimension=rule.dimension, severity=rule.severity, scope=assessment.scope,
            description=rule.description or None, expectation=outcome.expectation,
            arguments=to_json(outcome.arguments), success=outcome.success,
            element_count=outcome.element_count, unexpected_count=outcome.unexpected_count,
            unexpected_percent=outcome.unexpected_percent,
            observed_value=to_json(outcome.observed_value),
            rows_dropped=assessment.dropped.get(rule.name), score=score,
            error=outcome.error, ge_version=GE_VERSION, validated_at=now,
        ))
    return rows


def sample_rows(project: Project, assessment: Assessment, run_id: str) -> list[QualitySamplesRecord]:
    """The sampled failing rows, with columns of security level 3 and above masked by their
    standards."""
    masked = assessment.table.masked
    keep = [*assessment.table.columns, "start_dt", "end_dt", "data_date"]
    now = datetime.now()
    rows = []
    for sample in assessment.samples:
        row = {k: sample[k] for k in keep if k in sample}
        rows.append(QualitySamplesRecord(
            run_id=run_id, table_name=assessment.table_name, data_date=assessment.data_date,
            rule=sample["_rule"], line=sample.get(LINE),
            row_json=json.dumps(mask_row(row, masked), ensure_ascii=False, default=str),
            sampled_at=now))
    return rows


def scorecard_rows(assessments: list[Assessment], run_id: str) -> list[QualityScorecardRecord]:
    """One row per dimension for the table and data date of ``assessments`` (both scopes)."""
    first = assessments[0]
    scored = [item for a in assessments for item in a.scored()]
    now = datetime.now()
    return [QualityScorecardRecord.of(
                run_id=run_id, source=first.table.source, table_name=first.table_name,
                data_date=first.data_date, dimension=dimension, **found, scored_at=now)
            for dimension, found in dimension_scores(scored).items()]


def status_row(assessments: list[Assessment], run_id: str, still_blocking: list[str] = ()
               ) -> QualityStatusRecord:
    """Whether the data date may be promoted: not when a ``fail`` rule failed (in
    ``assessments``, or one of ``still_blocking``: earlier failures not checked again)."""
    first = assessments[0]
    blocking = [r.name for a in assessments for r in a.failed("fail")]
    blocking += [name for name in still_blocking if name not in blocking]
    return QualityStatusRecord(
        run_id=run_id, source=first.table.source, table_name=first.table_name,
        data_date=first.data_date, promotable=not blocking, blocking_rules=blocking,
        message=(f"held back from the downstream layers: rule(s) of severity fail failed: "
                 f"{', '.join(blocking)}") if blocking else None,
        decided_at=datetime.now())


def records(project: Project, assessments: list[Assessment], run_id: str,
            still_blocking: list[str] = ()) -> tuple[list, list, list, QualityStatusRecord]:
    """The records of a table's measurement for one data date (both scopes): rule results,
    masked samples of failing rows, scorecard and promotion status."""
    results, samples = [], []
    for assessment in assessments:
        results += result_rows(assessment, run_id)
        samples += sample_rows(project, assessment, run_id)
    return (results, samples, scorecard_rows(assessments, run_id),
            status_row(assessments, run_id, still_blocking))


def evidence(assessment: Assessment, facts: DeliveryFacts) -> dict:
    """The admission's quality evidence: scores by dimension and the failed rules."""
    from lakehouse.quality.ge_adapter import GE_VERSION

    scores = dimension_scores(assessment.scored())
    return {
        "rows_in": facts.rows_in,
        "rows_unparseable": facts.unparseable,
        "rules": len(assessment.rules),
        "ge_version": GE_VERSION,
        "scores": {d: found["score"] for d, found in scores.items()},
        "failed_rules": [{"rule": rule.name, "dimension": rule.dimension, "severity": rule.severity,
                          "unexpected": outcome.unexpected_count, "checked": outcome.element_count,
                          "observed": outcome.observed_value, "error": outcome.error}
                         for rule, outcome in assessment.outcomes() if not outcome.success],
    }
