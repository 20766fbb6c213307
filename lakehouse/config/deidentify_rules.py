"""Typed model of ``conf/deidentify.yaml``: how a de-identified copy replaces each data standard's
values (4.2.2.4 d).

A **method** names the replacement: ``keep`` (the value as it is), ``digits`` (the digits replaced
by a keyed permutation, the rest of the text and the first ``keep_first`` characters kept),
``id_number`` (another GB 11643 resident ID number), ``card_number`` (another Luhn card number
with the same issuer BIN), ``mobile`` (another mobile number with the same carrier prefix),
``name`` and ``address`` (generated ones), ``redact`` (every character ``*``), ``perturb`` (a
number moved by up to ``percent`` per cent) and ``shift`` (a date or time moved by up to ``days``
days). Every method but ``keep`` gives the same replacement for the same value in every table and
every run with the same key, so joins still work; ``digits``, ``id_number``, ``card_number`` and
``mobile`` give different replacements for different values, so keys stay unique, and keep a
value's validity (a malformed card number stays malformed).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .findings import invalid
from .models import _Model

METHODS = ("keep", "digits", "id_number", "card_number", "mobile", "name", "address", "redact",
           "perturb", "shift")
Method = Literal["keep", "digits", "id_number", "card_number", "mobile", "name", "address", "redact",
                 "perturb", "shift"]
IDENTIFYING = frozenset({"digits", "id_number", "card_number", "mobile", "name", "address", "redact"})
"""Methods that replace an identifier: the copy must hold none of the source's values."""


class Replacement(_Model):
    """How the values of one standard (or one column) are replaced."""

    method: Method
    keep_first: int = Field(0, ge=0, le=32, description="digits: leading characters kept as they are")
    percent: float | None = Field(None, gt=0, le=50, description="perturb: the largest change, in per cent")
    days: int | None = Field(None, gt=0, le=3650, description="shift: the largest move, in days")

    @model_validator(mode="after")
    def _options_fit_the_method(self) -> Replacement:
        if self.method == "perturb" and self.percent is None:
            raise invalid("perturb needs 'percent'", "add percent: 5 (values move by up to 5%)")
        if self.method == "shift" and self.days is None:
            raise invalid("shift needs 'days'", "add days: 30 (dates move by up to 30 days)")
        for option, applies_to in (("percent", "perturb"), ("days", "shift")):
            if getattr(self, option) is not None and self.method != applies_to:
                raise invalid(f"'{option}' applies to method {applies_to}, not {self.method}",
                              f"remove {option}, or use method {applies_to}")
        if self.keep_first and self.method != "digits":
            raise invalid(f"'keep_first' applies to method digits, not {self.method}",
                          "remove keep_first, or use method digits")
        return self


class DeidentifyRules(_Model):
    """``conf/deidentify.yaml``; absent, every level-1/2 value is kept and the level-3+ standards
    with a named check (gb11643, luhn, cn_mobile) or name masking get their matching method."""

    layers: list[Literal["near_source", "integrated", "common", "mart"]] = Field(
        default_factory=lambda: ["near_source", "integrated", "common", "mart"],
        description="the layers `lakehouse deidentify` copies when none is named")
    standards: dict[str, Replacement] = Field(default_factory=dict,
                                              description="data standard id -> replacement")
    columns: dict[str, Replacement] = Field(
        default_factory=dict, description="table.column -> replacement, for columns whose standard "
        "does not say (a model column computed from several inputs, or untraced)")


def deidentify_findings(data, standard_ids: set[str] | None) -> list:
    """Every standard named is registered in standards.yaml."""
    from .registry_checks import _reference

    findings = []
    standards = data.get("standards") if hasattr(data, "get") else None
    if isinstance(standards, dict) and standard_ids is not None:
        for standard in standards:
            findings += _reference(("standards", standard), standard, standard_ids, "data standard",
                                   "standards.yaml")
    return findings
