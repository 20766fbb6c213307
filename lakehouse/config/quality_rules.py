"""Quality rules: our own format, one typed model per kind of check, compiled to Great Expectations elsewhere.

A rule measures one quality dimension with exactly one check. Its severity says what a failure
does: ``warn`` records it, ``drop`` quarantines the failing rows and loads the rest, ``fail``
holds the data date back from the downstream layers. Its scope is the data date's new rows
(``new_rows``, checked before they are loaded) or the whole table after the load (``table``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from .fields import CodeText, Identifier, Text
from .findings import invalid

Dimension = Literal["completeness", "timeliness", "accuracy", "consistency", "uniqueness", "validity"]
DIMENSIONS: tuple[str, ...] = Dimension.__args__
Severity = Literal["warn", "drop", "fail"]
Scope = Literal["new_rows", "table"]
NamedCheck = Literal["gb11643", "luhn", "cn_mobile"]

RULE_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Bound = int | float | dt.date | dt.datetime | None


class InSet(_Model):
    column: Identifier
    values: list[CodeText] = Field(min_length=1, description="the allowed values, compared as text")


class Pattern(_Model):
    column: Identifier
    regex: str = Field(description="a regular expression the whole value must match")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise invalid(f"regex is not a valid regular expression: {exc}",
                          "correct the expression; quote it with single quotes in YAML") from None
        return value


class Between(_Model):
    column: Identifier
    min: Bound = None
    max: Bound = None

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise invalid("between needs min, max or both", "add 'min: ...' and/or 'max: ...'")
        return self


class Valid(_Model):
    column: Identifier
    check: NamedCheck = Field(description="gb11643 (ID number), luhn (card number) or cn_mobile")


class MaxLength(_Model):
    column: Identifier
    max: int = Field(gt=0, description="the most characters a value may have")


class Reference(_Model):
    """Each row's ``columns`` are found in ``table`` (a foreign key); with ``equal``, the matched
    row also carries the same values (the same customer has the same ID number in two systems)."""

    table: Identifier = Field(description="the near-source table looked up, e.g. cbs_customer")
    columns: dict[Identifier, Identifier] = Field(min_length=1, description="this column: its column there")
    equal: dict[Identifier, Identifier] = Field(default_factory=dict,
                                                description="this column: the column there it must equal")
    required: bool = Field(True, description="a row with no match fails (false: only mismatches fail)")


class RowCount(_Model):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise invalid("row_count needs min, max or both", "add 'min: ...' and/or 'max: ...'")
        return self


class Freshness(_Model):
    """The latest business date or timestamp is no older than ``max_lag_days`` before the data date."""

    column: Identifier
    max_lag_days: int = Field(0, ge=0)


class SumEquals(_Model):
    """The column sums to ``total`` (within ``tolerance``): control totals."""

    column: Identifier
    total: float
    tolerance: float = Field(0.005, ge=0)


class ArrivesBy(_Model):
    """The delivery is received by ``at`` on the ``days_after`` day after the data date."""

    at: dt.time = Field(description="HH:MM in the lakehouse time zone")
    days_after: int = Field(1, ge=0)


class QualityRule(_Model):
    """One rule: a dimension, a severity, a scope and exactly one check. Each kind of check is
    a subclass (``NotNullRule``, ``BetweenRule``...) with the check under the key ``kind``;
    read rules with :func:`parse_rule` or as :data:`AnyRule`."""

    kind: ClassVar[str] = ""
    row_level: ClassVar[bool] = True
    """The check judges each row (a ``drop`` rule can quarantine the rows that fail it)."""

    name: str = Field(description="unique within the table, e.g. balance_not_negative")
    dimension: Dimension
    severity: Severity = "warn"
    scope: Scope = "new_rows"
    where: str | None = Field(None, description="a Spark SQL condition selecting the rows checked")
    description: str = ""

    _derived: bool = PrivateAttr(False)

    @field_validator("name")
    @classmethod
    def _rule_name(cls, value: str) -> str:
        if not RULE_NAME.fullmatch(value):
            raise invalid("name must be lowercase words of letters, digits and underscores, "
                          "joined by dots", "rename it, e.g. balance_not_negative")
        return value

    @model_validator(mode="after")
    def _severity_fits(self) -> Self:
        if self.severity == "drop" and (not self.row_level or self.scope != "new_rows"):
            raise invalid(f"severity drop needs a row check on the new rows, not {self.kind} on "
                          f"scope {self.scope}", "use severity warn or fail, or a row check "
                          f"({', '.join(ROW_CHECKS)}) with scope new_rows")
        return self

    @property
    def origin(self) -> str:
        """declared (in a rule file) or derived (from the contract and standards)."""
        return "derived" if self._derived else "declared"

    @property
    def check(self):
        """The rule's check: the value under its ``kind`` key."""
        return getattr(self, self.kind)

    def columns(self) -> list[str]:
        """The columns of the checked table the rule names (not those of a referenced table)."""
        column = getattr(self.check, "column", None)
        return [column] if column is not None else []

    def with_severity(self, severity: str) -> QualityRule:
        return self.model_copy(update={"severity": severity})


class NotNullRule(QualityRule):
    kind: ClassVar[str] = "not_null"
    not_null: Identifier

    def columns(self) -> list[str]:
        return [self.not_null]


class UniqueRule(QualityRule):
    kind: ClassVar[str] = "unique"
    unique: list[Identifier] = Field(min_length=1)

    def columns(self) -> list[str]:
        return list(self.unique)


class InSetRule(QualityRule):
    kind: ClassVar[str] = "in_set"
    in_set: InSet


class PatternRule(QualityRule):
    kind: ClassVar[str] = "pattern"
    pattern: Pattern


class BetweenRule(QualityRule):
    kind: ClassVar[str] = "between"
    between: Between


class ValidRule(QualityRule):
    kind: ClassVar[str] = "valid"
    valid: Valid


class MaxLengthRule(QualityRule):
    kind: ClassVar[str] = "max_length"
    max_length: MaxLength


class SqlRule(QualityRule):
    kind: ClassVar[str] = "sql"
    sql: Text = Field(description="a Spark SQL condition every row must satisfy")


class ReferenceRule(QualityRule):
    kind: ClassVar[str] = "reference"
    reference: Reference

    def columns(self) -> list[str]:
        return [*self.reference.columns, *self.reference.equal]


class RowCountRule(QualityRule):
    kind: ClassVar[str] = "row_count"
    row_level: ClassVar[bool] = False
    row_count: RowCount


class FreshnessRule(QualityRule):
    kind: ClassVar[str] = "freshness"
    row_level: ClassVar[bool] = False
    freshness: Freshness


class SumEqualsRule(QualityRule):
    kind: ClassVar[str] = "sum_equals"
    row_level: ClassVar[bool] = False
    sum_equals: SumEquals


class ArrivesByRule(QualityRule):
    kind: ClassVar[str] = "arrives_by"
    row_level: ClassVar[bool] = False
    arrives_by: ArrivesBy

    @model_validator(mode="after")
    def _judges_a_delivery(self) -> Self:
        if self.scope == "table":
            raise invalid("arrives_by judges a delivery, not the whole table", "use scope new_rows")
        return self


RULE_KINDS: dict[str, type[QualityRule]] = {
    member.kind: member for member in (
        NotNullRule, UniqueRule, InSetRule, PatternRule, BetweenRule, ValidRule, MaxLengthRule,
        SqlRule, ReferenceRule, RowCountRule, FreshnessRule, SumEqualsRule, ArrivesByRule)}
"""Every kind of check and the rule model that holds it."""
ROW_CHECKS: tuple[str, ...] = tuple(k for k, m in RULE_KINDS.items() if m.row_level)
"""Checks that judge each row (a ``drop`` rule can quarantine the rows that fail them)."""
AGGREGATE_CHECKS: tuple[str, ...] = tuple(k for k, m in RULE_KINDS.items() if not m.row_level)
"""Checks that judge the batch as a whole."""
CHECKS = ROW_CHECKS + AGGREGATE_CHECKS


def _checks_given(data: Mapping) -> list[str]:
    return [c for c in CHECKS if data.get(c) is not None]


def _kind_of(value: object) -> str | None:
    """The tag of a rule: the one check key given (``_one_check`` makes sure there is one)."""
    if isinstance(value, QualityRule):
        return value.kind
    given = _checks_given(value) if isinstance(value, Mapping) else []
    return given[0] if len(given) == 1 else None


def _one_check(value: object) -> object:
    if isinstance(value, QualityRule):
        return value
    if not isinstance(value, Mapping):
        raise invalid("a rule must be a mapping of keys to values",
                      "write indented 'key: value' lines: name, dimension and one check")
    given = _checks_given(value)
    if len(given) != 1:
        raise invalid(f"a rule has exactly one check, not {len(given)}"
                      + (f" ({', '.join(given)})" if given else ""),
                      f"keep one of: {', '.join(CHECKS)}")
    return value


AnyRule = Annotated[
    Union[tuple(Annotated[member, Tag(kind)] for kind, member in RULE_KINDS.items())],  # noqa: UP007
    Discriminator(_kind_of),
    BeforeValidator(_one_check),
]
"""A rule of any kind, told apart by its check key (a tagged union)."""

_RULES: TypeAdapter[QualityRule] = TypeAdapter(AnyRule)


def parse_rule(data: Mapping[str, Any] | None = None, /, **fields: Any) -> QualityRule:
    """The rule of the kind its check key names, from ``data`` or keyword fields."""
    return _RULES.validate_python({**(data or {}), **fields})


class DerivedOverride(_Model):
    """A change to a rule derived from the contract and standards, by the rule's name."""

    severity: Severity | None = None
    enabled: bool = True


class RuleFile(_Model):
    """``quality_rules/<table>.yaml``: the rules of one table, and changes to its derived rules."""

    table: Identifier = Field(description="the table the rules apply to, e.g. cbs_account")
    rules: list[AnyRule] = Field(default_factory=list)
    derived: dict[str, DerivedOverride] = Field(default_factory=dict,
                                                description="derived rule name: {severity, enabled}")

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise invalid(f"rule name '{rule.name}' is used twice", "give every rule its own name")
            seen.add(rule.name)
        return self
