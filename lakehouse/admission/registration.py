"""`lakehouse source register`: admit a contract's static checks, version it, evolve its table.

A registration is refused when a static admission check fails or the table would change
incompatibly (a column removed or retyped, the keys or load type changed). Compatible changes —
new nullable columns, names, comments, owners, levels — are applied to the near-source table and
recorded. Security level changes need a reason and are logged with who, when and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from lakehouse.admission import checks as admission
from lakehouse.catalog import business_metadata as catalog
from lakehouse.governance.records import CatalogRecord, LevelChangesRecord, RegistrationsRecord
from lakehouse.governance.store import GovernanceStore
from lakehouse.config import Project, SourceContract
from lakehouse.engine import Engine, TableLayout
from lakehouse.errors import Problem
from lakehouse.filters import one_of
from lakehouse.zones.near_source import near_source_spec
from lakehouse.zones.schema_diff import schema_diff
from lakehouse.zones.tables import TableSpec

REGISTERED, UNCHANGED, REFUSED = "registered", "unchanged", "refused"


@dataclass
class RegistrationResult:
    source: str
    status: str
    version: int | None = None
    changes: list[str] = field(default_factory=list)
    error: admission.AdmissionRejected | None = None


def latest_registrations(engine: Engine, root: str) -> dict[str, admission.Registered]:
    """The newest registration of every registered source."""
    newest = GovernanceStore(engine, root).newest(RegistrationsRecord, "source", "version")
    return {source: admission.Registered(r.source, r.version, r.content_hash, r.registered_at)
            for source, r in newest.items()}


def registered_levels(engine: Engine, root: str) -> dict[str, dict[str | None, int]]:
    """Source -> column (None for the table) -> security level as last registered."""
    levels: dict[str, dict[str | None, int]] = {}
    for row in GovernanceStore(engine, root).read(CatalogRecord):
        levels.setdefault(row.source, {})[row.column_name] = row.security_level
    return levels


def schema_changes(spec: TableSpec, layout: TableLayout | None, contract: SourceContract
                   ) -> tuple[list[str], list[str], list[Problem]]:
    """(columns to add, change notes, incompatibilities) of moving the table to ``spec``."""
    if layout is None:
        return [], [f"created table {spec.qualified_name}"], []
    problems: list[Problem] = []
    where = str(contract.source_file or contract.name)
    wanted = spec.column_types
    diff = schema_diff(layout.types, wanted)
    for name in diff.removed:
        problems.append(Problem(
            f"column '{name}' of {spec.qualified_name} is not in the contract; removing or "
            "renaming a column would lose its history", where, key="attributes",
            fix=f"keep attribute '{name}' (it can be nullable and delivered empty); a new "
                "shape that drops it needs a new source entity"))
    for name, (spark_type, wanted_type) in diff.retyped.items():
        problems.append(Problem(
            f"column '{name}' of {spec.qualified_name} is {spark_type}; the contract makes it "
            f"{wanted_type}, and existing rows cannot change type", where,
            line=_attribute_line(contract, name), key="type", value=wanted_type,
            fix=f"keep the type {spark_type}, or add a new attribute with the new type"))
    for prop, noun in (("lakehouse.load_type", "load type"), ("lakehouse.keys", "keys")):
        before, after = layout.properties.get(prop), spec.properties.get(prop)
        if before is not None and before != after:
            problems.append(Problem(
                f"the {noun} of {spec.qualified_name} would change from '{before}' to '{after}'",
                where, key=noun.replace(" ", "_"), value=after,
                fix=f"keep the {noun} '{before}': changing it needs a new source entity and a reload"))
    added = diff.added
    notes = [f"added column {name} {wanted[name]}" for name in added]
    for name in added:
        if name in spec.keys:
            problems.append(Problem(f"new column '{name}' is a key; existing rows have no value for it",
                                    where, key="keys", fix="keep the existing keys"))
    changed_comments = [c.name for c in spec.columns
                        if c.name in layout.comments and layout.comments[c.name] != c.comment]
    if changed_comments:
        notes.append(f"updated metadata of {', '.join(changed_comments)}")
    owner_before = layout.properties.get("lakehouse.owner")
    if owner_before and owner_before != contract.owner:
        notes.append(f"owner {owner_before} -> {contract.owner}")
    return added, notes, problems


def _attribute_line(contract: SourceContract, name: str) -> int | None:
    index = next(i for i, a in enumerate(contract.attributes) if a.name == name)
    return contract.line_of("attributes", index, "type")


def level_changes(contract: SourceContract, before: dict[str | None, int]) -> list[tuple[str | None, int, int]]:
    """(column or None for the table, old level, new level) for every changed level."""
    after: dict[str | None, int] = {a.name: a.security_level for a in contract.attributes}
    after[None] = contract.table_level
    return [(column, before[column], level) for column, level in after.items()
            if column in before and before[column] != level]


def register(project: Project, engine: Engine, contracts: list[SourceContract], today: date,
             by: str, reason: str | None) -> list[RegistrationResult]:
    """Register each contract (new version if changed); records are written in one go."""
    root = project.settings.root
    latest = latest_registrations(engine, root)
    levels_before = registered_levels(engine, root)
    now = datetime.now()
    results, registrations, entries, levels = [], [], [], []
    for contract in contracts:
        previous = latest.get(contract.name)
        if previous is not None and previous.content_hash == contract.content_hash:
            results.append(RegistrationResult(contract.name, UNCHANGED, previous.version))
            continue
        checks = admission.static_checks(project, contract, today, require_registration=False)
        spec = near_source_spec(contract, root)
        layout = engine.table_layout(spec)
        added, notes, problems = schema_changes(spec, layout, contract)
        changed_levels = level_changes(contract, levels_before.get(contract.name, {}))
        if changed_levels and not reason:
            described = ", ".join(f"{c or 'table'} {old} -> {new}" for c, old, new in changed_levels)
            problems.append(Problem(
                f"security levels change ({described}); a level change must be recorded with its "
                "reason", str(contract.source_file or contract.name),
                fix="register again with --reason '...' saying why the level changes"))
        failed = [c for c in checks.values() if c.status == admission.FAILED]
        if problems:
            failed.append(admission.CheckResult("schema", admission.FAILED, {}, problems))
        if failed:
            names = ", ".join(c.check for c in failed)
            results.append(RegistrationResult(contract.name, REFUSED, error=admission.AdmissionRejected(
                f"registration of {contract.name} was refused: {names} failed", failed)))
            continue
        if layout is None:
            engine.ensure_table(spec)
        else:
            engine.evolve_table(spec, layout, added)
        version = previous.version + 1 if previous else 1
        notes = (["first registration"] if previous is None else []) + notes + [
            f"security level of {c or 'the table'} {'raised' if new > old else 'lowered'} {old} -> {new}"
            for c, old, new in changed_levels]
        registrations.append(RegistrationsRecord(
            source=contract.name, version=version, content_hash=contract.content_hash,
            contract_file=str(contract.source_file) if contract.source_file else None,
            contract_yaml=contract.source_file.read_text(encoding="utf-8") if contract.source_file else None,
            table_name=spec.qualified_name, table_version=engine.version(spec),
            changes=notes, registered_by=by, reason=reason, registered_at=now,
        ))
        entries += catalog.entries(project, contract, version, now)
        levels += [LevelChangesRecord(
            source=contract.name, table_name=spec.qualified_name, column_name=column,
            old_level=old, new_level=new, direction="raised" if new > old else "lowered",
            registration_version=version, changed_by=by, reason=reason, changed_at=now,
        ) for column, old, new in changed_levels]
        results.append(RegistrationResult(contract.name, REGISTERED, version, notes))
    store = GovernanceStore(engine, root)
    with store.holding():
        store.append(registrations)
        store.append(levels)
        if registrations:
            store.replace(CatalogRecord, entries, one_of("source", [r.source for r in registrations]))
    return results
