"""Governance tables: the lakehouse's own records, kept as Delta tables beside the data."""

from __future__ import annotations

from lakehouse import filters
from lakehouse.filters import Filter
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.tables import Column, TableSpec



def _spec(root: str, name: str, comment: str, columns: list[tuple[str, str, str]],
          partition_by: tuple[str, ...] = (), path_parts: tuple[str, ...] | None = None) -> TableSpec:
    return TableSpec(
        name=name,
        zone=Zone.GOVERNANCE.value,
        layer=None,
        path=zone_path(root, Zone.GOVERNANCE, *(path_parts or (name,))),
        columns=tuple(Column(n, t, c) for n, t, c in columns),
        partition_by=partition_by,
        comment=comment,
    )


def raw_manifest(root: str) -> TableSpec:
    return _spec(root, "raw_manifest", "Every file landed in the raw zone, one row per version", [
        ("run_id", "string", "run that landed the file"),
        ("source", "string", "source contract, system.entity"),
        ("data_date", "date", "data date of the delivery"),
        ("file_name", "string", "file name as delivered"),
        ("role", "string", "data or control"),
        ("version", "int", "raw zone version of this file for the data date"),
        ("raw_path", "string", "where the bytes are kept"),
        ("size_bytes", "bigint", "file size"),
        ("sha256", "string", "SHA-256 of the bytes"),
        ("rows", "bigint", "rows declared by the control file, if known"),
        ("received_at", "timestamp", "when the file was landed"),
    ])


def load_log(root: str) -> TableSpec:
    return _spec(root, "load_log", "Every near-source load attempt with its row counts", [
        ("run_id", "string", "run identifier"),
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "target table, schema.name"),
        ("data_date", "date", "data date loaded"),
        ("load_type", "string", "snapshot, zipper or append"),
        ("file_name", "string", "delivered file"),
        ("sha256", "string", "SHA-256 of the delivered file"),
        ("rows_in", "bigint", "records in the file"),
        ("rows_loaded", "bigint", "records loaded into the table"),
        ("rows_quarantined", "bigint", "records put in quarantine"),
        ("status", "string", "succeeded, failed or skipped"),
        ("message", "string", "error message when failed"),
        ("table_version", "bigint", "Delta version of the target after the load"),
        ("started_at", "timestamp", "start of the load"),
        ("finished_at", "timestamp", "end of the load"),
    ])


def quarantine(root: str, table: str) -> TableSpec:
    """One quarantine table per source: rows that could not be parsed, and rows dropped by a
    quality rule of severity drop (kept masked), with the rule and the reason."""
    return _spec(root, f"quarantine_{table}", f"Quarantined rows of {table}, with the rule and reason", [
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "target table, schema.name"),
        ("data_date", "date", "data date of the delivery"),
        ("run_id", "string", "run that quarantined the row"),
        ("file_name", "string", "delivered file"),
        ("line", "bigint", "line number in the file (row number for Parquet)"),
        ("stage", "string", "parse (unreadable row) or quality (dropped by a rule)"),
        ("rule", "string", "the quality rule that dropped the row (parse: null)"),
        ("dimension", "string", "the rule's quality dimension"),
        ("reason", "string", "why the row was quarantined"),
        ("raw_line", "string", "the row as delivered (parse stage)"),
        ("row_json", "string", "the row as JSON, security level 3 and above masked (quality stage)"),
        ("key_hash", "string", "SHA-256 of the row's key, to match corrected rows"),
        ("quarantined_at", "timestamp", "when the row was quarantined"),
        ("readmitted_run", "string", "run that re-admitted the corrected row (null while held)"),
    ], path_parts=("quarantine", table), partition_by=("data_date",))


def admission_log(root: str) -> TableSpec:
    return _spec(root, "admission_log", "Every admission decision: one row per check of each delivery", [
        ("run_id", "string", "run that decided"),
        ("source", "string", "source contract, system.entity"),
        ("data_date", "date", "data date of the delivery"),
        ("file_name", "string", "delivered file"),
        ("contract_hash", "string", "SHA-256 of the contract the delivery was checked against"),
        ("registration_version", "int", "registered contract version (null if unregistered)"),
        ("decision", "string", "admitted or rejected"),
        ("check_order", "int", "1 owner, 2 standard, 3 source, 4 classification, 5 quality, 6 metadata"),
        ("check_name", "string", "owner, standard, source, classification, quality or metadata"),
        ("status", "string", "passed, failed or not run"),
        ("evidence", "string", "what the check looked at, as JSON"),
        ("problems", "array<string>", "what failed and how to fix it"),
        ("decided_at", "timestamp", "when the decision was made"),
    ])


def registrations(root: str) -> TableSpec:
    return _spec(root, "registrations", "Every registered version of every source contract", [
        ("source", "string", "source contract, system.entity"),
        ("version", "int", "registration version, 1 for the first"),
        ("content_hash", "string", "SHA-256 of the contract's canonical JSON"),
        ("contract_file", "string", "the contract file registered"),
        ("contract_yaml", "string", "the contract file's text as registered"),
        ("table_name", "string", "near-source table, schema.name"),
        ("table_version", "bigint", "Delta version of the table after registration"),
        ("changes", "array<string>", "what changed from the previous version"),
        ("registered_by", "string", "who registered it"),
        ("reason", "string", "why (given with --reason)"),
        ("registered_at", "timestamp", "when"),
    ])


def catalog(root: str) -> TableSpec:
    return _spec(root, "catalog", "Business metadata of the registered tables and columns (searchable)", [
        ("source", "string", "source contract, system.entity"),
        ("registration_version", "int", "registration the entry comes from"),
        ("table_name", "string", "physical table, schema.name"),
        ("column_name", "string", "physical column (null for the table itself)"),
        ("data_type", "string", "physical type"),
        ("is_key", "boolean", "part of the business key"),
        ("name_zh", "string", "business name (Chinese): logical entity or attribute"),
        ("name_en", "string", "business name (English)"),
        ("description", "string", "the entity's description"),
        ("standard_id", "string", "data standard the column follows"),
        ("standard_zh", "string", "the standard's Chinese name"),
        ("standard_en", "string", "the standard's English name"),
        ("standard_definition", "string", "the standard's definition"),
        ("security_level", "int", "security level (the table's is its highest column's)"),
        ("pi_category", "string", "personal financial information category C1-C3"),
        ("owner", "string", "data owner id"),
        ("owner_name", "string", "data owner's name"),
        ("department", "string", "data owner's department"),
        ("system", "string", "source system code"),
        ("system_name", "string", "source system name"),
        ("registered_at", "timestamp", "when the registration was made"),
    ])


def level_changes(root: str) -> TableSpec:
    return _spec(root, "level_changes", "Security level changes of columns and tables, with who, when and why", [
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "table, schema.name"),
        ("column_name", "string", "column (null for the table level)"),
        ("old_level", "int", "level before"),
        ("new_level", "int", "level after"),
        ("direction", "string", "raised or lowered (declassified)"),
        ("registration_version", "int", "registration that made the change"),
        ("changed_by", "string", "who"),
        ("reason", "string", "why"),
        ("changed_at", "timestamp", "when"),
    ])


def system_events(root: str) -> TableSpec:
    return _spec(root, "system_events", "Certification events of source systems", [
        ("system", "string", "system code"),
        ("event", "string", "certified or decertified"),
        ("effective_date", "date", "the day the event takes effect"),
        ("reason", "string", "merged, split or retired (decertified only)"),
        ("replaced_by", "string", "the system that takes over, if any"),
        ("decided_by", "string", "who decided"),
        ("note", "string", "free text"),
        ("recorded_at", "timestamp", "when it was recorded"),
    ])


def quality_results(root: str) -> TableSpec:
    return _spec(root, "quality_results", "Every quality rule result, passed or failed, per table and data date", [
        ("run_id", "string", "run that validated"),
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "validated table, schema.name"),
        ("data_date", "date", "data date validated"),
        ("rule", "string", "rule name"),
        ("origin", "string", "derived (from the contract and standards) or declared (quality_rules/)"),
        ("dimension", "string", "completeness, timeliness, accuracy, consistency, uniqueness or validity"),
        ("severity", "string", "warn, drop or fail"),
        ("scope", "string", "new_rows (before the load) or table (after it)"),
        ("description", "string", "what the rule expects"),
        ("expectation", "string", "the Great Expectations expectation that ran it"),
        ("arguments", "string", "the expectation's arguments, as JSON"),
        ("success", "boolean", "whether the rule passed"),
        ("element_count", "bigint", "rows checked (row rules)"),
        ("unexpected_count", "bigint", "rows failing (row rules)"),
        ("unexpected_percent", "double", "percent of checked rows failing"),
        ("observed_value", "string", "the measured value (aggregate rules), as JSON"),
        ("rows_dropped", "bigint", "rows quarantined by this rule (drop severity)"),
        ("score", "double", "0-100: share of rows passing, or 100/0 for aggregate rules"),
        ("error", "string", "why the rule could not be evaluated"),
        ("ge_version", "string", "Great Expectations version"),
        ("validated_at", "timestamp", "when"),
    ], partition_by=("data_date",))


def quality_samples(root: str) -> TableSpec:
    return _spec(root, "quality_samples", "Sample failing rows per rule (security level 3 and above masked)", [
        ("run_id", "string", "run that validated"),
        ("table_name", "string", "validated table, schema.name"),
        ("data_date", "date", "data date validated"),
        ("rule", "string", "rule name"),
        ("line", "bigint", "line in the delivered file (new rows)"),
        ("row_json", "string", "the failing row as JSON, masked"),
        ("sampled_at", "timestamp", "when"),
    ])


def quality_scorecard(root: str) -> TableSpec:
    return _spec(root, "quality_scorecard", "Quality score 0-100 per table, data date and dimension", [
        ("run_id", "string", "run that scored"),
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "table, schema.name"),
        ("data_date", "date", "data date scored"),
        ("dimension", "string", "one of the six quality dimensions"),
        ("score", "double", "mean rule score of the dimension (null when no rule measures it)"),
        ("rules", "int", "rules measuring the dimension"),
        ("rules_failed", "int", "of which failed"),
        ("scored_at", "timestamp", "when"),
    ])


def quality_status(root: str) -> TableSpec:
    return _spec(root, "quality_status", "Whether each table's data date may be promoted to the downstream layers", [
        ("run_id", "string", "run that decided"),
        ("source", "string", "source contract, system.entity"),
        ("table_name", "string", "table, schema.name"),
        ("data_date", "date", "data date"),
        ("promotable", "boolean", "false when a rule of severity fail failed"),
        ("blocking_rules", "array<string>", "the failed fail-severity rules"),
        ("message", "string", "why it is held"),
        ("decided_at", "timestamp", "when"),
    ])


def model_runs(root: str) -> TableSpec:
    return _spec(root, "model_runs", "Every layer model run per data date: built, skipped (and why) or failed", [
        ("run_id", "string", "run identifier"),
        ("model", "string", "model name"),
        ("table_name", "string", "target table, schema.name"),
        ("layer", "string", "integrated, common or mart"),
        ("data_date", "date", "data date built"),
        ("status", "string", "succeeded, skipped or failed"),
        ("reason", "string", "why it was skipped or failed"),
        ("blocked_by", "array<string>", "the inputs (source contracts or models) not ready for the date"),
        ("rows", "bigint", "rows of the date in the table (snapshot) or valid on it (zipper)"),
        ("table_version", "bigint", "Delta version of the target after the run"),
        ("sql_hash", "string", "SHA-256 of the model definition that ran"),
        ("started_at", "timestamp", "start"),
        ("finished_at", "timestamp", "end"),
    ])


def lineage(root: str) -> TableSpec:
    return _spec(root, "lineage", "Where each modelled table and column comes from (table level: column_name null)", [
        ("table_name", "string", "target table, schema.name"),
        ("column_name", "string", "target column (null for the table-level row)"),
        ("input_table", "string", "source table, schema.name"),
        ("input_column", "string", "source column (null for the table-level row)"),
        ("input_mode", "string", "current (rows of the date) or history (rows up to it)"),
        ("derived_by", "string", "declared (model inputs) or parsed (from the query)"),
        ("model_hash", "string", "SHA-256 of the model definition"),
        ("recorded_at", "timestamp", "when"),
    ])


def retention_log(root: str) -> TableSpec:
    return _spec(root, "retention_log", "Snapshots removed because they passed their table's retention", [
        ("run_id", "string", "run that removed them"),
        ("table_name", "string", "table, schema.name"),
        ("data_date", "date", "the data date whose snapshot was removed"),
        ("rows", "bigint", "rows removed"),
        ("retention_days", "int", "the table's retention"),
        ("table_version", "bigint", "Delta version after the removal"),
        ("removed_at", "timestamp", "when"),
    ])


def latest_of_date(engine, spec: TableSpec, data_date, key: str, order: str,
                   where: Filter | None = None) -> dict[str, dict]:
    """The newest row per ``key`` of a governance table for ``data_date`` (and ``where``), by
    key; empty when the table does not exist yet."""
    from lakehouse.quality.report import latest

    if not engine.table_exists(spec):
        return {}
    condition = filters.where(data_date=data_date) & (where or filters.Filter())
    return {r[key]: r for r in latest(engine.rows(spec, condition), [key], order)}


def all_specs(root: str, tables: list[str] = ()) -> list[TableSpec]:
    """The governance tables; ``tables`` adds the quarantine table of each of those tables."""
    return [raw_manifest(root), load_log(root), admission_log(root), registrations(root),
            catalog(root), level_changes(root), system_events(root), quality_results(root),
            quality_samples(root), quality_scorecard(root), quality_status(root),
            model_runs(root), lineage(root), retention_log(root),
            *[quarantine(root, t) for t in tables]]
