"""Integrity rules of a ``quality_rules/<table>.yaml`` file against the project, on plain YAML data.

The file names a known table (near-source or layer model), its rules name columns that table has,
references point at tables the table may look up and their columns, and derived-rule changes
name rules that are derived. Like the registry
checks, each rule looks only at well-typed values; the models report the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .findings import Finding, did_you_mean, one_of

Columns = dict[str, set[str] | None]  # table name -> its columns (None: not known before it is built)


def _names_in(check_name: str, check: object) -> list[tuple[tuple, str]]:
    """(location below the check, column name) of every column a check names."""
    if check_name == "not_null" and isinstance(check, str):
        return [((), check)]
    if check_name == "unique" and isinstance(check, list):
        return [((i,), c) for i, c in enumerate(check) if isinstance(c, str)]
    if isinstance(check, Mapping):
        found = [(("column",), check["column"])] if isinstance(check.get("column"), str) else []
        for part in ("columns", "equal"):
            if isinstance(check.get(part), Mapping):
                found += [((part, k), k) for k in check[part] if isinstance(k, str)]
        return found
    return []


def rule_file_findings(data: Mapping, path: Path, tables: Columns, derived: dict[str, set[str]],
                       table_columns: Columns, referable: dict[str, set[str]] | None = None
                       ) -> list[Finding]:
    """Problems of one rule file. ``tables``: the columns of the new rows of each table;
    ``table_columns``: per table, the columns a ``scope: table`` rule can use; ``derived``:
    the derived rule names per table; ``referable``: per table, the tables its reference rules
    may look up (default: every table)."""
    findings: list[Finding] = []
    table = data.get("table")
    if isinstance(table, str):
        if table not in tables:
            findings.append(Finding(("table",), f"table '{table}' is not a table of this project", table,
                                    f"use one of: {one_of(sorted(tables))}{did_you_mean(table, tables)}"))
            return findings
        if path.stem != table:
            findings.append(Finding(("table",), f"the rules of {table} must be in {table}.yaml, "
                                    f"not {path.name}", table, f"rename the file to {table}.yaml"))
    else:
        return findings
    rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    derived_names = derived.get(table, set())
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        if rule.get("name") in derived_names:
            findings.append(Finding(("rules", index, "name"), f"'{rule['name']}' is a derived rule's "
                                    "name", rule["name"], "rename the rule, or change the derived rule "
                                    "under derived: instead"))
        known = table_columns[table] if rule.get("scope") == "table" else tables[table]
        for check_name, check in rule.items() if known is not None else ():
            for loc, column in _names_in(check_name, check):
                if column not in known:
                    findings.append(Finding(("rules", index, check_name, *loc),
                                            f"column '{column}' is not a column of {table}", column,
                                            f"use one of: {one_of(sorted(known))}{did_you_mean(column, known)}"))
        reference = rule.get("reference")
        if isinstance(reference, Mapping) and isinstance(reference.get("table"), str):
            other = reference["table"]
            lookups = tables if referable is None else referable.get(table, set())
            if other not in lookups:
                what = "not a table of this project" if other not in tables else \
                    f"not a table {table} can look up"
                findings.append(Finding(("rules", index, "reference", "table"),
                                        f"table '{other}' is {what}", other,
                                        f"use one of: {one_of(sorted(lookups))}{did_you_mean(other, lookups)}"))
                continue
            for part in ("columns", "equal"):
                mapping = reference.get(part)
                for local, theirs in (mapping.items() if isinstance(mapping, Mapping) else []):
                    if isinstance(theirs, str) and table_columns[other] is not None \
                            and theirs not in table_columns[other]:
                        findings.append(Finding(("rules", index, "reference", part, local),
                                                f"column '{theirs}' is not a column of {other}", theirs,
                                                f"use one of: {one_of(sorted(table_columns[other]))}"))
    overrides = data.get("derived")
    for name in (overrides if isinstance(overrides, Mapping) else {}):
        if name not in derived_names:
            findings.append(Finding(("derived", name), f"no derived rule '{name}' for {table}", name,
                                    f"use one of: {one_of(sorted(derived_names))}"
                                    f"{did_you_mean(name, derived_names)}"))
    return findings
