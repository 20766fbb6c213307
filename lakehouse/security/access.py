"""Who is asking and what they may see: a principal's clearance from its roles (security.yaml)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from lakehouse.config.security_registry import Principal, Role
from lakehouse.errors import ConfigError, Problem, TerminalError

PRINCIPAL_VARIABLE = "LAKEHOUSE_PRINCIPAL"
Access = Literal["clear", "masked", "refused"]


class AccessRefused(TerminalError):
    """The principal may not read what was asked for; the message says how to get access.
    ``reads``: the columns the query reads (``ColumnRead``); ``tables``: the tables no role of
    the principal covers (what the audit records of a refusal)."""

    def __init__(self, summary: str, problems: list[Problem], reads=(), tables=()):
        super().__init__(summary, problems)
        self.reads, self.tables = list(reads), list(tables)


@dataclass(frozen=True)
class Clearance:
    """A principal and its roles: per table and security level, clear, masked or refused."""

    principal: Principal
    roles: tuple[Role, ...]

    @property
    def role_names(self) -> str:
        return ", ".join(r.name for r in self.roles)

    def may(self, operation: str, table: str | None = None) -> bool:
        return any(operation in r.operations and (table is None or r.covers(table)) for r in self.roles)

    def require(self, operation: str, action: str, project, table: str | None = None) -> None:
        """Raise ``AccessRefused`` unless a role of the principal grants ``operation`` (on
        ``table``, when given): ``action`` says what was attempted, e.g. "load deliveries"."""
        if self.may(operation, table):
            return
        granting = [r.name for r in project.security.roles
                    if operation in r.operations and (table is None or r.covers(table))]
        on = f" on {table}" if table else ""
        who = self.principal.id
        raise AccessRefused(f"{who} may not {action}", [Problem(
            f"{action} needs the {operation} operation{on}; principal {who} holds roles "
            f"{self.role_names}", key=f"{project.conf_dir / 'security.yaml'}: operations",
            fix=(f"act as a principal with a role that grants it ({', '.join(granting)}), or ask "
                 "the security administrator for one" if granting
                 else f"no role grants {operation}{on}; ask the security administrator"))])

    def access(self, table: str, level: int, operation: str = "query") -> Access:
        """The most any of the principal's roles that cover ``table`` for ``operation`` allows."""
        granting = [r for r in self.roles if operation in r.operations and r.covers(table)]
        if any(level <= r.clear_up_to for r in granting):
            return "clear"
        if any(level <= r.masked_limit for r in granting):
            return "masked"
        return "refused"

    def how_to_get(self, table: str, level: int, operation: str, project) -> str:
        """Which roles would grant ``table`` at ``level``, to name in a refusal."""
        granting = [r.name for r in project.security.roles
                    if operation in r.operations and r.covers(table) and level <= r.masked_limit]
        if not granting:
            return f"no role grants {operation} on {table} at level {level}; ask the security administrator"
        return (f"ask the security administrator for a role that grants it ({', '.join(granting)}) "
                "in security.yaml")


def clearance(project, principal_id: str | None = None) -> Clearance:
    """The clearance of ``principal_id``, else of $LAKEHOUSE_PRINCIPAL, else of the configured
    default principal; an unknown principal is a ``ConfigError`` naming the known ones."""
    registry = project.security
    chosen = principal_id or os.environ.get(PRINCIPAL_VARIABLE) or registry.default_principal
    principals = {p.id: p for p in registry.principals}
    if chosen not in principals:
        where = ("--as" if principal_id else PRINCIPAL_VARIABLE if os.environ.get(PRINCIPAL_VARIABLE)
                 else "default_principal")
        raise ConfigError(f"unknown principal {chosen!r}", [Problem(
            f"principal {chosen!r} is not registered in {project.conf_dir / 'security.yaml'}",
            key=where, value=chosen, fix=f"act as one of: {', '.join(principals)}")])
    roles = {r.name: r for r in registry.roles}
    principal = principals[chosen]
    return Clearance(principal, tuple(roles[name] for name in principal.roles))
