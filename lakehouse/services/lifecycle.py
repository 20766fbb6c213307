"""The life of a data service (6.2.4.3): draft -> approved -> published -> deprecated -> retired.

Each step is a ``governance.service_events`` record naming who took it and when. A contract is
registered (a draft) by a principal whose role grants ``manage``; approved by the service's owner,
who must not be the one who registered it (incompatible duties: author and approver); published
and retired by a ``manage`` principal or the owner. A new version of a contract starts as a draft
while the published one keeps serving; publishing it deprecates nothing by itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from lakehouse.config.service_contracts import ServiceContract
from lakehouse.errors import Problem, TerminalError
from lakehouse.governance.records import ServiceEventsRecord

STATES = ("draft", "approved", "published", "deprecated", "retired")
_STATE_OF_EVENT = {"registered": "draft", "approved": "approved", "published": "published",
                   "deprecated": "deprecated", "retired": "retired"}
_ALLOWED_FROM = {"approved": ("draft",), "published": ("approved", "deprecated"),
                 "deprecated": ("published",), "retired": ("draft", "approved", "published", "deprecated")}


class LifecycleRefused(TerminalError):
    """A lifecycle step that may not be taken now, or not by this principal."""


def contract_hash(contract: ServiceContract) -> str:
    """SHA-256 of the contract's canonical JSON (what is approved is exactly what is published)."""
    text = json.dumps(contract.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ServiceState:
    """Where one version of a service stands, and its history, oldest first."""

    service: str
    version: int
    state: str
    history: tuple[ServiceEventsRecord, ...]

    @property
    def registered_by(self) -> str | None:
        return next((e.by for e in self.history if e.event == "registered"), None)

    @property
    def contract_hash(self) -> str | None:
        return next((e.contract_hash for e in self.history if e.event == "registered"), None)

    def contract(self) -> ServiceContract | None:
        """The contract as registered (what was approved and published), None if unreadable."""
        text = next((e.contract_json for e in self.history if e.event == "registered"), None)
        try:
            return None if text is None else ServiceContract.model_validate(json.loads(text))
        except ValueError:
            return None


def states(events: Iterable[ServiceEventsRecord]) -> dict[tuple[str, int], ServiceState]:
    """(service, version) -> its state, from the events in the order they were taken."""
    history: dict[tuple[str, int], list[ServiceEventsRecord]] = {}
    for event in sorted(events, key=lambda e: e.at):
        history.setdefault((event.service, event.version), []).append(event)
    return {key: ServiceState(*key, _STATE_OF_EVENT[found[-1].event], tuple(found))
            for key, found in history.items()}


def serving(events: Iterable[ServiceEventsRecord]) -> dict[str, ServiceState]:
    """Per service, the version callers reach: the newest published (or deprecated) one; else,
    when every version is retired, the newest retired one (answered 410 Gone)."""
    found: dict[str, ServiceState] = {}
    for (service, version), state in sorted(states(events).items()):
        current = found.get(service)
        live = state.state in ("published", "deprecated")
        if live or current is None or current.state not in ("published", "deprecated"):
            if live or state.state == "retired":
                found[service] = state
    return found


def next_event(contract: ServiceContract, event: str, by: str, events: Iterable[ServiceEventsRecord],
               may_manage: bool, reason: str = "", now: datetime | None = None) -> ServiceEventsRecord:
    """The record of ``by`` taking step ``event`` (registered, approved, published, deprecated,
    retired) on ``contract``; raises ``LifecycleRefused`` naming why and what to do instead.
    ``may_manage``: whether a role of ``by`` grants the ``manage`` operation."""
    key = (contract.name, contract.version)
    current = states(events).get(key)
    digest = contract_hash(contract)
    where = f"{contract.name} v{contract.version}"
    if event == "registered":
        if not may_manage:
            raise _refused(f"{by} may not register services", "registering needs the manage "
                           "operation", "act as a principal whose role grants manage (e.g. a data engineer)")
        if current is not None and current.contract_hash != digest:
            raise _refused(f"{where} is already registered with other content",
                           f"{where} was registered by {current.registered_by} with another contract",
                           f"raise version in {contract.source_file or 'services.yaml'} to "
                           f"{contract.version + 1} and register that")
        if current is not None:
            raise _refused(f"{where} is already registered", f"{where} is {current.state}",
                           "nothing to do; approve or publish it")
    else:
        if current is None:
            raise _refused(f"{where} is not registered", f"no registration of {where}",
                           f"run `lakehouse service register {contract.name}` first")
        if current.contract_hash != digest:
            raise _refused(f"{where} changed since it was registered",
                           f"services.yaml's {where} differs from the one registered by "
                           f"{current.registered_by}", "restore the registered content, or raise "
                           "the version and register it again")
        if current.state not in _ALLOWED_FROM[event]:
            raise _refused(f"{where} cannot be {event}: it is {current.state}",
                           f"{event} follows {' or '.join(_ALLOWED_FROM[event])}",
                           _what_next(contract.name, current.state))
        if event == "approved":
            if by == current.registered_by:
                raise _refused(f"{by} may not approve {where}: they registered it",
                               "the author of a service and its approver are incompatible duties",
                               f"have the owner {contract.owner} approve it")
            if by != contract.owner:
                raise _refused(f"{by} may not approve {where}", f"only the service's owner "
                               f"({contract.owner}) approves it", f"act as {contract.owner}")
        elif not (may_manage or by == contract.owner):
            raise _refused(f"{by} may not {event[:-1] if event.endswith('ed') else event} {where}",
                           f"{event} needs the manage operation or the service's ownership",
                           f"act as {contract.owner} or a principal whose role grants manage")
    return ServiceEventsRecord(
        service=contract.name, version=contract.version, event=event, by=by,
        at=now or datetime.now(timezone.utc), contract_hash=digest,
        contract_json=json.dumps(contract.model_dump(mode="json"), ensure_ascii=False)
        if event == "registered" else None, reason=reason or None)


def _what_next(service: str, state: str) -> str:
    return {"draft": f"have the owner approve it: lakehouse service approve {service}",
            "approved": f"publish it: lakehouse service publish {service}",
            "published": f"it is live; retire it with lakehouse service retire {service}",
            "deprecated": f"publish it again or retire it: lakehouse service retire {service}",
            "retired": "a retired version stays retired; register a new version"}[state]


def _refused(summary: str, message: str, fix: str) -> LifecycleRefused:
    return LifecycleRefused(summary, [Problem(message, key="service", fix=fix)])
