"""Which retention rule applies to a table in a zone (``conf/retention.yaml``), and why.

For a table and zone the most specific rule that sets the zone wins: a table rule, then (model
snapshots only) the model's own ``retention_days``, then the rules of the data standards its
columns follow, then the rule of its security level, then the default. Among several standard
rules the longest keep wins (each standard's requirement must hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from lakehouse.config.lifecycle import RETENTION_FILE


@dataclass(frozen=True)
class Keep:
    """How many data dates a zone keeps of a table (the latest included), and the rule saying so."""

    days: int
    rule: str  # e.g. "retention.yaml tables[ref_code]", "retention.yaml default"
    by: str = "default"  # table, model (its retention_days), standard, level or default

    def cutoff(self, latest: date) -> date:
        """The oldest data date kept when ``latest`` is the newest: older ones expire."""
        return latest - timedelta(days=self.days - 1)


@dataclass(frozen=True)
class TableFacts:
    """What the rules look at: the data standards of a table's columns and its security level."""

    standards: frozenset[str]
    level: int


class RetentionRules:
    """The rules of a project, resolved per table and zone."""

    def __init__(self, project):
        self.project = project
        self.policy = project.retention
        self._facts: dict[str, TableFacts] | None = None

    def keep(self, table: str | None, zone: str) -> Keep | None:
        """The keep of ``table`` (a near-source table or model name; None: the default only) in
        ``zone``, or None when no rule sets the zone (kept for ever)."""
        policy = self.policy
        if table is not None:
            for rule in policy.tables:
                if rule.table == table and rule.keep.days(zone):
                    return Keep(rule.keep.days(zone), f"{RETENTION_FILE} tables[{table}]", "table")
            model = self.project.models.get(table)
            if zone == "model_snapshots" and model is not None and model.retention_days:
                return Keep(model.retention_days,
                            f"layers/{model.layer}/{model.name}.yaml retention_days", "model")
            facts = self.facts(table)
            if facts is not None:
                by_standard = [Keep(r.keep.days(zone), f"{RETENTION_FILE} standards[{r.standard}]", "standard")
                               for r in policy.standards
                               if r.standard in facts.standards and r.keep.days(zone)]
                if by_standard:
                    return max(by_standard, key=lambda k: k.days)
                for rule in policy.levels:
                    if rule.level == facts.level and rule.keep.days(zone):
                        return Keep(rule.keep.days(zone), f"{RETENTION_FILE} levels[{rule.level}]", "level")
        days = policy.default.days(zone)
        return Keep(days, f"{RETENTION_FILE} default") if days else None

    def facts(self, table: str) -> TableFacts | None:
        """The standards and level of a near-source table or model (None: neither)."""
        contract = next((c for c in self.project.sources.values() if c.table_name == table), None)
        if contract is not None:
            return TableFacts(frozenset(a.standard for a in contract.attributes), contract.table_level)
        if table not in self.project.models:
            return None
        if self._facts is None:
            self._facts = model_facts(self.project)
        return self._facts.get(table)


def model_facts(project) -> dict[str, TableFacts]:
    """Model name -> the standards of its columns and its level; a model column follows the
    standard of the input column it is traced to (through the layers)."""
    from lakehouse.security.column_levels import model_columns, table_level

    standard_of = {(c.table_name, a.name): a.standard
                   for c in project.sources.values() for a in c.attributes}
    facts: dict[str, TableFacts] = {}
    for name, columns in model_columns(project).items():  # in build order: inputs first
        for column, source in columns.sources.items():
            if source in standard_of:
                standard_of[(name, column)] = standard_of[source]
        standards = frozenset(s for (table, _), s in standard_of.items() if table == name)
        facts[name] = TableFacts(standards, table_level(columns.levels))
    return facts
