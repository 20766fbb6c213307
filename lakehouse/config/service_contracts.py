"""Typed model of ``conf/services.yaml``: the data services over the lakehouse (6.2.4.3, 6.3.1.3).

A **service contract** names a service and its version, its owner, what it is for and its grade;
its query (a lookup of the rows of one integrated, common or mart table at the table's current
data date whose columns equal the typed parameters, returning the output columns); the consumers
allowed to call it, and its limits (calls per second per consumer, the latency objective, the
most rows one call returns). The levels of the output columns come from lineage, not from the
contract (:mod:`lakehouse.security.column_levels`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from .fields import Identifier, Text
from .findings import Finding, did_you_mean, invalid
from .models import _Model

SERVICE_LAYERS = ("integrated", "common", "mart")
"""The layers a service may read (6.2.4.3: services over the modelled data, not raw sources)."""
GRADES = ("critical", "important", "general")
PARAMETER_TYPES = ("string", "integer", "date")


class ServiceParameter(_Model):
    """One typed input of a service, matched for equality against a column of its table."""

    name: Identifier = Field(description="the query parameter's name, e.g. party_id")
    type: Literal["string", "integer", "date"] = Field(description="string, integer or date (YYYY-MM-DD)")
    column: Identifier | None = Field(None, description="the table column it must equal (default: name)")
    description: Text

    @property
    def matches(self) -> str:
        return self.column or self.name


class ServiceQuery(_Model):
    """Rows of ``table`` at its current data date whose columns equal the parameters."""

    table: str = Field(description="LAYER.TABLE of an integrated, common or mart model, e.g. "
                                   "mart.mart_customer_360")
    parameters: list[ServiceParameter] = Field(min_length=1)
    output: list[Identifier] = Field(min_length=1, description="the columns returned, in order")

    @model_validator(mode="after")
    def _distinct(self) -> ServiceQuery:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise invalid(f"parameter names repeat: {', '.join(names)}", "give each parameter its own name")
        if len(set(self.output)) != len(self.output):
            raise invalid("an output column is listed twice", "list each output column once")
        return self


class ServiceLimits(_Model):
    """What a consumer may ask of the service and what the service promises."""

    rate_per_second: float = Field(gt=0, description="calls per second one consumer may make")
    burst: int | None = Field(None, ge=1, description="calls a consumer may make at once before "
                              "the rate applies (default: one second's worth)")
    latency_p99_ms: float = Field(gt=0, description="the latency objective: 99% of calls within")
    max_rows: int = Field(100, ge=1, description="the most rows one call returns")

    @property
    def bucket(self) -> int:
        return self.burst or max(1, int(self.rate_per_second))


class ServiceContract(_Model):
    """One data service: what it serves, to whom, and within which limits."""

    name: Identifier = Field(description="the service's name, e.g. customer_360")
    version: int = Field(ge=1, description="raise it when the contract changes")
    owner: Text = Field(description="the accountable owner's id in owners.yaml; approves the service")
    description: Text
    grade: Literal["critical", "important", "general"] = Field(
        description="critical, important or general: how much the bank depends on it")
    query: ServiceQuery
    consumers: list[Text] = Field(min_length=1, description="principals of security.yaml allowed to call it")
    limits: ServiceLimits

    source_file: Path | None = Field(None, exclude=True)

    @property
    def table(self) -> str:
        return self.query.table

    def parameter(self, name: str) -> ServiceParameter | None:
        return next((p for p in self.query.parameters if p.name == name), None)


class ServiceRegistry(_Model):
    """The content of ``services.yaml``."""

    services: list[ServiceContract] = Field(default_factory=list)


def reference_findings(data: Any, project) -> list[Finding]:
    """What in ``services.yaml``'s ``data`` does not match the project: unknown owners,
    consumers, tables and columns, and repeated service names."""
    services = data.get("services") if isinstance(data, Mapping) else None
    if not isinstance(services, list):
        return []
    from lakehouse.sql_parsing import output_columns

    principals = [p.id for p in project.security.principals]
    tables = {f"{m.layer}.{m.name}": m for m in project.models.values() if m.layer in SERVICE_LAYERS}
    findings: list[Finding] = []
    seen: dict[str, int] = {}
    for index, service in enumerate(services):
        if not isinstance(service, Mapping):
            continue
        at = ("services", index)
        name = service.get("name")
        if isinstance(name, str):
            if name in seen:
                findings.append(Finding((*at, "name"), f"service '{name}' is declared twice (first "
                                        f"as services[{seen[name]}])", name,
                                        "give each service its own name; a new version replaces "
                                        "the old one's entry"))
            seen.setdefault(name, index)
        owner = service.get("owner")
        if isinstance(owner, str) and owner not in project.owners:
            findings.append(Finding((*at, "owner"), f"owner '{owner}' is not in owners.yaml"
                                    + did_you_mean(owner, project.owners), owner,
                                    f"name one of: {', '.join(project.owners)}"))
        for position, consumer in enumerate(service.get("consumers") or []):
            if isinstance(consumer, str) and consumer not in principals:
                findings.append(Finding((*at, "consumers", position), f"consumer '{consumer}' is "
                                        "not a principal of security.yaml"
                                        + did_you_mean(consumer, principals), consumer,
                                        "register the application or person in security.yaml, "
                                        f"or name one of: {', '.join(principals)}"))
        query = service.get("query")
        if isinstance(query, Mapping) and project.layers_dir.is_dir():  # conf/ alone: no tables to check
            findings += _query_findings(query, (*at, "query"), tables, output_columns)
    return findings


def _query_findings(query: Mapping, at: tuple, tables: dict, output_columns) -> list[Finding]:
    table = query.get("table")
    if not isinstance(table, str):
        return []
    model = tables.get(table)
    if model is None:
        return [Finding((*at, "table"), f"'{table}' is not a table of the integrated, common or "
                        "mart layer" + did_you_mean(table, tables), table,
                        f"name one as LAYER.TABLE: {', '.join(sorted(tables))}")]
    returned = output_columns(model.sql)
    if returned is None:
        return []  # SELECT *: the columns are known once the table is built
    columns = [*returned, "data_date"]
    findings = []
    for index, parameter in enumerate(query.get("parameters") or []):
        if isinstance(parameter, Mapping):
            column = parameter.get("column") or parameter.get("name")
            if isinstance(column, str) and column not in columns:
                key = "column" if parameter.get("column") else "name"
                findings.append(Finding((*at, "parameters", index, key), f"{table} has no column "
                                        f"'{column}'" + did_you_mean(column, columns), column,
                                        f"match one of its columns: {', '.join(columns)}"))
    for index, column in enumerate(query.get("output") or []):
        if isinstance(column, str) and column not in columns:
            findings.append(Finding((*at, "output", index), f"{table} has no column '{column}'"
                                    + did_you_mean(column, columns), column,
                                    f"return some of its columns: {', '.join(columns)}"))
    return findings
