"""Keyed pseudonyms: HMAC-SHA256 of a protected value under a secret of the key provider.

An identifier derived from a protected value (``party_id`` from the ID number, the quarantine's
``key_hash`` from a row's key) is ``HMAC-SHA256(secret, value as UTF-8)`` in lower-case hex, the
secret being the key provider's for a *purpose* (:mod:`lakehouse.security.keys`). Unlike a bare
hash, it cannot be reversed by hashing every possible ID number without the secret.

Spark SQL has no HMAC function and the framework runs no Python UDF, so the SQL form spells out
the definition (RFC 2104) with built-in functions::

    sha2(concat(K xor opad, unhex(sha2(concat(K xor ipad, encode(value, 'UTF-8')), 256))), 256)

``K xor ipad`` and ``K xor opad`` (the secret padded to 64 bytes) are not written into the
query: Spark prints a query's literals in its plans, an analysis error carries the plan and
PySpark logs the error. They are read by scalar subqueries from a one-row temporary view
(``HmacKey.view``) that the engine creates from ``HmacKey`` for the work and drops after it, so
the key is data in the session, never text of a query, plan or log. ``pseudonym`` is the Python
twin; tests/integration/test_pseudonyms.py checks that both agree.

Model queries call ``pseudonym(expr)``; ``expand`` writes each call out before Spark sees the
query, while lineage and column levels read the query as written, so a pseudonym's level
derives from its argument's (and a model declassifies it in ``column_levels``). Spark cannot
evaluate a scalar subquery in a broadcast join's keys, so ``pseudonym()`` may not appear in a
join condition (``lakehouse validate`` says so): compute it in a SELECT, join on the column.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from functools import lru_cache

from lakehouse.security.keys import KeyProvider

PSEUDONYM = "pseudonym"
"""The purpose of the pseudonyms of model queries (``pseudonym(expr)``): one secret for all, so
that the same ID number gets the same ``party_id`` in every model."""
QUARANTINE_KEY = "quarantine-key"
"""The purpose of the quarantine's ``key_hash``."""
FUNCTION = "pseudonym"
"""The function model queries call."""

_BLOCK = 64  # SHA-256's block size in bytes


def pseudonym(value: str | None, provider: KeyProvider, purpose: str = PSEUDONYM) -> str | None:
    """HMAC-SHA256 of ``value`` (UTF-8) under the ``purpose`` secret, lower-case hex; None for
    None (the Python twin of ``pseudonym_sql``)."""
    if value is None:
        return None
    return hmac.new(provider.secret(purpose), value.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HmacKey:
    """One purpose's HMAC key as the SQL form reads it: the padded secret xor ipad and xor
    opad, which the engine holds in the temporary view ``view`` (columns ``inner_pad``,
    ``outer_pad``) while work reads it. Its repr shows the purpose only."""

    purpose: str
    inner_pad: bytes = field(repr=False)
    outer_pad: bytes = field(repr=False)

    @property
    def view(self) -> str:
        return key_view(self.purpose)


def hmac_key(provider: KeyProvider, purpose: str) -> HmacKey:
    """The ``purpose`` secret of ``provider`` as the SQL form reads it."""
    padded = provider.secret(purpose).ljust(_BLOCK, b"\0")
    return HmacKey(purpose, bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded))


def quarantine_key(project) -> HmacKey:
    """The key of the quarantine's ``key_hash`` for ``project`` (its key provider's secret)."""
    from lakehouse.security.keys import for_project

    return hmac_key(for_project(project), QUARANTINE_KEY)


def key_view(purpose: str) -> str:
    """The temporary view holding the ``purpose`` key (one row: ``inner_pad``, ``outer_pad``)."""
    return "__hmac_key_" + re.sub(r"\W", "_", purpose)


def pseudonym_sql(expr_sql: str, purpose: str = PSEUDONYM) -> str:
    """Spark SQL computing ``pseudonym`` of the SQL expression ``expr_sql`` (cast to string;
    NULL stays NULL). It holds no secret; it runs where the engine has made ``purpose``'s view."""
    view = key_view(purpose)
    message = f"encode(CAST(({expr_sql}) AS STRING), 'UTF-8')"
    inner = f"unhex(sha2(concat((SELECT inner_pad FROM {view}), {message}), 256))"
    return f"sha2(concat((SELECT outer_pad FROM {view}), {inner}), 256)"


def expand(sql: str, provider: KeyProvider) -> tuple[str, list[HmacKey]]:
    """The model query with each ``pseudonym(expr)`` written out as ``pseudonym_sql``, and the
    keys it then reads (none, and the key provider is not asked, when it calls no pseudonym)."""
    calls = _calls(sql)
    if not calls:
        return sql, []
    for start, open_, close in reversed(calls):  # from the end: earlier offsets stay valid
        argument, _ = expand(sql[open_ + 1:close], provider)
        sql = sql[:start] + pseudonym_sql(argument) + sql[close + 1:]
    return sql, [hmac_key(provider, PSEUDONYM)]


def call_problems(sql: str) -> list[str]:
    """What keeps the ``pseudonym()`` calls of a model query from running: a call without
    exactly one argument, or one in a join condition. Raises ``SqlProblem`` if it does not parse."""
    return list(_call_problems(sql))


@lru_cache(maxsize=256)
def _call_problems(sql: str) -> tuple[str, ...]:
    """``call_problems``, found once per query text (a walk of the whole tree)."""
    from sqlglot import exp

    from lakehouse.sql_parsing import shared_tree

    problems = []
    for call in shared_tree(sql).find_all(exp.Anonymous):
        if str(call.this).lower() != FUNCTION:
            continue
        shown = f"{FUNCTION}({', '.join(e.sql(dialect='spark') for e in call.expressions)})"
        if len(call.expressions) != 1:
            problems.append(f"{shown} has {len(call.expressions)} arguments; {FUNCTION}() takes one")
        node = call
        while node.parent is not None and not isinstance(node.parent, exp.Join):
            node = node.parent
        if node.parent is not None and node.arg_key == "on":
            problems.append(f"{shown} is in a join condition, where Spark cannot read its key")
    return tuple(problems)


def _calls(sql: str) -> list[tuple[int, int, int]]:
    """(start of the name, its opening and its closing parenthesis) of each outermost
    ``pseudonym(...)`` call of ``sql``, found by sqlglot's tokenizer (never inside a string or a
    comment)."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    tokens = Dialect.get_or_raise("spark").tokenize(sql)
    calls, i = [], 0
    while i < len(tokens) - 1:
        token = tokens[i]
        if (token.token_type == TokenType.VAR and token.text.lower() == FUNCTION
                and tokens[i + 1].token_type == TokenType.L_PAREN
                and (i == 0 or tokens[i - 1].token_type != TokenType.DOT)):
            depth, j = 0, i + 1
            for j in range(i + 1, len(tokens)):
                depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tokens[j].token_type, 0)
                if depth == 0:
                    break
            if depth == 0:
                calls.append((token.start, tokens[i + 1].start, tokens[j].start))
            i = j
        i += 1
    return calls
