"""Typed models of ``conf/retention.yaml`` (how long each zone keeps a table's data) and
``conf/holds.yaml`` (legal and regulatory holds that pin data against removal), with the
checks against the rest of the project (known tables and standards)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from pydantic import Field, field_validator, model_validator

from .fields import Identifier, Schedule, Text
from .findings import Finding, did_you_mean, invalid
from .models import _Model

RETENTION_FILE = "retention.yaml"
HOLDS_FILE = "holds.yaml"

ZONES = ("raw", "near_source", "model_snapshots", "history", "quarantine", "samples", "staging")
"""Where retention applies: raw files, near-source tables, the snapshot tables of the integrated,
common and mart layers, the history zone, quarantine rows, governance quality samples, and the
staging folders of runs."""
PER_RUN_ZONES = ("staging",)
"""Zones kept per run, not per table: only ``default`` may set them."""
DELTA_VACUUM_DEFAULT_HOURS = 168


class KeepDays(_Model):
    """Days each zone keeps a table's data after its data date (unset: this rule says nothing
    about that zone)."""

    raw: int | None = Field(None, gt=0, description="raw files (all versions of a data date)")
    near_source: int | None = Field(None, gt=0, description="near-source table rows of a data date")
    model_snapshots: int | None = Field(None, gt=0, description="snapshot rows of an integrated, "
                                        "common or mart table")
    history: int | None = Field(None, gt=0, description="rows in the history zone")
    quarantine: int | None = Field(None, gt=0, description="quarantined rows of the table")
    samples: int | None = Field(None, gt=0, description="governance quality samples of the table")
    staging: int | None = Field(None, gt=0, description="staging folders of runs (default only)")

    def days(self, zone: str) -> int | None:
        return getattr(self, zone)


class _Rule(_Model):
    keep: KeepDays = Field(description="days per zone, e.g. {raw: 1825, near_source: 1825}")
    reason: str = Field("", description="why (the regulation or policy behind it)")

    @field_validator("keep")
    @classmethod
    def _not_per_run(cls, keep: KeepDays) -> KeepDays:
        for zone in PER_RUN_ZONES:
            if keep.days(zone) is not None:
                raise invalid(f"{zone} is kept per run, not per table",
                              f"move {zone} to the default rule")
        return keep


class LevelRule(_Rule):
    level: int = Field(ge=1, le=5, description="security level 1-5 of the table (its highest column's)")


class StandardRule(_Rule):
    standard: Text = Field(description="a data standard id of standards.yaml: tables with a column "
                           "of this standard")


class TableRule(_Rule):
    table: Text = Field(description="a near-source table or model name, e.g. cbs_transaction")


class RetentionPolicy(_Model):
    """The content of ``retention.yaml``. For a table and zone the most specific rule that sets
    the zone applies: table, then data standard, then security level, then default; among
    several standard or level rules, the longest keep."""

    vacuum_window_hours: int = Field(DELTA_VACUUM_DEFAULT_HOURS, ge=0, description=(
        "deleted rows stay in older table versions (time travel) this long, then VACUUM removes "
        "their files"))
    schedule: Schedule | None = Field("0 8 * * *", description="when the lakehouse_retention DAG "
                                      "runs (daily, weekdays, weekly, monthly or a 5-field cron); "
                                      "null: no DAG")
    default: KeepDays = Field(default_factory=KeepDays, description="days per zone for every table")
    levels: list[LevelRule] = []
    standards: list[StandardRule] = []
    tables: list[TableRule] = []


class DateRange(_Model):
    model_config = {**_Model.model_config, "populate_by_name": True}

    start: dt.date = Field(alias="from", description="first data date held, YYYY-MM-DD")
    end: dt.date = Field(alias="to", description="last data date held, YYYY-MM-DD")

    @model_validator(mode="after")
    def _ordered(self):
        if self.end < self.start:
            raise invalid(f"'to' ({self.end}) is before 'from' ({self.start})", "swap them")
        return self

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


class Hold(_Model):
    """A legal or regulatory hold: the data of ``tables`` for ``data_dates`` is kept, whatever
    retention says, until the hold is released."""

    name: Identifier = Field(description="short name, e.g. aml_case_2026_031")
    tables: list[Text] = Field(min_length=1, description="near-source tables or models held, "
                               "e.g. [cbs_customer, cbs_transaction]")
    data_dates: DateRange = Field(description="{from: YYYY-MM-DD, to: YYYY-MM-DD}")
    authority: Text = Field(description="who ordered it: a court, regulator or internal function")
    placed_by: Text = Field(description="who placed it")
    placed_on: dt.date = Field(description="when, YYYY-MM-DD")
    reason: Text = Field(description="why, e.g. the case or inquiry reference")
    released_on: dt.date | None = Field(None, description="when the authority released it (then "
                                        "it pins nothing)")


class HoldRegistry(_Model):
    """The content of ``holds.yaml``."""

    holds: list[Hold] = []


def retention_findings(data: object, tables: set[str], standards: set[str]) -> list[Finding]:
    """Rules naming an unknown table or standard, and rules given twice."""
    if not isinstance(data, dict):
        return []
    found = []
    for section, key, known in (("tables", "table", tables), ("standards", "standard", standards),
                                ("levels", "level", None)):
        rules = [r for r in (data.get(section) or []) if isinstance(r, dict)] \
            if isinstance(data.get(section), list) else []
        seen = Counter(r.get(key) for r in rules)
        for i, rule in enumerate(data.get(section) or []):
            if not isinstance(rule, dict):
                continue
            value = rule.get(key)
            if known is not None and isinstance(value, str) and value not in known:
                found.append(Finding((section, i, key), f"unknown {key} '{value}'"
                                     + did_you_mean(value, known), value,
                                     f"name a {'near-source table or model' if key == 'table' else 'standard of standards.yaml'}"))
            elif value is not None and seen[value] > 1:
                found.append(Finding((section, i, key), f"{key} {value} has more than one rule", value,
                                     "merge them into one rule"))
    return found


def hold_findings(data: object, tables: set[str]) -> list[Finding]:
    """Holds naming an unknown table, and hold names given twice."""
    if not isinstance(data, dict) or not isinstance(data.get("holds"), list):
        return []
    found = []
    names = Counter(h.get("name") for h in data["holds"] if isinstance(h, dict))
    for i, hold in enumerate(data["holds"]):
        if not isinstance(hold, dict):
            continue
        if names[hold.get("name")] > 1:
            found.append(Finding(("holds", i, "name"), f"hold name '{hold.get('name')}' is used twice",
                                 hold.get("name"), "give each hold its own name"))
        for j, table in enumerate(hold.get("tables") or [] if isinstance(hold.get("tables"), list) else []):
            if isinstance(table, str) and table not in tables:
                found.append(Finding(("holds", i, "tables", j), f"unknown table '{table}'"
                                     + did_you_mean(table, tables), table,
                                     "name a near-source table (cbs_customer) or a model"))
    return found


def known_tables(sources: Iterable, models: Iterable[str]) -> set[str]:
    """The table names rules and holds may name: near-source tables and models."""
    return {c.table_name for c in sources} | set(models)
