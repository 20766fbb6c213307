"""The security level of every column of every table (4.2.2.1 classification through the layers).

A near-source column has the level its contract declares. A model column has the highest level
of the input columns it is computed from (traced with sqlglot); a model may declare a higher
level, and a lower one only with an approved declassification. A column sqlglot cannot trace gets
the highest level its model reads. The load's technical columns (data date, zipper dates and
hashes) are level 1; every governance column is level 2 (internal): the values of level 3 and
above in governance records are already masked.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from lakehouse.errors import ConfigError, Problem
from lakehouse.security.masking import DEFAULT_RULE, MASK_FROM_LEVEL, MaskRule, mask_rule_for
from lakehouse.zones.tables import ZIPPER_COLUMNS

TECHNICAL_LEVEL = 1
GOVERNANCE_LEVEL = 2
HIGHEST_LEVEL = 5
_TECHNICAL = ("data_date", *ZIPPER_COLUMNS)
_ROW_HASH = "row_hash"  # a hash of the whole row: internal, like governance values

Levels = dict[str, int]


def table_levels(project) -> dict[str, Levels]:
    """Qualified table name (``mart.mart_customer_360``) -> column -> security level, for every
    near-source, model and governance table; raises ``ConfigError`` for a model lowering a level
    without an approved declassification."""
    from lakehouse.governance.tables import all_specs

    levels = {c.table_name: source_levels(c) for c in project.sources.values()}
    levels.update({name: found.levels for name, found in model_columns(project).items()})
    named = _qualified_names(project)
    found = {named[table]: columns for table, columns in levels.items()}
    quarantined = [*(c.table_name for c in project.sources.values()), *project.models]
    for spec in all_specs(project.settings.root, quarantined):
        found[spec.qualified_name] = {column.name: GOVERNANCE_LEVEL for column in spec.columns}
    return found


def _qualified_names(project) -> dict[str, str]:
    """Table name (``cbs_customer``, ``pty_party``) -> its qualified name."""
    from lakehouse.layers.model_tables import model_spec
    from lakehouse.zones.near_source import near_source_spec

    root = project.settings.root
    named = {c.table_name: near_source_spec(c, root).qualified_name for c in project.sources.values()}
    named.update({n: model_spec(project, m).qualified_name for n, m in project.models.items()})
    return named


def _technical() -> Levels:
    return {name: GOVERNANCE_LEVEL if name == _ROW_HASH else TECHNICAL_LEVEL for name in _TECHNICAL}


def source_levels(contract) -> Levels:
    levels = _technical()
    levels.update({a.name: a.security_level for a in contract.attributes})
    return levels


@dataclass(frozen=True)
class ModelColumns:
    """A model's column levels (declared ones applied) and, per column, the input column
    (table, column) it takes its derived level from."""

    levels: Levels
    sources: dict[str, tuple[str, str]]


def model_levels(project) -> dict[str, Levels]:
    """Model name -> column -> level, every model after its inputs."""
    return {name: found.levels for name, found in model_columns(project).items()}


def model_columns(project) -> dict[str, ModelColumns]:
    """Model name -> its columns' levels and sources, in build order (every model after its
    inputs); raises ``ConfigError`` for a level lowered without an approved declassification."""
    from lakehouse.layers.runner import build_order

    levels: dict[str, Levels] = {c.table_name: source_levels(c) for c in project.sources.values()}
    found: dict[str, ModelColumns] = {}
    problems: list[Problem] = []
    for name in build_order(project):
        model = project.models[name]
        inputs = {i: levels[i] for i in model.inputs}
        derived = _derived(model.sql, json.dumps(inputs, sort_keys=True))
        levels[name], errors = _with_declared(project, model, {column: level for column, level, _ in derived})
        problems += errors
        found[name] = ModelColumns(levels[name], {column: source for column, _, source in derived
                                                  if source is not None})
    if problems:
        raise ConfigError(f"{len(problems)} security level problem(s) in the layer models", problems)
    return found


@functools.lru_cache(maxsize=256)
def _derived(sql: str, inputs_json: str) -> tuple[tuple[str, int, tuple[str, str] | None], ...]:
    """The level of each output column of ``sql`` from its inputs' levels, with the input column
    it takes that level from (None when none: a constant, a count, or untraced). Cached: tracing
    a model's columns takes sqlglot a fraction of a second."""
    from lakehouse.layers.sql_lineage import traced_sources
    from lakehouse.sql_parsing import output_columns

    inputs: dict[str, Levels] = json.loads(inputs_json)
    columns = output_columns(sql)
    if columns is None:  # SELECT *: the table's columns are known once built; see table_level
        return ()
    schemas = {table: {column: "string" for column in levels} for table, levels in inputs.items()}
    sources, untraced = traced_sources(sql, columns, schemas)
    highest = max((level for levels in inputs.values() for level in levels.values()), default=1)
    levels = {column: (highest if column in untraced else TECHNICAL_LEVEL, None) for column in columns}
    # the highest input level wins; among inputs of one level, the first by table and column
    # name (sqlglot's tracing order varies between processes, and so would the masking)
    for source in sorted(sources, key=lambda s: (-inputs[s.input_table][s.input_column],
                                                 s.input_table, s.input_column)):
        level = inputs[source.input_table][source.input_column]
        if level > levels[source.column][0] or levels[source.column][1] is None:
            levels[source.column] = (max(level, levels[source.column][0]),
                                     (source.input_table, source.input_column))
    levels.update({name: (level, None) for name, level in _technical().items() if name not in levels})
    return tuple((column, level, source) for column, (level, source) in levels.items())


def table_masks(project) -> dict[str, dict[str, MaskRule]]:
    """Qualified table name -> column -> the masking of its data standard: a near-source
    attribute's own, a model column's that of the input column it takes its level from (the
    default masking when there is none)."""
    rules = {c.table_name: {a.name: mask_rule_for(project, a) for a in c.attributes}
             for c in project.sources.values()}
    for name, found in model_columns(project).items():  # in build order: inputs first
        rules[name] = {column: rules[table].get(input_column, DEFAULT_RULE)
                       for column, (table, input_column) in found.sources.items()}
    named = _qualified_names(project)
    return {named[table]: columns for table, columns in rules.items()}


def key_masks(project, model) -> dict[str, MaskRule]:
    """The keys of ``model`` shown masked outside its table (level 3 and above), each with its
    rule; a key of unknown level (a model selecting ``*``) counts at the model's highest level."""
    return model_masks(project, model, model.keys)


def model_masks(project, model, columns) -> dict[str, MaskRule]:
    """The ``columns`` of ``model`` shown masked outside its table (level 3 and above: in
    quality samples, quarantine rows and messages), each with its rule; a column of unknown
    level (a model selecting ``*``) counts at the model's highest level."""
    levels = model_columns(project)[model.name].levels
    rules = table_masks(project)[_qualified_names(project)[model.name]]
    highest = max(levels.values(), default=HIGHEST_LEVEL)
    return {column: rules.get(column, DEFAULT_RULE) for column in columns
            if levels.get(column, highest) >= MASK_FROM_LEVEL}


def _with_declared(project, model, derived: Levels) -> tuple[Levels, list[Problem]]:
    """``derived`` with the model's declared levels applied, and what is wrong with them."""
    file = str(project.layers_dir / model.layer / f"{model.name}.yaml")
    levels, problems = dict(derived), []
    people = {p.id for p in project.security.principals} | set(project.owners)
    for column, declared in model.column_levels.items():
        key = f"column_levels.{column}"
        if derived and column not in derived:
            problems.append(Problem(
                f"model {model.name} declares a level for column '{column}', which its query does "
                "not return", file=file, key=key, value=column,
                fix=f"use one of its columns: {', '.join(c for c in derived if c not in _TECHNICAL)}"))
            continue
        for role in ("by", "approved_by"):
            who = getattr(declared.declassification, role, None)
            if who is not None and who not in people:
                problems.append(Problem(
                    f"'{who}' ({role}) of the declassification of {model.name}.{column} is neither "
                    "a principal (security.yaml) nor an owner (owners.yaml)", file=file,
                    key=f"{key}.declassification.{role}", value=who,
                    fix="name a registered principal or owner"))
        computed = derived.get(column, declared.level)
        if declared.level < computed and declared.declassification is None:
            problems.append(Problem(
                f"column '{column}' of {model.name} reads level-{computed} data; level "
                f"{declared.level} lowers it without a declassification", file=file, key=key,
                value=declared.level,
                fix=f"add declassification: {{by: ..., approved_by: ..., reason: ...}} approved by "
                    f"someone other than its author, or declare level {computed} or above"))
            continue
        levels[column] = declared.level
    return levels, problems


def table_level(levels: Levels) -> int:
    """The level of a table: its highest column level."""
    return max(levels.values(), default=TECHNICAL_LEVEL)
