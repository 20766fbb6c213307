"""De-identified copies for development and test (4.2.2.4 d): `lakehouse deidentify`.

A copy holds the chosen layers' tables (their current version) under another root, with every
column's values replaced by its method of ``conf/deidentify.yaml`` (see
:mod:`lakehouse.config.deidentify_rules`). The method of a column is, in order: a rule for the
column (``columns: {table.column: ...}``), a rule for its data standard (``standards``), the
method a standard implies (a gb11643, luhn or cn_mobile check: id_number, card_number, mobile;
name masking: name), ``keep`` at levels 1 and 2. A column of level 3 or above without any is a
configuration error naming it: nothing is copied before every such column is decided. A model
column takes the method of the input column it is computed from (traced through the layers, as
its security level is), so an identifier is replaced alike wherever it flows.

After the copy, a scan looks for every source value of the replaced identifiers (6 characters
or more) in every text column of the copy; the copy is reported clean only when none is found.
Names are drawn from a pool of common names, so a replacement may equal someone's real name;
what holds is that no value keeps its own name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lakehouse.config.deidentify_rules import IDENTIFYING, Replacement
from lakehouse.config.project import DEIDENTIFY_FILE
from lakehouse.errors import ConfigError, Problem
from lakehouse.lifecycle.replacements import replacer
from lakehouse.security.masking import mask_value
from lakehouse.standards.formats import is_luhn_valid, is_valid_id_number, is_valid_mobile
from lakehouse.zones.tables import TableSpec, join_path

PURPOSE = "deidentify"
"""The key provider purpose of the replacement key."""
KEEP = Replacement(method="keep")
SCANNED_MIN_LENGTH = 6
_IMPLIED_BY_CHECK = {"gb11643": "id_number", "luhn": "card_number", "cn_mobile": "mobile"}
_CHECKS = {"gb11643": is_valid_id_number, "luhn": is_luhn_valid, "cn_mobile": is_valid_mobile}
_SCANNED = IDENTIFYING - {"name", "redact"}


@dataclass(frozen=True)
class ColumnMethod:
    """How one column is replaced, and why."""

    rule: Replacement
    domain: str  # the data standard (or table.column) whose values it replaces: the key's tweak
    reason: str  # "standard DS-PTY-0003", "column rule", "from cbs_customer.id_number", ...
    standard: str | None = None

    @property
    def replaces(self) -> bool:
        return self.rule.method != "keep"


@dataclass
class TableCopy:
    """One table of the copy: where it comes from and goes, and its replaced columns."""

    spec: TableSpec
    target: str
    methods: dict[str, ColumnMethod]
    rows: int | None = None

    @property
    def replaced(self) -> dict[str, ColumnMethod]:
        return {c: m for c, m in self.methods.items() if m.replaces}


@dataclass(frozen=True)
class Finding:
    """A source identifier found in the copy (masked)."""

    table: str
    column: str
    masked: str
    belongs_to: str


@dataclass
class CopyReport:
    target_root: str
    tables: list[TableCopy] = field(default_factory=list)
    values_scanned: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def plan(project, layers: list[str], target_root: str,
         types_of: Callable[[TableSpec], dict[str, str] | None]) -> list[TableCopy]:
    """The tables of ``layers`` and each column's method; ``ConfigError`` naming every level-3+
    column without one and every method that does not fit its column's type. ``types_of`` gives
    an existing table's column types (None when it does not exist)."""
    from lakehouse.layers.model_tables import model_spec
    from lakehouse.layers.runner import build_order
    from lakehouse.security.column_levels import model_columns, source_levels
    from lakehouse.zones.near_source import near_source_spec

    root = project.settings.root
    rules = project.deidentify
    methods: dict[str, dict[str, ColumnMethod]] = {}
    types: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    undecided: set[tuple[str, str]] = set()
    copies: list[TableCopy] = []
    for contract in project.sources.values():
        table = contract.table_name
        levels = source_levels(contract)
        types[table] = {a.name: a.spark_type for a in contract.attributes}
        methods[table] = {}
        for attribute in contract.attributes:
            method = _source_method(project, table, attribute)
            if method is None and levels[attribute.name] >= 3:
                problems.append(_undecided(project, table, attribute.name, levels[attribute.name],
                                           f"standard {attribute.standard}"))
                undecided.add((table, attribute.name))
                continue
            methods[table][attribute.name] = method or ColumnMethod(
                KEEP, attribute.standard, f"level {levels[attribute.name]}")
        if "near_source" in layers:
            spec = near_source_spec(contract, root)
            copies.append(TableCopy(spec, _target(spec, root, target_root), methods[table]))
    traced = model_columns(project) if project.models else {}
    for name in build_order(project) if project.models else []:
        model, found = project.models[name], traced[name]
        spec = model_spec(project, model)
        types[name] = types_of(spec) or {}
        methods[name] = {}
        for column, level in found.levels.items():
            declared = rules.columns.get(f"{name}.{column}")
            source = found.sources.get(column)
            upstream = methods.get(source[0], {}).get(source[1]) if source else None
            if declared is not None:
                method = ColumnMethod(declared, f"{name}.{column}", "column rule")
            elif source is not None and source in undecided:
                undecided.add((name, column))  # its input's problem is reported already
                continue
            elif upstream is not None and _same_type(types, (name, column), source):
                method = ColumnMethod(upstream.rule, upstream.domain, f"from {source[0]}.{source[1]}",
                                      upstream.standard)
            elif upstream is not None and not upstream.replaces:
                method = ColumnMethod(KEEP, f"{name}.{column}", f"computed from {source[0]}.{source[1]}, "
                                      "which is kept")
            elif level >= 3:
                why = (f"computed from {source[0]}.{source[1]} ({upstream.rule.method}) into another type"
                       if upstream else "no traced input column")
                problems.append(_undecided(project, name, column, level, why))
                undecided.add((name, column))
                continue
            else:
                method = ColumnMethod(KEEP, f"{name}.{column}", f"level {level}")
            methods[name][column] = method
        if model.layer in layers:
            copies.append(TableCopy(spec, _target(spec, root, target_root), methods[name]))
    for table, columns in methods.items():
        problems += [_misfit(project, table, column, m, types[table][column])
                     for column, m in columns.items()
                     if column in types[table] and not _fits(m.rule.method, types[table][column])]
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) with the de-identification methods", problems)
    return copies


def _same_type(types: dict[str, dict[str, str]], column: tuple[str, str], source: tuple[str, str]) -> bool:
    """Whether a model column has its input column's type (unknown types count as the same)."""
    mine, theirs = types[column[0]].get(column[1]), types.get(source[0], {}).get(source[1])
    return mine is None or theirs is None or mine == theirs


def _fits(method: str, spark_type: str) -> bool:
    if method == "keep":
        return True
    if method == "perturb":
        return spark_type.startswith(("decimal", "int", "bigint", "smallint", "tinyint", "double",
                                      "float", "long"))
    if method == "shift":
        return spark_type.startswith(("date", "timestamp"))
    return spark_type == "string"


def _misfit(project, table: str, column: str, method: ColumnMethod, spark_type: str) -> Problem:
    return Problem(
        f"{table}.{column} is a {spark_type}; method {method.rule.method} ({method.reason}) does not "
        "apply to it", file=str(project.file(DEIDENTIFY_FILE)), key=f"columns.{table}.{column}",
        fix="text takes digits, id_number, card_number, mobile, name, address or redact; numbers "
            "perturb; dates and times shift; any column keep")


def _source_method(project, table: str, attribute) -> ColumnMethod | None:
    rules = project.deidentify
    standard = project.standards.get(attribute.standard)
    declared = rules.columns.get(f"{table}.{attribute.name}")
    if declared is not None:
        return ColumnMethod(declared, attribute.standard, "column rule", attribute.standard)
    if attribute.standard in rules.standards:
        return ColumnMethod(rules.standards[attribute.standard], attribute.standard,
                            f"standard {attribute.standard}", attribute.standard)
    if standard is None:
        return None
    if standard.domain is not None and standard.domain.check in _IMPLIED_BY_CHECK:
        implied = _IMPLIED_BY_CHECK[standard.domain.check]
        return ColumnMethod(Replacement(method=implied), attribute.standard,
                            f"implied by {standard.domain.check}", attribute.standard)
    if standard.masking is not None and standard.masking.style == "name":
        return ColumnMethod(Replacement(method="name"), attribute.standard, "implied by name masking",
                            attribute.standard)
    return None


def _undecided(project, table: str, column: str, level: int, why: str) -> Problem:
    return Problem(
        f"{table}.{column} (level {level}; {why}) has no de-identification method",
        file=str(project.file(DEIDENTIFY_FILE)), key=f"columns.{table}.{column}",
        fix="add a method for its standard under 'standards:' or for the column under 'columns:' "
            "(keep, digits, id_number, card_number, mobile, name, address, redact, perturb, shift)")


def _target(spec: TableSpec, root: str, target_root: str) -> str:
    relative = spec.path[len(root):].lstrip("/") if spec.path.startswith(root) else spec.name
    return join_path(target_root, relative)


def _valid(project, method: ColumnMethod):
    """The Python check of the column's standard, kept by the replacement (None: none)."""
    standard = project.standards.get(method.standard) if method.standard else None
    domain = standard.domain if standard is not None else None
    if domain is None:
        return None
    if domain.check is not None:
        return _CHECKS[domain.check]
    if domain.pattern is not None:
        pattern = re.compile(domain.pattern)
        return lambda text: pattern.fullmatch(text) is not None
    return None


def refuse_overlap(root: str, target_root: str) -> None:
    """A copy goes beside the lakehouse, never into it (it would overwrite its tables)."""
    a, b = root.rstrip("/") + "/", target_root.rstrip("/") + "/"
    if a.startswith(b) or b.startswith(a):
        raise ConfigError(f"cannot write a de-identified copy to {target_root}", [Problem(
            f"{target_root} overlaps the lakehouse root {root}", key="--to", value=target_root,
            fix="name a folder outside the lakehouse root (and not one holding it)")])


def copy(engine, project, key: bytes, copies: list[TableCopy], target_root: str) -> CopyReport:
    """Write every table of ``copies``, then scan the copy for the source's identifiers."""
    refuse_overlap(project.settings.root, target_root)
    report = CopyReport(target_root)
    for table in copies:
        if not engine.table_exists(table.spec):
            continue
        replacements = {column: replacer(m.rule, key, m.domain, _valid(project, m))
                        for column, m in table.replaced.items()}
        table.rows = engine.copy_replaced(table.spec, table.target, replacements)
        report.tables.append(table)
    _scan(engine, report)
    return report


def _scan(engine, report: CopyReport) -> None:
    """Look for every source value of a replaced identifier in every text column of the copy."""
    owners: dict[str, str] = {}
    for table in report.tables:
        scanned = [c for c, m in table.replaced.items() if m.rule.method in _SCANNED]
        if not scanned:
            continue
        for column, values in engine.distinct_values(table.spec, scanned).items():
            for value in values:
                if len(value) >= SCANNED_MIN_LENGTH:
                    owners.setdefault(value, f"{table.spec.name}.{column}")
    report.values_scanned = len(owners)
    for table in report.tables:
        copied = _copied_spec(table)
        layout = engine.table_layout(copied)
        text_columns = [c for c, kind in layout.types.items() if kind == "string"]
        if not text_columns:
            continue
        for column, values in engine.distinct_values(copied, text_columns).items():
            report.findings += [Finding(table.spec.name, column, mask_value(v), owners[v])
                                for v in values if v in owners]


def _copied_spec(table: TableCopy) -> TableSpec:
    from dataclasses import replace

    return replace(table.spec, path=table.target)
