"""Integrity rules of the layer model files against the project, on plain YAML data.

Inputs name known tables of a lower or the same layer, the query parses and reads exactly its
declared inputs, uses only declared parameters, returns the keys and calls ``pseudonym()`` where
it can run, the file sits at ``layers/<layer>/<name>.yaml``, and the models form no cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lakehouse.graph import find_cycle

from .findings import Finding, did_you_mean, one_of
from .layer_models import LAYERS

Tables = dict[str, str]  # table name -> its layer (near_source, integrated, common, mart)
RANK = {"near_source": -1, **{layer: i for i, layer in enumerate(LAYERS)}}


def layer_file_findings(data: Mapping, path: Path, tables: Tables, standards: set[str] | None = None
                        ) -> list[Finding]:
    """Problems of one model file; ``tables``: every table of the project with its layer;
    ``standards``: the ids of the data standards a column may follow (None: not checked)."""
    from lakehouse import sql_parsing
    from lakehouse.security import pseudonyms

    findings: list[Finding] = []
    name, layer = data.get("name"), data.get("layer")
    if isinstance(name, str) and path.stem != name:
        findings.append(Finding(("name",), f"model {name} must be in {name}.yaml, not {path.name}",
                                name, f"rename the file to {name}.yaml"))
    if isinstance(layer, str) and layer in RANK and path.parent.name != layer:
        findings.append(Finding(("layer",), f"{'an' if layer[0] in 'aeiou' else 'a'} {layer} model "
                                f"belongs in layers/{layer}/, not "
                                f"layers/{path.parent.name}/", layer,
                                f"move the file to layers/{layer}/"))
    inputs = data.get("inputs") if isinstance(data.get("inputs"), Mapping) else {}
    for table in inputs:
        if not isinstance(table, str):
            continue
        if table not in tables:
            findings.append(Finding(("inputs", table), f"input '{table}' is not a table of this "
                                    "project", table, "use a near-source table (system_entity) or a "
                                    f"model name{did_you_mean(table, tables)}"))
        elif layer in RANK and tables[table] in RANK and RANK[tables[table]] > RANK[layer]:
            article = "an" if layer[0] in "aeiou" else "a"
            findings.append(Finding(("inputs", table), f"{article} {layer} model cannot read the "
                                    f"{tables[table]} table '{table}'", table,
                                    "read only tables of a lower or the same layer"))
    findings += _standard_findings(data, standards)
    sql = data.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        return findings
    try:
        read = sql_parsing.tables_read(sql)
        columns = sql_parsing.output_columns(sql)
        misused = pseudonyms.call_problems(sql)
    except sql_parsing.SqlProblem as exc:
        where = f" at query line {exc.line}, column {exc.column}" if exc.line else ""
        findings.append(Finding(("sql",), f"the query does not parse{where}: {exc}", None,
                                "correct the Spark SQL"))
        return findings
    for table in sorted(read - set(inputs)):
        findings.append(Finding(("sql",), f"the query reads '{table}', which is not a declared "
                                "input", table, f"add '{table}: current' (or history) under inputs"))
    for table in sorted(set(t for t in inputs if isinstance(t, str)) - read):
        findings.append(Finding(("inputs", table), f"input '{table}' is declared but the query "
                                "does not read it", table, "remove it from inputs"))
    for problem in misused:
        findings.append(Finding(("sql",), problem, None, "pass one value, e.g. pseudonym(id_number), "
                                "in a SELECT list (a CTE), and join on the column it returns"))
    params = data.get("params") if isinstance(data.get("params"), Mapping) else {}
    for used in sorted(sql_parsing.parameters(sql) - set(params) - {"data_date"}):
        findings.append(Finding(("sql",), f"the query uses :{used}, which is not a declared "
                                "parameter", used, f"add '{used}: <value>' under params"))
    keys = data.get("keys") if isinstance(data.get("keys"), list) else []
    if columns is not None:
        for i, key in enumerate(keys):
            if isinstance(key, str) and key not in columns:
                findings.append(Finding(("keys", i), f"key '{key}' is not a column the query "
                                        "returns", key, f"use one of: {one_of(columns)}"
                                        f"{did_you_mean(key, columns)}"))
        for column in (data.get("columns") or {}) if isinstance(data.get("columns"), Mapping) else {}:
            if column not in columns:
                findings.append(Finding(("columns", column), f"column '{column}' is not returned "
                                        "by the query", column, f"use one of: {one_of(columns)}"))
        reserved = {"data_date", "row_hash", "start_dt", "end_dt"} & set(columns)
        for column in sorted(reserved):
            findings.append(Finding(("sql",), f"the query returns '{column}', which the framework "
                                    "adds itself", column, f"drop or rename '{column}' in the query"))
    return findings


def _standard_findings(data: Mapping, standards: set[str] | None) -> list[Finding]:
    """A declared column's ``standard`` is a known data standard."""
    columns = data.get("columns") if isinstance(data.get("columns"), Mapping) else {}
    findings = []
    for column, declared in columns.items():
        standard = declared.get("standard") if isinstance(declared, Mapping) else None
        if standards is not None and isinstance(standard, str) and standard not in standards:
            findings.append(Finding(("columns", column, "standard"), f"standard '{standard}' is "
                                    "not in standards.yaml", standard,
                                    f"use a published standard's id{did_you_mean(standard, standards)}"))
    return findings


def cycle_findings(inputs: dict[str, list[str]]) -> list[Finding]:
    """A finding on the first model of a dependency cycle, if the models have one."""
    cycle = find_cycle(inputs)
    if not cycle:
        return []
    return [Finding(("inputs",), "the models read each other in a cycle: " + " -> ".join(cycle),
                    cycle[0], "break the cycle: a model can read only what is computed before it")]
