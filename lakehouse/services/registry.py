"""The services of a project and where each stands: contracts from ``services.yaml``, lifecycle
events and API keys from governance (read and written without Spark)."""

from __future__ import annotations

from lakehouse.engine import delta_rs
from lakehouse.errors import ConfigError, Problem
from lakehouse.governance.records import ServiceEventsRecord, ServiceKeysRecord, spec_of
from lakehouse.services import lifecycle

EVENTS = ("registered", "approved", "published", "deprecated", "retired")


class ServiceRegistry:
    """The data services of ``project``, its lakehouse at ``project.settings.root``."""

    def __init__(self, project):
        self.project, self.root = project, project.settings.root

    def contract(self, name: str):
        services = self.project.services
        if name not in services:
            raise ConfigError(f"unknown service {name!r}", [Problem(
                f"no service {name!r} in {self.project.conf_dir / 'services.yaml'}", key="service",
                value=name, fix=f"name one of: {', '.join(services) or '(none declared)'}")])
        return services[name]

    def events(self) -> list[ServiceEventsRecord]:
        spec = spec_of(ServiceEventsRecord, self.root)
        return [ServiceEventsRecord.from_row(r) for r in delta_rs.rows(spec.path)]

    def take(self, name: str, event: str, clearance, reason: str = "") -> ServiceEventsRecord:
        """``clearance``'s principal takes lifecycle step ``event`` on service ``name``."""
        record = lifecycle.next_event(self.contract(name), event, clearance.principal.id,
                                      self.events(), clearance.may("manage"), reason)
        delta_rs.append(spec_of(ServiceEventsRecord, self.root), [record.as_row()])
        return record

    def overview(self) -> list[dict]:
        """One row per declared service: its contract's version, owner and grade, the state of
        that version, and the last step taken on it (who, when)."""
        found = lifecycle.states(self.events())
        rows = []
        for contract in self.project.services.values():
            state = found.get((contract.name, contract.version))
            last = state.history[-1] if state else None
            rows.append({"service": contract.name, "version": contract.version,
                         "owner": contract.owner, "grade": contract.grade, "table": contract.table,
                         "state": state.state if state else "unregistered",
                         "last_step": f"{last.event} by {last.by}" if last else "",
                         "at": last.at.isoformat(timespec="seconds") if last else ""})
        return rows

    def key_records(self) -> list[ServiceKeysRecord]:
        spec = spec_of(ServiceKeysRecord, self.root)
        return [ServiceKeysRecord.from_row(r) for r in delta_rs.rows(spec.path)]
