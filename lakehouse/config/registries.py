"""Typed models of the governance registries in ``conf/``: owners, systems, standards, classification."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lakehouse.ingestion.transfer_signature import public_key_from_text
from lakehouse.security.masking import NAME_RULE, MaskRule, MaskRuleError

from .attribute_types import AttributeType, TypeName, parse_type
from .fields import PiCategory, SystemCode, Text
from .findings import invalid
from .models import BusinessName, _Model

NAMED_CHECKS = ("gb11643", "luhn", "cn_mobile")
DECERTIFICATION_REASONS = ("merged", "split", "retired")


class Department(_Model):
    code: Text = Field(description="short department code, e.g. retail")
    name: Text = Field(description="the department's Chinese name")
    name_en: str | None = None


class Owner(_Model):
    """A person accountable for data: the owner of a producing process, system or standard."""

    id: Text = Field(description="user name, e.g. li.na")
    name: Text = Field(description="the person's name")
    department: Text = Field(description="code of a department in owners.yaml")
    title: str = ""
    email: str | None = None


class OwnerRegistry(_Model):
    """The content of ``owners.yaml``."""

    departments: list[Department] = Field(description="a list of departments (code, name)")
    owners: list[Owner] = Field(description="a list of owners (id, name, department)")


class CertificationEvent(_Model):
    """One step of a system's certification history: certified, or decertified with a reason."""

    event: Literal["certified", "decertified"] = Field(description="certified or decertified")
    date: dt.date = Field(description="the day it takes effect, YYYY-MM-DD")
    by: str | None = Field(None, description="who decided")
    reason: Literal["merged", "split", "retired"] | None = None
    replaced_by: SystemCode | None = None
    note: str = ""

    @model_validator(mode="after")
    def _reason_for_decertification(self) -> CertificationEvent:
        if self.event == "decertified" and self.reason is None:
            raise invalid("a decertification needs a reason",
                          f"add 'reason: ...', one of {', '.join(DECERTIFICATION_REASONS)}")
        if self.event == "certified" and (self.reason or self.replaced_by):
            raise invalid("reason and replaced_by belong to a decertified event",
                          "remove them, or set event: decertified")
        return self


class SourceSystem(_Model):
    """A source system; its code prefixes the near-source tables. Delivers only while certified."""

    code: SystemCode = Field(description="short lowercase code, e.g. cbs")
    name: Text = Field(description="the system's Chinese name")
    name_en: str | None = None
    owner: Text = Field(description="the system owner's id in owners.yaml")
    certification: list[CertificationEvent] = Field(
        min_length=1, description="certification events, oldest first: '- {event: certified, date: ...}'")
    public_key: str | None = Field(
        None, description="the system's Ed25519 public key that verifies its signed deliveries: a "
        "PEM block (-----BEGIN PUBLIC KEY-----, written after '|') or the 32 raw bytes in base64")
    signing: Literal["optional", "required"] = Field(
        "optional", description="required: every delivery must carry the system's signature in its "
        "control file; optional: a signature, when there is one, is verified")

    @field_validator("public_key")
    @classmethod
    def _ed25519_key(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                public_key_from_text(text)
            except ValueError as exc:
                raise invalid(f"public_key is not an Ed25519 public key: {exc}",
                              "paste the system's public key: the PEM block of `openssl pkey "
                              "-pubout`, or its 32 raw bytes in base64") from None
        return text

    @property
    def verification_key(self):
        """The registered Ed25519 public key (None when the system has none)."""
        return None if self.public_key is None else public_key_from_text(self.public_key)

    @field_validator("certification")
    @classmethod
    def _in_date_order(cls, events: list[CertificationEvent]) -> list[CertificationEvent]:
        if events[0].event != "certified":
            raise invalid("the first certification event must be 'certified'",
                          "start the list with '- {event: certified, date: YYYY-MM-DD}'")
        for before, after in zip(events, events[1:]):
            if after.date < before.date:
                raise invalid(f"certification events must be in date order ({after.date} comes "
                              f"after {before.date})", "list the events oldest first")
            if after.event == before.event:
                raise invalid(f"two '{after.event}' events in a row ({before.date}, {after.date})",
                              "certified and decertified events alternate")
        return events

    def event_on(self, day: dt.date) -> CertificationEvent | None:
        """The certification event in force on ``day`` (None before the first certification)."""
        current = None
        for event in self.certification:
            if event.date <= day:
                current = event
        return current

    def certified_on(self, day: dt.date) -> bool:
        event = self.event_on(day)
        return event is not None and event.event == "certified"


class SystemRegistry(_Model):
    """The content of ``systems.yaml``."""

    systems: list[SourceSystem] = Field(description="a list of source systems (code, name, owner, certification)")


class Range(_Model):
    min: int | float | dt.date | None = None
    max: int | float | dt.date | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise invalid("a range needs min, max or both", "add 'min: ...' and/or 'max: ...'")
        if self.min is not None and self.max is not None and type(self.min) is dt.date \
                and type(self.max) is not dt.date:
            raise invalid("min and max must both be dates or both be numbers", "make them the same kind")
        return self


class ValueDomain(_Model):
    """The values a standard allows: exactly one of a code list, pattern, range or named check."""

    codes: dict[str, Text] | None = Field(None, description="code: meaning")
    pattern: str | None = Field(None, description="a regular expression every value must fully match")
    range: Range | None = None
    check: Literal["gb11643", "luhn", "cn_mobile"] | None = None

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k).lower() if isinstance(k, bool) else str(k): v for k, v in value.items()}
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise invalid(f"pattern is not a valid regular expression: {exc}",
                              "correct the expression; quote it with single quotes in YAML") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ValueDomain:
        given = [k for k in ("codes", "pattern", "range", "check") if getattr(self, k) is not None]
        if len(given) != 1:
            raise invalid(f"a domain has exactly one of codes, pattern, range or check, not "
                          f"{' and '.join(given) if given else 'none'}",
                          "keep one; split the rule into another standard if you need two")
        return self

    def describe(self) -> str:
        if self.codes is not None:
            return "codes " + ", ".join(self.codes)
        if self.pattern is not None:
            return f"pattern {self.pattern}"
        if self.range is not None:
            return f"range [{self.range.min if self.range.min is not None else ''}, " \
                   f"{self.range.max if self.range.max is not None else ''}]"
        return f"check {self.check}"


class Masking(_Model):
    """How values of a standard are masked outside their table (security level 3 and above)."""

    style: Literal["partial", "name", "email", "full"] = Field(
        "partial", description="partial (keep_first/keep_last), name (张**), email (z***@bank.cn) "
        "or full (****)")
    keep_first: int | None = Field(None, ge=0, description="characters kept at the start (partial)")
    keep_last: int | None = Field(None, ge=0, description="characters kept at the end (partial)")
    min_length: int | None = Field(None, gt=0, description="shorter values are starred entirely "
                                   "(partial; default keep_first + keep_last + 4)")

    @model_validator(mode="after")
    def _usable(self) -> Masking:
        given = [k for k in ("keep_first", "keep_last", "min_length") if getattr(self, k) is not None]
        if self.style != "partial" and given:
            raise invalid(f"{' and '.join(given)} {'applies' if len(given) == 1 else 'apply'} to "
                          f"style partial, not {self.style}",
                          f"remove {'it' if len(given) == 1 else 'them'}, or set style: partial")
        try:
            self.rule
        except MaskRuleError as exc:
            raise invalid(str(exc), exc.fix) from None
        return self

    @property
    def rule(self) -> MaskRule:
        """The ``MaskRule`` (Python and Spark SQL) this configures."""
        if self.style == "name":
            return NAME_RULE
        if self.style == "email":
            return MaskRule.email()
        if self.style == "full":
            return MaskRule.full()
        return MaskRule.partial(self.keep_first or 0, self.keep_last or 0, self.min_length)


class DataStandard(_Model):
    """One entry of the bank's business data dictionary."""

    id: Text = Field(description="standard id, e.g. DS-PTY-0001")
    name: BusinessName = Field(description="{zh: ..., en: ...}")
    definition: Text = Field(description="what the data element means")
    data_type: TypeName = Field(description="string, integer, boolean, date, timestamp or decimal(p,s)")
    length: int | None = Field(None, gt=0, description="maximum length in characters (string only)")
    domain: ValueDomain | None = None
    owner: Text = Field(description="the standard owner's id in owners.yaml")
    min_security_level: int = Field(ge=1, le=5, description="lowest security level data of this kind may carry")
    pi_category: PiCategory | None = Field(None, description="personal financial information category C1-C3")
    status: Literal["published", "draft", "retired"] = "published"
    masking: Masking | None = Field(None, description="how its values are masked outside their table "
                                    "(default: first 3 and last 4 characters of 8 or more)")

    @model_validator(mode="after")
    def _length_for_strings(self) -> DataStandard:
        if self.length is not None and self.parsed_type.kind != "string":
            raise invalid(f"length applies to string standards, not {self.data_type}",
                          "remove length (decimal precision is part of the type)")
        return self

    @property
    def parsed_type(self) -> AttributeType:
        return parse_type(self.data_type)

    @property
    def type_text(self) -> str:
        return f"{self.data_type}({self.length})" if self.length else self.data_type


class StandardRegistry(_Model):
    """The content of ``standards.yaml``."""

    standards: list[DataStandard] = Field(description="a list of data standards")


class SecurityLevel(_Model):
    level: int = Field(ge=1, le=5, description="1 (public) to 5 (important data)")
    name: Text
    meaning: Text


class PersonalInformationCategory(_Model):
    code: PiCategory = Field(description="C1, C2 or C3")
    name: Text
    meaning: Text
    min_security_level: int = Field(ge=1, le=5, description="lowest level data of this category may carry")


class Classification(_Model):
    """The content of ``classification.yaml``: JR/T 0197-2020 levels and JR/T 0171-2020 categories."""

    security_levels: list[SecurityLevel] = Field(min_length=1, description="levels 1 to 5 with their meaning")
    personal_information_categories: list[PersonalInformationCategory] = Field(
        default_factory=list, description="categories C1 to C3 with their meaning")

    @field_validator("security_levels")
    @classmethod
    def _every_level_once(cls, levels: list[SecurityLevel]) -> list[SecurityLevel]:
        found = sorted(level.level for level in levels)
        if found != [1, 2, 3, 4, 5]:
            raise invalid(f"security_levels must define levels 1 to 5 once each, found {found}",
                          "list each of the levels 1, 2, 3, 4 and 5 exactly once")
        return levels

    def level(self, number: int) -> SecurityLevel:
        return next(level for level in self.security_levels if level.level == number)

    def category(self, code: str) -> PersonalInformationCategory | None:
        return next((c for c in self.personal_information_categories if c.code == code), None)
