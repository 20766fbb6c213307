"""What the server knows and keeps up to date: the services' states, the API keys in force, the
serving copies, who sees which column how, and the protections (limits, breakers, statistics,
audit journal). A background thread refreshes it; calls only read it."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from lakehouse.config.project import SERVICES_FILE
from lakehouse.config.service_contracts import ServiceContract
from lakehouse.engine import delta_rs
from lakehouse.errors import first_line
from lakehouse.governance.records import ServiceCallsRecord, spec_of
from lakehouse.layers.model_tables import model_spec
from lakehouse.security.access import AccessRefused, Clearance, clearance
from lakehouse.security.audit import AccessedColumn
from lakehouse.security.at_rest import reading_key
from lakehouse.security.column_levels import table_levels, table_masks
from lakehouse.security.guarded_query import ColumnRead, refusal
from lakehouse.security.masking import DEFAULT_RULE, MaskRule
from lakehouse.services import lifecycle
from lakehouse.services.api_keys import KeyRing
from lakehouse.services.audit_journal import AuditJournal
from lakehouse.services.call_stats import CallStats
from lakehouse.services.limits import CircuitBreaker, RateLimiter
from lakehouse.services.registry import ServiceRegistry
from lakehouse.services.serving_copy import ServingCopy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class View:
    """How one principal sees one service's output: the masked columns with their rules, and
    the columns read with their levels (for the audit record)."""

    clearance: Clearance
    masked: dict[str, MaskRule]
    objects: tuple[AccessedColumn, ...]

    @property
    def result(self) -> str:
        return "masked" if self.masked else "allowed"


@dataclass(frozen=True)
class Timings:
    refresh_seconds: float = 5.0  # how often lifecycle, keys and tables are looked at
    audit_seconds: float = 0.2  # how often the audit journal is committed
    stats_seconds: float = 60.0  # the call statistics' window


class Runtime:
    """The live state of ``lakehouse serve`` for ``project``."""

    def __init__(self, project, timings: Timings = Timings()):
        self.project, self.timings = project, timings
        delta_rs.use_parquet_key(lambda: reading_key(project))  # Spark writes its files encrypted
        self.registry = ServiceRegistry(project)
        self.levels, self.masks = table_levels(project), table_masks(project)
        self.paths = {f"{m.layer}.{m.name}": model_spec(project, m).path for m in project.models.values()}
        self.contracts: dict[str, ServiceContract] = {}  # as registered, of the version served
        self.copies: dict[str, ServingCopy] = {}
        self.states: dict[str, lifecycle.ServiceState] = {}
        self.keys = KeyRing([])
        self.limiter, self.stats = RateLimiter(), CallStats()
        self.breakers: dict[str, CircuitBreaker] = {}
        self.journal = AuditJournal(project.settings.root)
        self.copy_errors: dict[str, str] = {}
        self._views: dict[tuple[str, str], View | AccessRefused] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading (calls) ----------------------------------------------------------------------
    def contract(self, name: str) -> ServiceContract | None:
        """The contract of the version of ``name`` callers reach, as it was registered."""
        return self.contracts.get(name)

    def published(self) -> list[ServiceContract]:
        """The contracts callers reach: their version published or deprecated."""
        return [self.contracts[name] for name, s in sorted(self.states.items())
                if s.state in ("published", "deprecated") and name in self.contracts]

    def view(self, service: str, principal: str) -> View:
        """How ``principal`` sees ``service``; raises ``AccessRefused`` naming why it may not."""
        contract = self.contracts[service]
        key = (service, contract.version, principal)
        if key not in self._views:
            self._views[key] = self._view(contract, principal)
        found = self._views[key]
        if isinstance(found, AccessRefused):
            raise found
        return found

    def _view(self, contract: ServiceContract, principal: str) -> View | AccessRefused:
        seen = clearance(self.project, principal)
        table, levels = contract.table, self.levels.get(contract.table, {})
        columns = list(dict.fromkeys([*contract.query.output, *(p.matches for p in contract.query.parameters)]))
        reads = [ColumnRead(table, c, levels.get(c, 5), seen.access(table, levels.get(c, 5))) for c in columns]
        if principal not in contract.consumers:
            return AccessRefused(f"{principal} is not a consumer of service {contract.name}", [
                _not_consumer(contract, principal, self.project.conf_dir / SERVICES_FILE)], reads, [table])
        if not seen.may("query", table):
            return refusal([], seen, "query", self.project, reads, [table])
        refused = [r for r in reads if r.access == "refused"]
        if refused:
            return refusal(refused, seen, "query", self.project, reads)
        rules = self.masks.get(table, {})
        masked = {r.column: rules.get(r.column, DEFAULT_RULE) for r in reads if r.access == "masked"}
        return View(seen, masked, tuple(AccessedColumn(r.table, r.column, r.level) for r in reads))

    # -- refreshing ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Look at the lifecycle, the keys and every published service's table once."""
        try:
            states = lifecycle.serving(self.registry.events())
            self.keys = KeyRing(self.registry.key_records())
        except Exception as exc:  # noqa: BLE001 - keep serving what is known; readiness says so
            log.warning("services: lifecycle or keys unreadable: %s", first_line(exc))
        else:
            self._follow(states)
        for contract in self.published():
            try:
                if self.copies[contract.name].refresh():
                    log.info("services: %s now serves data date %s", contract.name,
                             self.copies[contract.name].snapshot.data_date)
                self.copy_errors.pop(contract.name, None)
            except Exception as exc:  # noqa: BLE001 - the old copy keeps serving
                self.copy_errors[contract.name] = first_line(exc)
                self.breakers[contract.name].failed()

    def _follow(self, states: dict[str, lifecycle.ServiceState]) -> None:
        """Serve the versions ``states`` name, each by its contract as registered; a serving copy
        is made anew when the version served changes."""
        for name, state in states.items():
            contract = state.contract()
            if contract is None or contract.table not in self.paths:
                self.copy_errors[name] = (f"the registered contract of {name} v{state.version} is "
                                          "unreadable or names a table this project does not have")
                continue
            served = self.contracts.get(name)
            if served is None or served.version != contract.version:
                self.copies[name] = ServingCopy(self.paths[contract.table],
                                                [p.matches for p in contract.query.parameters],
                                                contract.query.output)
                self.breakers.setdefault(name, CircuitBreaker())
                self.contracts[name] = contract
        self.states = {name: state for name, state in states.items() if name in self.contracts}

    def write_stats(self) -> None:
        records = self.stats.close_window()
        if records:
            delta_rs.append(spec_of(ServiceCallsRecord, self.project.settings.root),
                            [r.as_row() for r in records])

    def ready(self) -> tuple[bool, dict]:
        """Ready when every published service has a copy loaded and the audit keeps up."""
        services = {c.name: (str(s.data_date) if (s := self.copies[c.name].snapshot) else None)
                    for c in self.published()}
        problems = [f"{n}: no serving copy ({self.copy_errors.get(n, 'not loaded yet')})"
                    for n, d in services.items() if d is None]
        if self.journal.last_error:
            problems.append(f"audit: {self.journal.last_error}")
        return not problems, {"services": services, "audit_backlog": self.journal.backlog,
                              "problems": problems}

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="services-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.journal.close()
        self.write_stats()

    def _loop(self) -> None:
        due = {"refresh": time.monotonic() + self.timings.refresh_seconds,
               "stats": time.monotonic() + self.timings.stats_seconds}
        while not self._stop.wait(self.timings.audit_seconds):
            self.journal.commit()
            now = time.monotonic()
            if now >= due["refresh"]:
                self.refresh()
                due["refresh"] = now + self.timings.refresh_seconds
            if now >= due["stats"]:
                try:
                    self.write_stats()
                except Exception as exc:  # noqa: BLE001 - the next window carries on
                    log.warning("services: call statistics not written: %s", first_line(exc))
                due["stats"] = now + self.timings.stats_seconds


def _not_consumer(contract: ServiceContract, principal: str, where):
    from lakehouse.errors import Problem

    return Problem(f"principal {principal} is not among the consumers of service {contract.name} "
                   f"({', '.join(contract.consumers)})", file=str(where), key=f"{contract.name}.consumers",
                   fix=f"ask the service's owner {contract.owner} to add {principal} to its consumers "
                       "(a new version of the contract, approved and published)")
