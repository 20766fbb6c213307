"""Typed model of ``conf/security.yaml``: who may use which data, and how (4.2.2.4, 6.2.1).

A **role** grants tables (by layer or name), the security levels it sees in clear, the levels it
sees masked (above those: refused) and the operations it may perform. A **principal** (a person,
a service account or an application) holds roles. **Incompatible duties** are pairs of roles no
principal may hold together.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .fields import Identifier, Text
from .findings import invalid
from .models import _Model

OPERATIONS = ("query", "export", "manage", "audit")
PRINCIPAL_KINDS = ("person", "service", "application")
TABLE_LAYERS = ("near_source", "integrated", "common", "mart", "governance")
"""The first part of a table's qualified name (``mart.mart_customer_360``)."""
_TABLE_PATTERN = re.compile(r"(\*|[a-z_]+)\.(\*|[a-z0-9_*]+)")
Level = int


class Role(_Model):
    """What a role may read and do."""

    name: Identifier = Field(description="the role's name, e.g. customer_service")
    description: Text
    tables: list[str] = Field(min_length=1, description="qualified names or patterns: mart.*, "
                                                       "near_source.cbs_customer, *.*")
    clear_up_to: int = Field(ge=1, le=5, description="columns up to this security level are shown in clear")
    masked_up_to: int | None = Field(None, ge=1, le=5, description="columns above clear_up_to and up "
                                     "to this level are masked; above it, refused (default: clear_up_to)")
    operations: list[Literal["query", "export", "manage", "audit"]] = Field(min_length=1)

    @field_validator("tables")
    @classmethod
    def _patterns(cls, tables: list[str]) -> list[str]:
        for pattern in tables:
            match = _TABLE_PATTERN.fullmatch(pattern) if isinstance(pattern, str) else None
            if match is None or match.group(1) not in (*TABLE_LAYERS, "*"):
                raise invalid(f"table pattern {pattern!r} is not LAYER.TABLE",
                              f"use a layer ({', '.join(TABLE_LAYERS)}) or * before the dot and "
                              "a table name or pattern after it, e.g. mart.* or near_source.cbs_customer")
        return tables

    @model_validator(mode="after")
    def _masked_above_clear(self) -> Role:
        if self.masked_up_to is not None and self.masked_up_to < self.clear_up_to:
            raise invalid(f"masked_up_to {self.masked_up_to} is below clear_up_to {self.clear_up_to}",
                          "set masked_up_to to at least clear_up_to, or leave it out")
        return self

    @property
    def masked_limit(self) -> int:
        return self.masked_up_to if self.masked_up_to is not None else self.clear_up_to

    def covers(self, qualified_name: str) -> bool:
        return any(fnmatch.fnmatchcase(qualified_name, pattern) for pattern in self.tables)


class Principal(_Model):
    """A person, service account or application that acts on the lakehouse."""

    id: Text = Field(description="the principal's id, e.g. li.na or svc.t1_batch")
    kind: Literal["person", "service", "application"]
    name: Text
    roles: list[Text] = Field(min_length=1, description="names of roles in this file")


class IncompatibleDuty(_Model):
    """Two roles no principal may hold together, and why."""

    roles: tuple[Text, Text]
    reason: Text


class SecurityRegistry(_Model):
    """The content of ``security.yaml``."""

    default_principal: Text = Field(description="the principal of local use when none is given "
                                                "(--as or LAKEHOUSE_PRINCIPAL)")
    service_principal: Text = Field(description="the principal the scheduled batch acts as (Airflow tasks)")
    roles: list[Role]
    principals: list[Principal]
    incompatible_duties: list[IncompatibleDuty] = []
