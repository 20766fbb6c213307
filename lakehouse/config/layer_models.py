"""Layer models: one typed model per table of the integrated, common and mart layers.

A model is a Spark SQL query over declared inputs (near-source tables and other models), run
once per data date. Each input is visible to the query as a view named after its table: with
``current`` the rows of the data date (a snapshot's partition, an append table's rows of the date,
a zipper table's versions valid on the date), with ``history`` every row up to the date. The
query names the data date and the model's ``params`` as parameter markers (``:data_date``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from .fields import CodeText, Identifier, Text
from .findings import invalid
from .models import _Model

LAYERS = ("integrated", "common", "mart")
"""The modelled layers above near-source, lowest first; a model reads only lower or equal layers."""
SUBJECT_AREAS = {
    "pty": "party", "agt": "agreement", "evt": "event", "prd": "product", "org": "organisation",
    "chn": "channel", "ast": "asset", "loc": "location",
}
"""Subject-area prefixes of integrated tables (6.2.4.2)."""
LAYER_PREFIX = {"common": "com_", "mart": "mart_"}
InputMode = Literal["current", "history"]
_PARAM = re.compile(r"[a-z][a-z0-9_]*")


def _scalar(value: object) -> object:
    if isinstance(value, bool | int | float | str):
        return value
    raise invalid(f"a parameter value must be a number, true/false or text, not {type(value).__name__}",
                  "quote it to pass it as text, e.g. since: '2024-01-01', and cast it in the query")


Scalar = Annotated[Any, BeforeValidator(_scalar)]


class Declassification(_Model):
    """Who lowered a column's security level below what it reads, why, and who approved it."""

    by: Text = Field(description="the principal or owner who asks for the lower level")
    approved_by: Text = Field(description="who approved it; not the one who asked")
    reason: Text

    @model_validator(mode="after")
    def _four_eyes(self) -> "Declassification":
        if self.by == self.approved_by:
            raise invalid(f"'{self.by}' both asks for and approves this declassification",
                          "have another person (e.g. the data owner) approve it: approved_by")
        return self


class ColumnLevel(_Model):
    """A model column's declared security level: above the derived one (raised), or below it
    with a declassification."""

    level: int = Field(ge=1, le=5)
    declassification: Declassification | None = None


def _level_shorthand(value: object) -> object:
    return {"level": value} if isinstance(value, int) and not isinstance(value, bool) else value


DeclaredLevel = Annotated[ColumnLevel, BeforeValidator(_level_shorthand)]


class ModelColumn(_Model):
    """A model column's description and, where declared, what its values must be: present
    (``nullable: false``), following a data standard's domain and length (``standard``), or one
    of a list of codes (``values``). Rules measuring them are derived (see ``derived_rules``)."""

    description: Text
    nullable: bool = True
    standard: Text | None = Field(None, description="the data standard it follows, e.g. DS-PTY-0001")
    values: list[CodeText] | None = Field(None, min_length=1, description="the allowed codes, as text")

    @model_validator(mode="after")
    def _one_domain(self) -> "ModelColumn":
        if self.standard is not None and self.values is not None:
            raise invalid("a column follows a standard or lists its values, not both",
                          "keep standard (its code list applies), or remove it and keep values")
        return self


def _description_shorthand(value: object) -> object:
    return {"description": value} if isinstance(value, str) else value


DeclaredColumn = Annotated[ModelColumn, BeforeValidator(_description_shorthand)]


class LayerModel(_Model):
    """``layers/<layer>/<name>.yaml``: one table of a modelled layer and the query that fills it."""

    layer: Literal["integrated", "common", "mart"]
    name: Identifier = Field(description="the table name, e.g. pty_party (prefix by layer)")
    description: Text
    business_name: dict[Literal["zh", "en"], Text] = Field(default_factory=dict)
    owner: str | None = Field(None, description="data owner id; defaults to the inputs' owners")
    load_type: Literal["zipper", "snapshot"] = Field(
        description="zipper: versions with start_dt/end_dt by keys; snapshot: one partition per date")
    keys: list[Identifier] = Field(min_length=1, description="columns identifying a row of one date")
    inputs: dict[Identifier, InputMode] = Field(
        min_length=1, description="table name: current (rows of the date) or history (rows up to it)")
    params: dict[str, Scalar] = Field(default_factory=dict,
                                      description="named values the query uses as :name")
    retention_days: int | None = Field(None, gt=0, description="snapshots older than this are removed")
    columns: dict[Identifier, DeclaredColumn] = Field(
        default_factory=dict, description="column: its description (zh / en), or {description, "
        "nullable, standard or values} to have its values measured")
    column_levels: dict[Identifier, DeclaredLevel] = Field(
        default_factory=dict, description="column: a security level (raise), or {level, "
        "declassification: {by, approved_by, reason}} to lower the level derived from its inputs")
    sql: Text = Field(description="a Spark SQL query over the inputs' views")

    @field_validator("name")
    @classmethod
    def _prefixed(cls, name: str, info: ValidationInfo) -> str:
        layer = info.data.get("layer")
        if layer == "integrated":
            prefix = name.split("_", 1)[0]
            if prefix not in SUBJECT_AREAS or "_" not in name:
                raise invalid(
                    f"integrated table '{name}' does not start with a subject-area prefix",
                    "rename it with one of: " + ", ".join(f"{p}_ ({a})" for p, a in SUBJECT_AREAS.items()))
        elif layer in LAYER_PREFIX and not name.startswith(LAYER_PREFIX[layer]):
            raise invalid(f"{layer} table '{name}' must start with '{LAYER_PREFIX[layer]}'",
                          f"rename it to {LAYER_PREFIX[layer]}{name}")
        return name

    @field_validator("inputs")
    @classmethod
    def _not_itself(cls, inputs: dict, info: ValidationInfo) -> dict:
        if info.data.get("name") in inputs:
            raise invalid(f"model '{info.data['name']}' lists itself as an input",
                          "read the table's earlier dates with a history input of another model")
        return inputs

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict) -> dict:
        bad = [name for name in value if not _PARAM.fullmatch(name) or name == "data_date"]
        if bad:
            names = ", ".join(f"'{b}'" for b in bad)
            raise invalid(f"parameter name{'s' if len(bad) > 1 else ''} {names} "
                          f"{'are' if len(bad) > 1 else 'is'} not allowed",
                          "use lowercase letters, digits and underscores; data_date is given")
        return value

    @field_validator("retention_days")
    @classmethod
    def _snapshots_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("load_type") != "snapshot":
            raise invalid("retention_days applies to snapshot tables only",
                          "remove retention_days, or use load_type snapshot")
        return value

    @property
    def layer_rank(self) -> int:
        return LAYERS.index(self.layer)

    def description_of(self, column: str) -> str | None:
        """The declared description of ``column`` (None if it has none)."""
        declared = self.columns.get(column)
        return declared.description if declared else None
