"""Layer models: one typed model per table of the integrated, common and mart layers.

A model is a Spark SQL query over declared inputs (near-source tables and other models), run
once per data date. Each input is visible to the query as a view named after its table: with
``current`` the rows of the data date (a snapshot's partition, an append table's rows of the date,
a zipper table's versions valid on the date), with ``history`` every row up to the date. The
query names the data date and the model's ``params`` as parameter markers (``:data_date``).
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from .fields import Identifier, Text
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


class LayerModel(_Model):
    """``layers/<layer>/<name>.yaml``: one table of a modelled layer and the query that fills it."""

    name: Identifier = Field(description="the table name, e.g. pty_party (prefix by layer)")
    layer: Literal["integrated", "common", "mart"]
    description: Text
    business_name: dict[Literal["zh", "en"], Text] = Field(default_factory=dict)
    owner: str | None = Field(None, description="data owner id; defaults to the inputs' owners")
    load_type: Literal["zipper", "snapshot"] = Field(
        description="zipper: versions with start_dt/end_dt by keys; snapshot: one partition per date")
    keys: list[Identifier] = Field(min_length=1, description="columns identifying a row of one date")
    inputs: dict[Identifier, InputMode] = Field(
        min_length=1, description="table name: current (rows of the date) or history (rows up to it)")
    params: dict[str, str | int | float] = Field(default_factory=dict,
                                                 description="named values the query uses as :name")
    retention_days: int | None = Field(None, gt=0, description="snapshots older than this are removed")
    columns: dict[Identifier, Text] = Field(default_factory=dict,
                                            description="column: its description (zh / en)")
    sql: Text = Field(description="a Spark SQL query over the inputs' views")

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict) -> dict:
        for name in value:
            if not _PARAM.fullmatch(name) or name == "data_date":
                raise invalid(f"parameter name '{name}' is not allowed",
                              "use lowercase letters, digits and underscores; data_date is given")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.layer == "integrated":
            prefix = self.name.split("_", 1)[0]
            if prefix not in SUBJECT_AREAS or "_" not in self.name:
                raise invalid(
                    f"integrated table '{self.name}' does not start with a subject-area prefix",
                    "rename it with one of: " + ", ".join(f"{p}_ ({a})" for p, a in SUBJECT_AREAS.items()))
        elif not self.name.startswith(LAYER_PREFIX[self.layer]):
            raise invalid(f"{self.layer} table '{self.name}' must start with "
                          f"'{LAYER_PREFIX[self.layer]}'",
                          f"rename it to {LAYER_PREFIX[self.layer]}{self.name}")
        if self.retention_days is not None and self.load_type != "snapshot":
            raise invalid("retention_days applies to snapshot tables only",
                          "remove retention_days, or use load_type snapshot")
        if self.name in self.inputs:
            raise invalid(f"model '{self.name}' lists itself as an input",
                          "read the table's earlier dates with a history input of another model")
        return self

    @property
    def layer_rank(self) -> int:
        return LAYERS.index(self.layer)
