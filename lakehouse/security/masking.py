"""Masking of values of security level 3 and above wherever rows leave their table (failing-row
samples, quarantine, admission problems), by the data standard of each column.

A ``MaskRule`` is one masking pattern; its Python (``apply``) and Spark SQL (``sql``) forms are
derived from the same parameters, and both count characters (not bytes) of the value as text:

- ``partial``: a value of at least ``min_length`` characters keeps its first ``keep_first`` and
  last ``keep_last`` characters, every other character is ``*``; a shorter value is starred
  entirely (same length), so it is never shown whole. ``622848******1234`` (card, 6 + 4),
  ``张**`` (name: ``partial(1, 0, min_length=2)``).
- ``email``: the first character of the local part (when it has two or more), ``***`` and the
  domain: ``z***@bank.cn``; text without ``@`` is masked as ``full``.
- ``full``: ``****`` whatever the value, which hides its length too.

A standard without ``masking:`` (and a column without a standard) gets ``DEFAULT_RULE``: first 3
and last 4 characters kept for text of 8 or more (``621*********0001``, as bank statements print
card numbers), other values starred.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lakehouse.config import Attribute, DataStandard, Project

MASK_FROM_LEVEL = 3
"""JR/T 0197 level 3 (sensitive) and above is masked outside its table."""
FULL_MASK = "****"
HIDDEN_AT_LEAST = 4
"""A partial rule without ``min_length`` stars at least this many characters of a value it shows."""


class MaskRuleError(ValueError):
    """A masking pattern that cannot be used, with how to fix it."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class MaskRule:
    """One masking pattern (see the module docstring); build it with ``partial``, ``email`` or
    ``full``."""

    style: Literal["partial", "email", "full"]
    keep_first: int = 0
    keep_last: int = 0
    min_length: int = 0

    def __post_init__(self) -> None:
        if self.style != "partial":
            return
        kept = self.keep_first + self.keep_last
        if self.keep_first < 0 or self.keep_last < 0 or kept == 0:
            raise MaskRuleError(f"a partial mask keeps some characters, not keep_first {self.keep_first} "
                                f"and keep_last {self.keep_last}",
                                "set keep_first and/or keep_last above 0, or use style: full")
        if self.min_length <= kept:
            raise MaskRuleError(f"min_length {self.min_length} would show a value of {kept} characters "
                                f"whole (keep_first {self.keep_first} + keep_last {self.keep_last})",
                                f"raise min_length above {kept}, or leave it out "
                                f"(default {kept + HIDDEN_AT_LEAST})")

    @classmethod
    def partial(cls, keep_first: int, keep_last: int, min_length: int | None = None) -> MaskRule:
        """``min_length`` defaults to the kept characters plus ``HIDDEN_AT_LEAST``."""
        if min_length is None:
            min_length = keep_first + keep_last + HIDDEN_AT_LEAST
        return cls("partial", keep_first, keep_last, min_length)

    @classmethod
    def email(cls) -> MaskRule:
        return cls("email")

    @classmethod
    def full(cls) -> MaskRule:
        return cls("full")

    def apply(self, value: Any) -> str | None:
        """``value`` masked (None stays None)."""
        if value is None:
            return None
        text = as_text(value)
        if self.style == "full":
            return FULL_MASK
        if self.style == "email":
            local, at, domain = text.rpartition("@")
            if not at:
                return FULL_MASK
            return (local[0] if len(local) >= 2 else "") + "***@" + domain
        length = len(text)
        if length < self.min_length:
            return "*" * length
        hidden = length - self.keep_first - self.keep_last
        return text[:self.keep_first] + "*" * hidden + text[length - self.keep_last:]

    def sql(self, column_sql: str) -> str:
        """The Spark SQL of ``apply`` on the expression ``column_sql`` (NULL stays NULL)."""
        text = f"CAST({column_sql} AS STRING)"
        length = f"char_length({text})"
        if self.style == "full":
            return f"CASE WHEN {text} IS NULL THEN NULL ELSE '{FULL_MASK}' END"
        if self.style == "email":
            domain = f"substring_index({text}, '@', -1)"
            local_length = f"{length} - char_length({domain}) - 1"
            return (f"CASE WHEN {text} IS NULL THEN NULL WHEN instr({text}, '@') = 0 THEN '{FULL_MASK}' "
                    f"WHEN {local_length} >= 2 THEN concat(substr({text}, 1, 1), '***@', {domain}) "
                    f"ELSE concat('***@', {domain}) END")
        first = f"substr({text}, 1, {self.keep_first})" if self.keep_first else "''"
        last = f"substr({text}, -{self.keep_last})" if self.keep_last else "''"
        hidden = f"repeat('*', {length} - {self.keep_first + self.keep_last})"
        return (f"CASE WHEN {text} IS NULL THEN NULL WHEN {length} >= {self.min_length} THEN "
                f"concat({first}, {hidden}, {last}) ELSE repeat('*', {length}) END")


DEFAULT_RULE = MaskRule.partial(3, 4, min_length=8)
"""The rule of a column whose standard declares no masking."""
NAME_RULE = MaskRule.partial(1, 0, min_length=2)
"""``style: name``: the first character kept (张**); a one-character value is starred."""


def as_text(value: Any) -> str:
    """``value`` as Spark's ``CAST(... AS STRING)`` writes it (dates, timestamps, decimals,
    booleans, numbers, text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        text = value.replace(tzinfo=None).isoformat(sep=" ")
        return text.rstrip("0") if value.microsecond else text
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


Masked = Mapping[str, MaskRule] | Collection[str]
"""The masked columns of a row: column -> its rule, or only their names (each with ``DEFAULT_RULE``)."""


def rule_of(masked: Masked, column: str) -> MaskRule:
    """The rule ``masked`` gives ``column`` (which it must contain)."""
    return masked[column] if isinstance(masked, Mapping) else DEFAULT_RULE


def mask_rule_for(standards: Project | Mapping[str, DataStandard], attribute: Attribute) -> MaskRule:
    """The masking rule of ``attribute``: its data standard's (of a project, or of standards by
    id), else ``DEFAULT_RULE``."""
    by_id = standards if isinstance(standards, Mapping) else standards.standards
    standard = by_id.get(attribute.standard)
    if standard is None or standard.masking is None:
        return DEFAULT_RULE
    return standard.masking.rule


def masked_columns(levels: dict[str, int]) -> set[str]:
    """The columns of ``levels`` (column -> security level) that are masked."""
    return {column for column, level in levels.items() if level >= MASK_FROM_LEVEL}


def masked_attributes(standards: Project | Mapping[str, DataStandard],
                      attributes: Iterable[Attribute]) -> dict[str, MaskRule]:
    """The attributes masked outside their table (level 3 and above), each with its rule."""
    attributes = list(attributes)
    masked = masked_columns({a.name: a.security_level for a in attributes})
    return {a.name: mask_rule_for(standards, a) for a in attributes if a.name in masked}


def mask_value(value: Any, rule: MaskRule = DEFAULT_RULE) -> str | None:
    """``value`` masked by ``rule`` (None stays None)."""
    return rule.apply(value)


def masked_value(masked: Masked, column: str, value: Any) -> Any:
    """``value`` of ``column`` as shown outside its table: masked by its rule when ``masked``
    holds the column, else as it is."""
    return mask_value(value, rule_of(masked, column)) if column in masked else value


def masked_key(masked: Masked, columns: Sequence[str], key: Sequence[Any]) -> tuple:
    """A key (the values of ``columns``) as shown outside its table, each part by ``masked_value``."""
    return tuple(masked_value(masked, column, part) for column, part in zip(columns, key))


def mask_row(row: dict[str, Any], masked: Masked) -> dict[str, Any]:
    """``row`` with the ``masked`` columns masked, each by its rule."""
    return {k: masked_value(masked, k, v) for k, v in row.items()}


def mask_sql(column_sql: str, rule: MaskRule = DEFAULT_RULE) -> str:
    """The Spark SQL of ``mask_value`` applied to the expression ``column_sql``."""
    return rule.sql(column_sql)
