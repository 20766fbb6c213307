"""A user's SQL made safe to run for a principal (4.2.2.4): read through guarded views.

The query is parsed with sqlglot and every column it reads is resolved to the base table it
comes from (through aliases, ``*``, CTEs, subqueries, joins and unions). A column above the
principal's clearance refuses the query, naming the column, its level, the principal's roles and
how to get access. Every table is then replaced by a view of it in which each column the
principal may see only masked is already masked, so no function applied to it afterwards
(``substr``, ``concat``, ``cast``, hashing, a comparison in ``WHERE``) can see its clear value,
and refused columns are left out of the view, so a reference the analysis missed fails instead
of leaking. Only queries over the project's tables run: no other statement, no file paths, no
functions that reach outside the query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from lakehouse.errors import ConfigError, Problem
from lakehouse.security.access import Access, AccessRefused, Clearance
from lakehouse.security.masking import DEFAULT_RULE, MaskRule
from lakehouse.sql import quote_column

FORBIDDEN_FUNCTIONS = {"reflect", "java_method", "try_reflect"}
"""Spark functions that call arbitrary JVM methods (and so could read any file)."""


@dataclass(frozen=True)
class ColumnRead:
    """One column of a base table that the query reads, its level and how the principal sees it."""

    table: str
    column: str
    level: int
    access: Access


@dataclass
class GuardedQuery:
    """What to run instead of the user's query: the views to create, then ``sql``."""

    sql: str
    views: dict[str, str]
    reads: list[ColumnRead]
    tables: list[str] = field(default_factory=list)

    @property
    def result(self) -> str:
        return "masked" if any(r.access == "masked" for r in self.reads) else "allowed"


def guard(sql: str, clearance: Clearance, columns_of: Callable[[str], dict[str, str] | None],
          levels: dict[str, dict[str, int]], masks: dict[str, dict[str, MaskRule]] | None = None,
          operation: str = "query", project=None,
          relation_of: Callable[[str], str | None] | None = None) -> GuardedQuery:
    """The guarded form of ``sql`` for ``clearance``.

    ``columns_of``: qualified table name -> {column: Spark type}, None if there is no such table;
    ``levels``: qualified name -> {column: level} (a column not listed gets the table's highest
    level); ``masks``: qualified name -> {column: its masking rule} (default masking otherwise);
    ``relation_of``: qualified name -> the view to read the table from (its rows across the hot
    and history zones), None to read the table itself.
    Raises ``ConfigError`` for a query it cannot run and ``AccessRefused`` (with the ``reads``)
    for one the principal may not run."""
    tree = _parse(sql)
    columns = _base_tables(tree, columns_of)
    tables = list(columns)
    uncovered = [t for t in tables if not clearance.may(operation, t)]
    if uncovered:
        raise refusal([], clearance, operation, project, [], uncovered)
    reads = _reads(tree, columns, levels, clearance, operation, tables)
    refused = [r for r in reads if r.access == "refused"]
    if refused:
        raise refusal(refused, clearance, operation, project, reads)
    views = {}
    for name in tables:
        shown = {r.column: r.access for r in reads if r.table == name}
        view = _view_name(name, clearance, shown)
        views[view] = _view_sql(name, columns[name], levels.get(name, {}), clearance, operation,
                                (masks or {}).get(name, {}), relation_of(name) if relation_of else None)
        for table in _table_nodes(tree):
            if _qualified(table) == name:
                alias = table.alias or table.name
                table.set("db", None)
                table.set("catalog", None)
                table.set("this", exp.to_identifier(view))
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return GuardedQuery(tree.sql(dialect="spark"), views, reads, tables)


def _parse(sql: str) -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="spark") if s is not None]
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        raise ConfigError("the query cannot be parsed", [Problem(
            first.get("description") or str(error), line=first.get("line"), column=first.get("col"),
            key="SQL", fix="write one Spark SQL query (SELECT ...)")]) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(s.key.upper() for s in statements) or "nothing"
        raise ConfigError("only one query (SELECT ...) may run here", [Problem(
            f"the text holds {kinds}", key="SQL",
            fix="run one SELECT, WITH ... SELECT or UNION of selects; tables change only "
                "through the pipeline")])
    tree = statements[0]
    for function in tree.find_all(exp.Anonymous):
        if str(function.this).lower() in FORBIDDEN_FUNCTIONS:
            raise ConfigError("the query calls a function that is not allowed", [Problem(
                f"{function.this}() calls JVM methods directly", key="SQL", value=str(function.this),
                fix="leave it out; use Spark SQL's built-in functions")])
    return tree


def _table_nodes(tree: exp.Expression) -> list[exp.Table]:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return [t for t in tree.find_all(exp.Table) if not (not t.db and t.name in ctes)]


def _qualified(table: exp.Table) -> str:
    return f"{table.db}.{table.name}" if table.db else table.name


def _base_tables(tree: exp.Expression, columns_of) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for table in _table_nodes(tree):
        name = _qualified(table)
        known = None
        if isinstance(table.this, exp.Identifier) and not table.catalog and table.db:
            known = found.get(name) or columns_of(name)
        if known is None:
            shown = table.sql(dialect="spark")
            raise ConfigError("the query reads something that is not a lakehouse table", [Problem(
                f"{shown} is not a table of this lakehouse, or has no data yet", key="SQL", value=shown,
                fix="name tables as `lakehouse tables` lists them (e.g. mart.mart_customer_360); "
                    "a table appears once its first data date is built")])
        found[name] = known
    return found


def _reads(tree, columns, levels, clearance, operation, tables) -> list[ColumnRead]:
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for name in tables:
        db, table = name.split(".", 1)
        schema.setdefault(db, {})[table] = columns[name]
    try:
        qualified = qualify(tree.copy(), schema=schema, dialect="spark", validate_qualify_columns=True,
                            quote_identifiers=False)
        scopes = traverse_scope(qualified)
    except SqlglotError as error:
        raise ConfigError("the query's columns cannot be resolved", [Problem(
            str(error).split("\n")[0], key="SQL",
            fix="qualify ambiguous columns with their table alias; check the column names with "
                "`lakehouse tables`")]) from None
    found: dict[tuple[str, str], ColumnRead] = {}
    for scope in scopes:
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, exp.Table):
                continue
            table = _qualified(source)
            level = _level(levels.get(table, {}), column.name)
            found.setdefault((table, column.name), ColumnRead(
                table, column.name, level, clearance.access(table, level, operation)))
    return sorted(found.values(), key=lambda r: (r.table, r.column))


def _level(levels: dict[str, int], column: str) -> int:
    return levels.get(column, max(levels.values(), default=5))


def refusal(refused: list[ColumnRead], clearance: Clearance, operation: str, project,
            reads: list[ColumnRead], uncovered: list[str] = ()) -> AccessRefused:
    """The refusal naming the ``refused`` columns and the ``uncovered`` tables, and the roles
    that would grant them."""
    who = clearance.principal.id
    problems = [Problem(
        f"no role of principal {who} (roles: {clearance.role_names}) grants {operation} on {table}",
        key=table, fix=(clearance.how_to_get(table, 1, operation, project) if project is not None
                        else "ask the security administrator for a role that grants it"))
        for table in uncovered]
    problems += [Problem(
        f"column {r.column} of {r.table} is security level {r.level}, above what principal "
        f"{who} (roles: {clearance.role_names}) may {operation}", key=f"{r.table}.{r.column}",
        fix=(clearance.how_to_get(r.table, r.level, operation, project) if project is not None
             else "ask the security administrator for a role that grants it") + ", or leave the column out")
        for r in refused]
    what = f"{len(refused)} column(s) the query reads" if refused else ", ".join(uncovered)
    return AccessRefused(f"{who} may not {operation} {what}", problems, reads, uncovered)


def _view_name(table: str, clearance: Clearance, shown: dict[str, str]) -> str:
    digest = hashlib.sha256(repr((table, clearance.role_names, sorted(shown.items()))).encode())
    return f"_guarded_{table.replace('.', '__')}_{digest.hexdigest()[:10]}"


def _view_sql(table: str, columns: dict[str, str], levels: dict[str, int], clearance: Clearance,
              operation: str, masks: dict[str, MaskRule], relation: str | None = None) -> str:
    parts = []
    for column in columns:
        access = clearance.access(table, _level(levels, column), operation)
        quoted = quote_column(column)
        if access == "clear":
            parts.append(quoted)
        elif access == "masked":
            parts.append(f"{masks.get(column, DEFAULT_RULE).sql(quoted)} AS {quoted}")
    db, name = table.split(".", 1)
    source = quote_column(relation) if relation else f"{quote_column(db)}.{quote_column(name)}"
    return f"SELECT {', '.join(parts) or 'NULL AS nothing_visible'} FROM {source}"
