"""Reading a model's Spark SQL query without running it (sqlglot): its parameters, the tables
it reads and the columns it returns, and binding its ``:name`` parameters to literals."""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lakehouse.sql import literal

_PARAMETER = re.compile(r"(?<![:\w]):([a-z][a-z0-9_]*)")


class SqlProblem(ValueError):
    """The query cannot be parsed; ``line`` and ``column`` point into the query, if known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line, self.column = line, column


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|--[^\n]*|/\*.*?\*/", re.S)


def _outside_quotes(sql: str, replace) -> str:
    """``sql`` with ``replace`` applied to the text outside string literals, quoted names and
    comments."""
    parts, last = [], 0
    for quoted in _QUOTED.finditer(sql):
        parts += [replace(sql[last:quoted.start()]), quoted.group(0)]
        last = quoted.end()
    return "".join([*parts, replace(sql[last:])])


def bind(sql: str, values: dict) -> str:
    """The query with each ``:name`` parameter marker replaced by the literal of its value.

    Spark's own named parameters (``spark.sql(query, args)``) are not bound in a session with
    the Delta Lake extensions (UNBOUND_SQL_PARAMETER with delta-spark 4.4), so the framework
    binds them itself; only literals are substituted, never SQL text.
    """
    def substitute(text: str) -> str:
        return _PARAMETER.sub(lambda m: literal(values[m.group(1)]) if m.group(1) in values
                              else m.group(0), text)

    return _outside_quotes(sql, substitute)


def parseable_text(sql: str) -> str:
    """The query with each parameter marker as a column name of the same length (``:x`` ->
    ``_x``), so sqlglot can parse it and errors keep the user's line and column."""
    return _outside_quotes(sql, lambda text: _PARAMETER.sub(lambda m: "_" + m.group(1), text))


def parse(sql: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(parseable_text(sql), dialect="spark")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise SqlProblem(first.get("description") or str(exc), first.get("line"),
                         first.get("col")) from None
    if not isinstance(tree, exp.Query):
        raise SqlProblem(f"a model's sql must be a query (SELECT ...), not {tree.key.upper()}")
    return tree


@lru_cache(maxsize=256)
def shared_tree(sql: str) -> exp.Expression:
    """``parse(sql)``, parsed once per query text, for questions that only read the tree (the
    tables it reads, its output columns, its ``pseudonym()`` calls): a project load asks several
    of them of every model's query, and a process loads its project again and again. Never
    change the tree (``parse`` gives one of the caller's own); a query that does not parse
    raises ``SqlProblem`` each time."""
    return parse(sql)


def parameters(sql: str) -> set[str]:
    """The ``:name`` parameter markers the query uses."""
    found: set[str] = set()
    _outside_quotes(sql, lambda text: found.update(_PARAMETER.findall(text)) or text)
    return found


def tables_read(sql: str) -> set[str]:
    """The tables the query reads (common table expressions excluded)."""
    return set(_tables_read(sql))


@lru_cache(maxsize=256)
def _tables_read(sql: str) -> frozenset[str]:
    """``tables_read``, found once per query text (a walk of the whole tree)."""
    tree = shared_tree(sql)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    found = set()
    for table in tree.find_all(exp.Table):
        inside = table.find_ancestor(exp.CTE)
        # inside its own definition, a CTE's name is the table it shadows (not recursive)
        if table.name and (table.name not in ctes or (inside is not None and inside.alias_or_name == table.name)):
            found.add(table.name)
    return frozenset(found)


def output_columns(sql: str) -> list[str] | None:
    """The query's output column names, or None when it selects ``*``."""
    tree = shared_tree(sql)
    names = []
    for projection in tree.selects:
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                and isinstance(projection.this, exp.Star)):
            return None
        names.append(projection.alias_or_name)
    return names
