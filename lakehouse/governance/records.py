"""Governance records: one frozen dataclass per governance table, the single source of its schema.

Each field carries its Spark SQL type and comment (:func:`column`); :func:`spec_of` derives the
table's ``TableSpec`` (name, comment, partitioning, path in the governance zone) from the class.
Every field is required, so a misspelt or forgotten field fails where the record is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from lakehouse.zones import Zone, zone_path
from lakehouse.zones.tables import Column, TableSpec

SPARK_TYPE, COMMENT = "spark_type", "comment"


def column(spark_type: str, comment: str) -> Any:
    """A record field stored as a column of ``spark_type`` described by ``comment``."""
    return dataclasses.field(metadata={SPARK_TYPE: spark_type, COMMENT: comment})


class GovernanceRecord:
    """Base of the governance records; the ``record`` decorator makes each a frozen dataclass."""

    TABLE: ClassVar[str]
    COMMENT: ClassVar[str]
    PARTITION_BY: ClassVar[tuple[str, ...]] = ()
    PER_TABLE: ClassVar[bool] = False  # one table per data table (quarantine_<table>)
    # column -> (its former type, Spark SQL computing the new value from the former one)
    UPGRADES: ClassVar[dict[str, tuple[str, str]]] = {}

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field, ...]:
        return dataclasses.fields(cls)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]):
        """The record of a row read from its table; a column the table lacks (written before
        the column was added) reads as None, a column the record does not know is ignored."""
        values = {}
        for f in dataclasses.fields(cls):
            value = row.get(f.name)
            decode = _DECODERS.get(f.metadata[SPARK_TYPE])
            values[f.name] = decode(value) if decode and value is not None else value
        return cls(**values)

    @classmethod
    def of(cls, **values: Any):
        """The record of ``values``; a missing or unknown field raises ``ValueError`` naming it
        and the record type."""
        check_fields(cls, values)
        return cls(**values)

    def as_row(self) -> dict[str, Any]:
        """Column name -> value, as the engine writes it (structs as dicts)."""
        row = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            encode = _ENCODERS.get(f.metadata[SPARK_TYPE])
            row[f.name] = encode(value) if encode and value is not None else value
        return row

    def get(self, name: str, default: Any = None) -> Any:
        """The field ``name`` (mapping-style access for readers shared with plain rows)."""
        return getattr(self, name, default)

    def __getitem__(self, name: str) -> Any:
        if name not in self.field_names():
            raise KeyError(f"{type(self).__name__} has no field {name!r}")
        return getattr(self, name)


R = TypeVar("R", bound=GovernanceRecord)


def check_fields(record_type: type[GovernanceRecord], values: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming every field of ``values`` unknown to ``record_type`` and
    every field it lacks."""
    names = record_type.field_names()
    unknown = [k for k in values if k not in names]
    missing = [n for n in names if n not in values]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
        if missing:
            parts.append(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
        raise ValueError(f"{record_type.__name__} (governance.{record_type.TABLE}): {'; '.join(parts)}; "
                         f"fix: give exactly the fields {', '.join(names)}")


def record(table: str, comment: str, partition_by: tuple[str, ...] = (), per_table: bool = False):
    """Make the class a frozen, keyword-only dataclass stored in governance table ``table``."""
    def wrap(cls):
        cls.TABLE, cls.COMMENT, cls.PARTITION_BY, cls.PER_TABLE = table, comment, partition_by, per_table
        return dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    return wrap


def spec_of(record_type: type[GovernanceRecord], root: str, table: str | None = None) -> TableSpec:
    """The governance table of ``record_type`` under lakehouse ``root``; ``table`` names the
    data table of a per-table record (quarantine)."""
    if record_type.PER_TABLE:
        if not table:
            raise ValueError(f"{record_type.__name__} is kept per table: give the table name")
        name, parts = f"{record_type.TABLE}_{table}", (record_type.TABLE, table)
        comment = record_type.COMMENT.format(table=table)
    else:
        name, parts, comment = record_type.TABLE, (record_type.TABLE,), record_type.COMMENT
    return TableSpec(
        name=name,
        zone=Zone.GOVERNANCE.value,
        layer=None,
        path=zone_path(root, Zone.GOVERNANCE, *parts),
        columns=tuple(Column(f.name, f.metadata[SPARK_TYPE], f.metadata[COMMENT])
                      for f in dataclasses.fields(record_type)),
        partition_by=record_type.PARTITION_BY,
        comment=comment,
    )


def newest_per_key(rows: Iterable[Any], key_fields: Sequence[str], order_field: str) -> dict[tuple, Any]:
    """One row per distinct ``key_fields`` value, the one with the greatest ``order_field`` (on
    a tie, the one seen last), by key tuple in first-seen order. Rows are records or dicts."""
    best: dict[tuple, Any] = {}
    for row in rows:
        key = tuple(row.get(f) for f in key_fields)
        current = best.get(key)
        if current is None or row.get(order_field) >= current.get(order_field):
            best[key] = row
    return best


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProblemRecord:
    """A stored ``lakehouse.errors.Problem``: where, what and how to fix (value masked when its
    column is of security level 3 or above)."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    value: str | None = None
    fix: str | None = None

    @classmethod
    def of(cls, problem, masked: Collection[str] = frozenset()) -> "ProblemRecord":
        """The record of ``problem``; its column becomes the key when it has none, and its value
        is masked when that column is in ``masked`` (names, or column -> ``MaskRule``)."""
        from lakehouse.security.masking import mask_value, rule_of

        column = None if problem.column is None else str(problem.column)
        key = problem.key or column
        value = None if problem.value is None else str(problem.value)
        if value is not None and ((column in masked) or (problem.key in masked)):
            value = mask_value(value, rule_of(masked, column if column in masked else problem.key))
        return cls(message=problem.message, file=None if problem.file is None else str(problem.file),
                   line=problem.line, key=key, value=value, fix=problem.fix)


PROBLEMS_TYPE = ("array<struct<message:string,file:string,line:bigint,key:string,"
                 "value:string,fix:string>>")

_ENCODERS = {PROBLEMS_TYPE: lambda ps: [dataclasses.asdict(p) for p in ps]}
_DECODERS = {PROBLEMS_TYPE: lambda ps: [
    ProblemRecord(**(p.asDict() if hasattr(p, "asDict") else dict(p))) for p in ps]}


@record('raw_manifest', 'Every file landed in the raw zone, one row per version')
class RawManifestRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run that landed the file')
    source: str | None = column('string', 'source contract, system.entity')
    data_date: date | None = column('date', 'data date of the delivery')
    file_name: str | None = column('string', 'file name as delivered')
    role: str | None = column('string', 'data or control')
    version: int | None = column('int', 'raw zone version of this file for the data date')
    raw_path: str | None = column('string', 'where the bytes are kept')
    size_bytes: int | None = column('bigint', 'file size')
    sha256: str | None = column('string', 'SHA-256 of the bytes')
    rows: int | None = column('bigint', 'rows declared by the control file, if known')
    received_at: datetime | None = column('timestamp', 'when the file was landed')
    verified: str | None = column('string', "how a data file's bytes were verified on arrival: "
                                  "signature (the control file's sha256 and the source system's "
                                  "signature), sha256 (the control file's sha256 only), or empty")


@record('load_log', 'Every near-source load attempt with its row counts')
class LoadLogRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run identifier')
    source: str | None = column('string', 'source contract, system.entity')
    table_name: str | None = column('string', 'target table, schema.name')
    data_date: date | None = column('date', 'data date loaded')
    load_type: str | None = column('string', 'snapshot, zipper or append')
    file_name: str | None = column('string', 'delivered file')
    sha256: str | None = column('string', 'SHA-256 of the delivered file')
    rows_in: int | None = column('bigint', 'records read from the file (0 when it was not read)')
    rows_loaded: int | None = column('bigint', 'records loaded into the table')
    rows_quarantined: int | None = column('bigint', 'records put in quarantine')
    status: str | None = column('string', 'succeeded or failed')
    message: str | None = column('string', 'error message when failed')
    table_version: int | None = column('bigint', 'Delta version of the target after the load')
    started_at: datetime | None = column('timestamp', 'start of the load')
    finished_at: datetime | None = column('timestamp', 'end of the load')
    operation: str | None = column('string', 'delivery (a delivered file), unchanged (a rerun of a file '
                                   'already loaded: nothing written), readmission (corrected rows), '
                                   'refold (an incremental date folded again by a backfill), or '
                                   'change events or business events (a table kept from its '
                                   'real-time feed)')
    rows_refused: int | None = column('bigint', 'records of a delivery refused as a whole; rows_in = '
                                      'rows_loaded + rows_quarantined + rows_refused')


@record('quarantine', 'Quarantined rows of {table}, with the rule and reason', partition_by=('data_date',),
        per_table=True)
class QuarantineRecord(GovernanceRecord):
    """One quarantine table per source: rows that could not be parsed, and rows dropped by a
    quality rule of severity drop, with the rule and the reason. Values of security level 3 and
    above are kept masked; a parse-rejected line that cannot be split into its fields (so its
    values cannot be masked) is kept sealed instead (:mod:`lakehouse.security.sealing`), for
    ``lakehouse quarantine show`` to open for a principal cleared to read the table in clear."""

    source: str | None = column('string', 'source contract, system.entity')
    table_name: str | None = column('string', 'target table, schema.name')
    data_date: date | None = column('date', 'data date of the delivery')
    run_id: str | None = column('string', 'run that quarantined the row')
    file_name: str | None = column('string', 'delivered file')
    line: int | None = column('bigint', 'line number in the file (row number for Parquet)')
    stage: str | None = column('string', 'parse (unreadable row), quality (dropped by a rule) or '
                               'watermark (an incremental extract\'s late or future row)')
    rule: str | None = column('string', 'the quality rule that dropped the row, or late_correction '
                              'or future_update (watermark); parse: null')
    dimension: str | None = column('string', "the rule's quality dimension")
    reason: str | None = column('string', 'why the row was quarantined')
    raw_line: str | None = column('string', 'the row as delivered, security level 3 and above masked (parse '
                                  'stage; null when sealed)')
    sealed_line: str | None = column('string', 'the row as delivered, encrypted, where it cannot be split '
                                     'into its fields to mask them (read with lakehouse quarantine show)')
    row_json: str | None = column('string', 'the row as JSON, security level 3 and above masked (quality stage)')
    key_hash: str | None = column('string', "keyed hash (HMAC-SHA256) of the row's key, to match corrected rows")
    quarantined_at: datetime | None = column('timestamp', 'when the row was quarantined')
    readmitted_run: str | None = column('string', 'run that re-admitted the corrected row (null while held)')


@record('admission_log', 'Every admission decision: one row per check of each delivery')
class AdmissionLogRecord(GovernanceRecord):
    UPGRADES: ClassVar[dict[str, tuple[str, str]]] = {"problems": (
        "array<string>",
        "transform(problems, p -> named_struct('message', p, 'file', CAST(NULL AS STRING), "
        "'line', CAST(NULL AS BIGINT), 'key', CAST(NULL AS STRING), "
        "'value', CAST(NULL AS STRING), 'fix', CAST(NULL AS STRING)))")}
    run_id: str | None = column('string', 'run that decided')
    source: str | None = column('string', 'source contract, system.entity')
    data_date: date | None = column('date', 'data date of the delivery')
    file_name: str | None = column('string', 'delivered file')
    contract_hash: str | None = column('string', 'SHA-256 of the contract the delivery was checked against')
    registration_version: int | None = column('int', 'registered contract version (null if unregistered)')
    decision: str | None = column('string', 'admitted or rejected')
    check_order: int | None = column('int', '1 owner, 2 standard, 3 source, 4 classification, 5 quality, 6 metadata')
    check_name: str | None = column('string', 'owner, standard, source, classification, quality or metadata')
    status: str | None = column('string', 'passed, failed or not run')
    evidence: str | None = column('string', 'what the check looked at, as JSON')
    problems: list[ProblemRecord] | None = column(PROBLEMS_TYPE, 'what failed and how to fix it')
    decided_at: datetime | None = column('timestamp', 'when the decision was made')


@record('registrations', 'Every registered version of every source contract')
class RegistrationsRecord(GovernanceRecord):
    source: str | None = column('string', 'source contract, system.entity')
    version: int | None = column('int', 'registration version, 1 for the first')
    content_hash: str | None = column('string', "SHA-256 of the contract's canonical JSON")
    contract_file: str | None = column('string', 'the contract file registered')
    contract_yaml: str | None = column('string', "the contract file's text as registered")
    table_name: str | None = column('string', 'near-source table, schema.name')
    table_version: int | None = column('bigint', 'Delta version of the table after registration')
    changes: list[str] | None = column('array<string>', 'what changed from the previous version')
    registered_by: str | None = column('string', 'who registered it')
    reason: str | None = column('string', 'why (given with --reason)')
    registered_at: datetime | None = column('timestamp', 'when')


@record('catalog', 'Business metadata of the registered tables and columns (searchable)')
class CatalogRecord(GovernanceRecord):
    source: str | None = column('string', 'source contract, system.entity')
    registration_version: int | None = column('int', 'registration the entry comes from')
    table_name: str | None = column('string', 'physical table, schema.name')
    column_name: str | None = column('string', 'physical column (null for the table itself)')
    data_type: str | None = column('string', 'physical type')
    is_key: bool | None = column('boolean', 'part of the business key')
    name_zh: str | None = column('string', 'business name (Chinese): logical entity or attribute')
    name_en: str | None = column('string', 'business name (English)')
    description: str | None = column('string', "the entity's description")
    standard_id: str | None = column('string', 'data standard the column follows')
    standard_zh: str | None = column('string', "the standard's Chinese name")
    standard_en: str | None = column('string', "the standard's English name")
    standard_definition: str | None = column('string', "the standard's definition")
    security_level: int | None = column('int', "security level (the table's is its highest column's)")
    pi_category: str | None = column('string', 'personal financial information category C1-C3')
    owner: str | None = column('string', 'data owner id')
    owner_name: str | None = column('string', "data owner's name")
    department: str | None = column('string', "data owner's department")
    system: str | None = column('string', 'source system code')
    system_name: str | None = column('string', 'source system name')
    registered_at: datetime | None = column('timestamp', 'when the registration was made')


@record('level_changes', 'Security level changes of columns and tables, with who, when and why')
class LevelChangesRecord(GovernanceRecord):
    source: str | None = column('string', 'source contract, system.entity')
    table_name: str | None = column('string', 'table, schema.name')
    column_name: str | None = column('string', 'column (null for the table level)')
    old_level: int | None = column('int', 'level before')
    new_level: int | None = column('int', 'level after')
    direction: str | None = column('string', 'raised or lowered (declassified)')
    registration_version: int | None = column('int', 'registration that made the change')
    changed_by: str | None = column('string', 'who')
    reason: str | None = column('string', 'why')
    changed_at: datetime | None = column('timestamp', 'when')


@record('system_events', 'Certification events of source systems')
class SystemEventsRecord(GovernanceRecord):
    system: str | None = column('string', 'system code')
    event: str | None = column('string', 'certified or decertified')
    effective_date: date | None = column('date', 'the day the event takes effect')
    reason: str | None = column('string', 'merged, split or retired (decertified only)')
    replaced_by: str | None = column('string', 'the system that takes over, if any')
    decided_by: str | None = column('string', 'who decided')
    note: str | None = column('string', 'free text')
    recorded_at: datetime | None = column('timestamp', 'when it was recorded')


@record('quality_results', 'Every quality rule result, passed or failed, per table and data date', partition_by=('data_date',))
class QualityResultsRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run that validated')
    source: str | None = column('string', 'source contract, system.entity')
    table_name: str | None = column('string', 'validated table, schema.name')
    data_date: date | None = column('date', 'data date validated')
    rule: str | None = column('string', 'rule name')
    origin: str | None = column('string', 'derived (from the contract and standards) or declared (quality_rules/)')
    dimension: str | None = column('string', 'completeness, timeliness, accuracy, consistency, uniqueness or validity')
    severity: str | None = column('string', 'warn, drop or fail')
    scope: str | None = column('string', 'new_rows (before the load) or table (after it)')
    description: str | None = column('string', 'what the rule expects')
    expectation: str | None = column('string', 'the Great Expectations expectation that ran it')
    arguments: str | None = column('string', "the expectation's arguments, as JSON")
    success: bool | None = column('boolean', 'whether the rule passed')
    element_count: int | None = column('bigint', 'rows checked (row rules)')
    unexpected_count: int | None = column('bigint', 'rows failing (row rules)')
    unexpected_percent: float | None = column('double', 'percent of checked rows failing')
    observed_value: str | None = column('string', 'the measured value (aggregate rules), as JSON')
    rows_dropped: int | None = column('bigint', 'rows quarantined by this rule (drop severity)')
    score: float | None = column('double', '0-100: share of rows passing, or 100/0 for aggregate rules')
    error: str | None = column('string', 'why the rule could not be evaluated')
    ge_version: str | None = column('string', 'Great Expectations version')
    validated_at: datetime | None = column('timestamp', 'when')


@record('quality_samples', 'Sample failing rows per rule (security level 3 and above masked)')
class QualitySamplesRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run that validated')
    table_name: str | None = column('string', 'validated table, schema.name')
    data_date: date | None = column('date', 'data date validated')
    rule: str | None = column('string', 'rule name')
    line: int | None = column('bigint', 'line in the delivered file (new rows)')
    row_json: str | None = column('string', 'the failing row as JSON, masked')
    sampled_at: datetime | None = column('timestamp', 'when')


@record('quality_scorecard', 'Quality score 0-100 per table, data date and dimension')
class QualityScorecardRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run that scored')
    source: str | None = column('string', 'source contract, system.entity')
    table_name: str | None = column('string', 'table, schema.name')
    data_date: date | None = column('date', 'data date scored')
    dimension: str | None = column('string', 'one of the six quality dimensions')
    score: float | None = column('double', 'mean rule score of the dimension (null when no rule measures it)')
    rules: int | None = column('int', 'rules measuring the dimension')
    rules_failed: int | None = column('int', 'of which failed')
    scored_at: datetime | None = column('timestamp', 'when')


@record('quality_status', "Whether each table's data date may be promoted to the downstream layers")
class QualityStatusRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run that decided')
    source: str | None = column('string', 'source contract, system.entity')
    table_name: str | None = column('string', 'table, schema.name')
    data_date: date | None = column('date', 'data date')
    promotable: bool | None = column('boolean', 'false when a rule of severity fail failed')
    blocking_rules: list[str] | None = column('array<string>', 'the failed fail-severity rules')
    message: str | None = column('string', 'why it is held')
    decided_at: datetime | None = column('timestamp', 'when')


@record('model_runs', 'Every layer model run per data date: built, skipped (and why) or failed')
class ModelRunsRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run identifier')
    model: str | None = column('string', 'model name')
    table_name: str | None = column('string', 'target table, schema.name')
    layer: str | None = column('string', 'integrated, common or mart')
    data_date: date | None = column('date', 'data date built')
    status: str | None = column('string', 'succeeded, skipped or failed')
    reason: str | None = column('string', 'why it was skipped or failed')
    blocked_by: list[str] | None = column('array<string>', 'the inputs (source contracts or models) not ready for the date')
    rows: int | None = column('bigint', 'rows of the date in the table (snapshot) or valid on it (zipper)')
    table_version: int | None = column('bigint', 'Delta version of the target after the run')
    sql_hash: str | None = column('string', 'SHA-256 of the model definition that ran')
    started_at: datetime | None = column('timestamp', 'start')
    finished_at: datetime | None = column('timestamp', 'end')
    input_versions: dict[str, int] | None = column(
        'map<string,bigint>', 'Delta version of every input table the model read, by table name')


@record('lineage', 'Where each modelled table and column comes from (table level: column_name null)')
class LineageRecord(GovernanceRecord):
    table_name: str | None = column('string', 'target table, schema.name')
    column_name: str | None = column('string', 'target column (null for the table-level row)')
    input_table: str | None = column('string', 'source table, schema.name')
    input_column: str | None = column('string', 'source column (null for the table-level row)')
    input_mode: str | None = column('string', 'current (rows of the date) or history (rows up to it)')
    derived_by: str | None = column('string', 'declared (model inputs) or parsed (from the query)')
    model_hash: str | None = column('string', 'SHA-256 of the model definition')
    recorded_at: datetime | None = column('timestamp', 'when')


@record('retention_log', "Every removal by retention (4.2.2.5): rows deleted, files vacuumed, raw "
        "folders destroyed, staging folders removed, and data kept because a hold pins it")
class RetentionLogRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run that removed them')
    table_name: str | None = column('string', 'table, schema.name (raw zone: the source table)')
    data_date: date | None = column('date', 'the data date removed (zipper rows: the end_dt they were closed on)')
    rows: int | None = column('bigint', 'rows removed')
    retention_days: int | None = column('int', 'data dates the rule keeps')
    table_version: int | None = column('bigint', 'Delta version after the removal')
    removed_at: datetime | None = column('timestamp', 'when')
    zone: str | None = column('string', 'raw, near_source, model_snapshots, history, quarantine, samples or staging')
    action: str | None = column('string', 'deleted (rows, from the current version), vacuumed (their files, '
                                'after the window), destroyed (raw files), removed (staging folder) or '
                                'held (expired, kept by a hold)')
    path: str | None = column('string', 'the table, folder or files removed')
    files: int | None = column('bigint', 'files removed from storage')
    bytes: int | None = column('bigint', 'bytes removed from storage')
    rule: str | None = column('string', 'the retention rule that applied, e.g. retention.yaml tables[ref_code]')
    held_by: str | None = column('string', 'the hold that kept it (action held)')


@record('zipper_dates', 'The data dates folded into each zipper table (near-source and model tables)')
class ZipperDatesRecord(GovernanceRecord):
    table_name: str | None = column('string', 'zipper table, schema.name')
    data_date: date | None = column('date', 'data date loaded into the table')
    run_id: str | None = column('string', 'run that loaded it')
    loaded_at: datetime | None = column('timestamp', 'when')


@record('watermarks', 'Each data date folded into a zipper table from an incremental extract '
        '(6.3.1.1 c): the watermark its rows were checked against and what they did')
class WatermarksRecord(GovernanceRecord):
    """One row per date folded: the date of a load, and each later date a backfill folded again.
    The newest row of a table and date (``folded_at``) describes the table as it is."""

    run_id: str | None = column('string', 'run that folded the date')
    source: str | None = column('string', 'source contract, system.entity')
    table_name: str | None = column('string', 'zipper table, schema.name')
    data_date: date | None = column('date', 'data date folded')
    loaded_date: date | None = column('date', 'the data date whose load folded it (earlier than '
                                      'data_date: a backfill folding the later dates again)')
    updated_at: str | None = column('string', "the attribute holding a row's last-update time")
    watermark_before: datetime | None = column(
        'timestamp_ntz', 'the newest update applied before the date (source wall clock; a date '
        'attribute: its midnight); a row at or before it is a re-delivery or a late correction')
    watermark_after: datetime | None = column(
        'timestamp_ntz', 'the newest update applied up to and including the date')
    rows_in: int | None = column('bigint', "rows of the date's extract admitted (parse and drop rules passed)")
    rows_changed: int | None = column('bigint', 'rows that opened a version (a new key or changed values)')
    rows_unchanged: int | None = column('bigint', 'rows equal to the version in effect: nothing changed')
    rows_deleted: int | None = column('bigint', 'delete markers that closed a version')
    rows_late: int | None = column('bigint', 'late corrections quarantined: updated at or before '
                                   'watermark_before and differing from the version in effect')
    rows_future: int | None = column('bigint', 'rows quarantined as updated after the end of the data date')
    folded_at: datetime | None = column('timestamp', 'when')


@record('access_audit', 'Every read or export touching security level 2 and above, allowed, masked '
        'or refused; append-only and hash-chained (lakehouse audit verify)')
class AccessAuditRecord(GovernanceRecord):
    """One use of protected data (4.2.2.4 b). ``record_hash`` chains it to the record before it:
    see :mod:`lakehouse.security.audit` for the exact serialisation hashed."""

    seq: int | None = column('bigint', 'position in the chain: 1, 2, 3, ... without gaps')
    recorded_at: datetime | None = column('timestamp', 'when the access was recorded')
    principal: str | None = column('string', 'who read: a person, service account or application')
    roles: list[str] | None = column('array<string>', 'the roles the principal acted in')
    operation: str | None = column('string', 'query, export, ...')
    objects: list[str] | None = column('array<string>', 'the columns read, as schema.table.column:level')
    result: str | None = column('string', 'allowed, masked or refused')
    rows_returned: int | None = column('bigint', 'rows returned (null when refused)')
    query_hash: str | None = column('string', 'SHA-256 of the query text (the text is not kept)')
    detail: str | None = column('string', 'short reason, e.g. the refusal message')
    prev_hash: str | None = column('string', 'record_hash of the record before (64 zeros for the first)')
    record_hash: str | None = column('string', 'SHA-256 of prev_hash and the canonical JSON of the other fields')


@record('backup_log', 'Every backup taken and every backup verified (4.2.2.2 d)')
class BackupLogRecord(GovernanceRecord):
    backup_id: str | None = column('string', 'the backup (its manifest: <backup root>/manifests/<id>.json)')
    action: str | None = column('string', 'backup (taken) or verify (restored to scratch and compared)')
    backup_root: str | None = column('string', 'where the backup is kept')
    tables: int | None = column('int', 'Delta tables in the backup (verify: tables compared)')
    files: int | None = column('bigint', 'files in the backup')
    bytes: int | None = column('bigint', 'bytes in the backup')
    files_copied: int | None = column('bigint', 'files whose content was new to the backup root (verify: 0)')
    bytes_copied: int | None = column('bigint', 'bytes copied (verify: 0)')
    status: str | None = column('string', 'succeeded or failed')
    problems: list[ProblemRecord] | None = column(PROBLEMS_TYPE, 'what failed, where, and the fix')
    recorded_at: datetime | None = column('timestamp', 'when')


@record('service_events', 'Every step of every data service: registered, approved, published, '
        'deprecated, retired, with who and when (6.2.4.3)')
class ServiceEventsRecord(GovernanceRecord):
    service: str | None = column('string', 'the service, as named in services.yaml')
    version: int | None = column('int', "the contract's version")
    event: str | None = column('string', 'registered, approved, published, deprecated or retired')
    by: str | None = column('string', 'the principal who took the step')
    at: datetime | None = column('timestamp', 'when')
    contract_hash: str | None = column('string', "SHA-256 of the contract's canonical JSON")
    contract_json: str | None = column('string', 'the contract as registered (registered events)')
    reason: str | None = column('string', 'why (deprecated and retired events)')


@record('service_keys', 'API keys of the data services: issued and revoked, the secret kept hashed')
class ServiceKeysRecord(GovernanceRecord):
    key_id: str | None = column('string', 'the public part of the key, lhk_<key_id>_<secret>')
    principal: str | None = column('string', 'the consumer the key authenticates')
    key_hash: str | None = column('string', 'SHA-256 of the secret (the secret itself is never kept)')
    event: str | None = column('string', 'issued or revoked')
    by: str | None = column('string', 'who issued or revoked it')
    at: datetime | None = column('timestamp', 'when')


@record('service_calls', 'Call statistics of the data services per service, consumer and window (6.3.1.3)')
class ServiceCallsRecord(GovernanceRecord):
    service: str | None = column('string', 'the service')
    consumer: str | None = column('string', 'the calling principal (anonymous: no valid key)')
    window_start: datetime | None = column('timestamp', 'start of the window counted')
    window_end: datetime | None = column('timestamp', 'end of the window counted')
    calls: int | None = column('bigint', 'calls answered')
    errors: int | None = column('bigint', 'calls answered with a server error (5xx)')
    refused: int | None = column('bigint', 'calls refused: 401, 403, 404, 410')
    limited: int | None = column('bigint', 'calls over the rate limit (429)')
    p50_ms: float | None = column('double', 'median latency in milliseconds')
    p99_ms: float | None = column('double', '99th percentile latency in milliseconds')
    max_ms: float | None = column('double', 'slowest call in milliseconds')


@record('history_log', 'Data dates moved from the standard zone to the history zone, one row per '
        'table and move (6.2.3 d)')
class HistoryLogRecord(GovernanceRecord):
    move_id: str | None = column('string', 'the move (also in the commit metadata of both tables)')
    table_name: str | None = column('string', 'hot table, schema.name')
    history_table: str | None = column('string', 'history table, history.<layer>__<name>')
    data_dates: list[date] | None = column('array<date>', 'the data dates moved')
    rows: int | None = column('bigint', 'rows moved (copied to history, then deleted from the hot table)')
    files: int | None = column('bigint', 'files the copy wrote to the history table')
    bytes: int | None = column('bigint', 'bytes the copy wrote to the history table')
    hot_days: int | None = column('int', "the table's hot window, in data dates")
    hot_version_read: int | None = column('bigint', 'Delta version of the hot table the rows were copied from')
    hot_version: int | None = column('bigint', 'Delta version of the hot table after the delete')
    history_version: int | None = column('bigint', 'Delta version of the history table after the copy '
                                         'and its compaction')
    status: str | None = column('string', 'moved, or recovered: a move whose record a crash lost, '
                                'recorded by the next move')
    moved_at: datetime | None = column('timestamp', 'when')


@record('reconciliation', "Each reconciliation of a real-time feed's events of a data date against "
        'the T-1 batch of that date, which is authoritative (6.2.3 c)')
class ReconciliationRecord(GovernanceRecord):
    run_id: str | None = column('string', 'run that reconciled')
    source: str | None = column('string', 'source contract, system.entity')
    data_date: date | None = column('date', 'data date reconciled')
    events_table: str | None = column('string', 'the real-time events table, schema.name')
    batch_table: str | None = column('string', 'the near-source table of the T-1 batch')
    events: int | None = column('bigint', "the feed's events of the date (change events: keys they changed)")
    batch_rows: int | None = column('bigint', "the batch's rows of the date (zipper: the rows of those keys)")
    only_in_events: int | None = column('bigint', 'keys the stream has and the batch does not')
    only_in_batch: int | None = column('bigint', 'keys the batch has and the stream does not')
    differing: int | None = column('bigint', 'keys in both whose values differ')
    events_amount: str | None = column('string', "total of the feed's amount attribute over the events (exact decimal)")
    batch_amount: str | None = column('string', "total of the amount attribute over the batch's rows (exact decimal)")
    sample_keys: str | None = column('string', 'up to 5 keys of each kind of difference (JSON), security level 3 and above masked')
    status: str | None = column('string', 'matched, or differences')
    events_retired: int | None = column('bigint', 'events removed from the real-time zone, now covered by the batch')
    reconciled_at: datetime | None = column('timestamp', 'when')


RECORD_TYPES: tuple[type[GovernanceRecord], ...] = (
    RawManifestRecord, LoadLogRecord, AdmissionLogRecord, RegistrationsRecord, CatalogRecord,
    LevelChangesRecord, SystemEventsRecord, QualityResultsRecord, QualitySamplesRecord,
    QualityScorecardRecord, QualityStatusRecord, ModelRunsRecord, LineageRecord,
    RetentionLogRecord, ZipperDatesRecord, WatermarksRecord, AccessAuditRecord, BackupLogRecord,
    ServiceEventsRecord, ServiceKeysRecord, ServiceCallsRecord,
    HistoryLogRecord, ReconciliationRecord)
"""Every governance table kept once per lakehouse (the quarantine is kept per table)."""
