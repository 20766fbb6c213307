"""What a model's query reads, column by column (traced with sqlglot); the parsing it builds
on is :mod:`lakehouse.sql_parsing`."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from lakehouse.sql_parsing import parseable_text



@dataclass(frozen=True)
class ColumnSource:
    column: str  # the model's output column
    input_table: str
    input_column: str


def column_sources(sql: str, columns: list[str], schemas: dict[str, dict[str, str]]
                   ) -> list[ColumnSource]:
    """The input columns each output column is computed from, where sqlglot can trace them.

    ``schemas``: input table -> {column: type}. Columns it cannot trace are left out (the
    table-level lineage of the declared inputs still covers them).
    """
    return traced_sources(sql, columns, schemas)[0]


def traced_sources(sql: str, columns: list[str], schemas: dict[str, dict[str, str]]
                   ) -> tuple[list[ColumnSource], set[str]]:
    """``column_sources`` and the output columns sqlglot could not trace.

    The query is qualified once and every column traced through that one scope (sqlglot's
    ``lineage`` would otherwise copy and qualify the whole query again for each column)."""
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope
    from sqlglot.schema import ensure_schema

    bound = parseable_text(sql)
    tree = sqlglot.parse_one(bound, dialect="spark")
    schema = ensure_schema(schemas, dialect="spark")
    try:  # as lineage() qualifies when given no scope
        scope = build_scope(qualify(tree, dialect="spark", schema=schema,
                                    validate_qualify_columns=False, identify=False))
    except Exception:  # noqa: BLE001 - then no column can be traced
        scope = None
    found: list[ColumnSource] = []
    untraced: set[str] = set()
    for column in columns:
        try:
            if scope is None:
                raise ValueError("the query cannot be qualified")
            node = lineage(column, tree, schema=schema, dialect="spark", scope=scope, copy=False)
        except Exception:  # noqa: BLE001 - sqlglot cannot trace every construct; keep the rest
            untraced.add(column)
            continue
        seen = set()
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.source, exp.Table):
                continue
            source = (leaf.source.name, leaf.name.rsplit(".", 1)[-1])
            if source[0] in schemas and source[1] in schemas[source[0]] and source not in seen:
                seen.add(source)
                found.append(ColumnSource(column, *source))
    return found, untraced
