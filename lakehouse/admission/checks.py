"""The six admission checks of 6.2.4.1 and the decision they add up to.

owner, standard, source, classification and metadata are static: they look at the contract
and the registries (and, for a delivery, at the data date and the registered contract).
quality is measured on each delivery. A delivery is admitted only when all six pass; the
decision, with every check's evidence, is appended to ``governance.admission_log``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from lakehouse.governance.records import AdmissionLogRecord, ProblemRecord
from lakehouse.config import Project, SourceContract
from lakehouse.config.attribute_types import AttributeType
from lakehouse.config.findings import did_you_mean, key_path
from lakehouse.config.project import CLASSIFICATION_FILE, OWNERS_FILE, STANDARDS_FILE, SYSTEMS_FILE
from lakehouse.errors import Problem, TerminalError
from lakehouse.security.masking import Masked

CHECKS = ("owner", "standard", "source", "classification", "quality", "metadata")
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass
class CheckResult:
    """One admission check: its status, what it looked at, and what must be fixed."""

    check: str
    status: str
    evidence: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass(frozen=True)
class Registered:
    """The latest registration of a source: the contract version deliveries are admitted under."""

    source: str
    version: int
    content_hash: str
    registered_at: datetime


def _result(check: str, problems: list[Problem], evidence: dict) -> CheckResult:
    return CheckResult(check, FAILED if problems else PASSED, evidence, problems)


def _at(contract: SourceContract, *loc: str | int, **problem) -> Problem:
    """A problem located at key path ``loc`` of the contract's file."""
    return Problem(file=str(contract.source_file or contract.name), line=contract.line_of(*loc),
                   key=key_path(loc) or None, **problem)


def check_owner(project: Project, contract: SourceContract) -> CheckResult:
    owner = project.owners.get(contract.owner)
    if owner is None:
        return _result("owner", [_at(
            contract, "owner", message=f"owner '{contract.owner}' is not in the owners registry",
            value=contract.owner,
            fix=f"register '{contract.owner}' in {project.file(OWNERS_FILE)}, or name a registered "
                f"owner{did_you_mean(contract.owner, project.owners)}")], {"owner": contract.owner})
    department = project.departments.get(owner.department)
    return _result("owner", [], {"owner": owner.id, "name": owner.name,
                                 "department": department.name if department else owner.department})


def type_fits(physical: AttributeType, standard: AttributeType) -> bool:
    """Every value of the physical type is a value of the standard's type."""
    if physical.kind == "integer" and standard.kind == "decimal":
        return standard.scale == 0
    if physical.kind != standard.kind:
        return False
    if physical.kind == "decimal":
        return (physical.scale <= standard.scale
                and physical.precision - physical.scale <= standard.precision - standard.scale)
    return True


def check_standard(project: Project, contract: SourceContract) -> CheckResult:
    problems, followed = [], {}
    standards_file = project.file(STANDARDS_FILE)
    for index, attribute in enumerate(contract.attributes):
        loc = ("attributes", index, "standard")
        standard = project.standards.get(attribute.standard)
        if standard is None:
            problems.append(_at(
                contract, *loc, value=attribute.standard,
                message=f"attribute '{attribute.name}' references standard '{attribute.standard}', "
                        "which is not in the data standards",
                fix=f"use a standard from {standards_file}"
                    f"{did_you_mean(attribute.standard, project.standards)}, or have the standard "
                    "published there first"))
            continue
        if standard.status != "published":
            problems.append(_at(
                contract, *loc, value=attribute.standard,
                message=f"attribute '{attribute.name}' references standard {standard.id}, which is "
                        f"{standard.status}, not published",
                fix=f"use a published standard, or publish {standard.id} in {standards_file}"))
            continue
        if not type_fits(attribute.parsed_type, standard.parsed_type):
            problems.append(_at(
                contract, "attributes", index, "type", value=attribute.type,
                message=f"attribute '{attribute.name}' has type {attribute.type}, which does not fit "
                        f"its standard {standard.id} ({standard.name.zh}, {standard.type_text})",
                fix=f"declare the type as {standard.data_type} (or narrower), or reference the "
                    "standard this attribute really follows"))
            continue
        followed[attribute.name] = standard.id
    return _result("standard", problems, {"standards": followed})


def check_source(project: Project, contract: SourceContract, data_date: date) -> CheckResult:
    system = project.systems[contract.system]
    event = system.event_on(data_date)
    evidence = {"system": system.code, "data_date": data_date.isoformat(),
                "event": event.event if event else None,
                "since": event.date.isoformat() if event else None}
    systems_file = project.file(SYSTEMS_FILE)
    if event is None:
        first = system.certification[0].date
        return _result("source", [_at(
            contract, "system", value=system.code,
            message=f"system {system.code} ({system.name}) is not certified on {data_date}: it is "
                    f"certified from {first}",
            fix=f"deliver data dates from {first} on, or correct the certification date in "
                f"{systems_file}")], evidence)
    if event.event == "decertified":
        replaced = project.systems.get(event.replaced_by) if event.replaced_by else None
        instead = (f"; it is replaced by {replaced.code} ({replaced.name})" if replaced
                   else "; no system replaces it")
        fix = (f"deliver this data from {replaced.code}: register the contract as "
               f"sources/{replaced.code}/{contract.entity}.yaml" if replaced
               else f"find the certified source of this data, or recertify {system.code} in "
                    f"{systems_file}")
        return _result("source", [_at(
            contract, "system", value=system.code,
            message=f"system {system.code} ({system.name}) was decertified on {event.date} "
                    f"({event.reason}) and may not deliver data for {data_date}{instead}",
            fix=fix)], {**evidence, "reason": event.reason, "replaced_by": event.replaced_by})
    return _result("source", [], evidence)


def check_classification(project: Project, contract: SourceContract) -> CheckResult:
    problems, levels = [], {}
    classification = project.classification
    for index, attribute in enumerate(contract.attributes):
        levels[attribute.name] = attribute.security_level
        standard = project.standards.get(attribute.standard)
        category = attribute.pi_category or (standard.pi_category if standard else None)
        floor, because = 1, ""
        if standard is not None and standard.min_security_level > floor:
            floor, because = standard.min_security_level, f"its standard {standard.id} requires"
        known = classification.category(category) if category else None
        if category and known is None:
            problems.append(_at(
                contract, "attributes", index, "pi_category", value=category,
                message=f"attribute '{attribute.name}' has personal information category "
                        f"{category}, which classification.yaml does not define",
                fix=f"use a category defined in {project.file(CLASSIFICATION_FILE)}"))
        elif known is not None and known.min_security_level > floor:
            floor, because = known.min_security_level, f"{category} personal information requires"
        if attribute.security_level < floor:
            problems.append(_at(
                contract, "attributes", index, "security_level", value=attribute.security_level,
                message=f"attribute '{attribute.name}' has security level "
                        f"{attribute.security_level}; {because} at least {floor}",
                fix=f"set security_level: {floor} or higher (levels are defined in "
                    f"{project.file(CLASSIFICATION_FILE)})"))
    table_level = contract.table_level
    return _result("classification", problems, {
        "table_level": table_level, "level_name": classification.level(table_level).name,
        "attributes": levels})


def check_metadata(contract: SourceContract, registered: Registered | None,
                   require_registration: bool) -> CheckResult:
    """Business metadata is declared and, for a delivery, registered for this contract version."""
    problems = []
    if contract.business_name is None:
        problems.append(_at(
            contract, message=f"{contract.name} has no business name for its logical entity",
            fix="add 'business_name: {zh: ..., en: ...}' naming the entity the table holds"))
    if not contract.description.strip():
        problems.append(_at(contract, message=f"{contract.name} has no description",
                            fix="add 'description: ...' saying what one row is and how it is "
                                "delivered"))
    evidence = {"entity": contract.business_name.model_dump() if contract.business_name else None,
                "columns": len(contract.attributes), "contract_hash": contract.content_hash}
    if require_registration:
        register = f"run `lakehouse source register {contract.source_file or contract.name}`"
        if registered is None:
            problems.append(_at(
                contract, message=f"{contract.name} is not registered, so its metadata is not in "
                                  "the catalog", fix=register))
        elif registered.content_hash != contract.content_hash:
            problems.append(_at(
                contract, message=f"{contract.name} has changed since its registration as version "
                                  f"{registered.version} on {registered.registered_at:%Y-%m-%d %H:%M}",
                fix=f"{register} to register the change (or revert the contract)"))
        if registered is not None:
            evidence["registration_version"] = registered.version
    return _result("metadata", problems, evidence)


def static_checks(project: Project, contract: SourceContract, data_date: date,
                  registered: Registered | None = None, require_registration: bool = True
                  ) -> dict[str, CheckResult]:
    """Checks 1-4 and 6, keyed by check name."""
    return {
        "owner": check_owner(project, contract),
        "standard": check_standard(project, contract),
        "source": check_source(project, contract, data_date),
        "classification": check_classification(project, contract),
        "metadata": check_metadata(contract, registered, require_registration),
    }


def check_quality(profile: dict | None, blocking: list[Problem]) -> CheckResult:
    """The delivery's measured quality; it fails only on blocking problems (control totals,
    unusable keys, an unreadable file), never on measured defects alone."""
    if profile is None and not blocking:
        return CheckResult("quality", NOT_RUN, {}, [])
    return _result("quality", blocking, profile or {})


@dataclass
class Decision:
    """The admission decision on one delivery (or, for ``source check``, on a contract)."""

    source: str
    data_date: date
    contract_hash: str
    registration_version: int | None
    checks: dict[str, CheckResult]
    decided_at: datetime = field(default_factory=datetime.now)

    @property
    def admitted(self) -> bool:
        return all(self.checks[name].passed for name in CHECKS)

    @property
    def failed(self) -> list[CheckResult]:
        return [self.checks[name] for name in CHECKS if self.checks[name].status == FAILED]

    def log_records(self, run_id: str, file_name: str | None, masked: Masked = frozenset()
                    ) -> list[AdmissionLogRecord]:
        """One ``governance.admission_log`` record per check; problem values of the ``masked``
        columns (security level 3 and above; column -> rule, or names for the default rule) are
        stored masked."""
        outcome = "admitted" if self.admitted else "rejected"
        return [AdmissionLogRecord(
            run_id=run_id, source=self.source, data_date=self.data_date,
            file_name=file_name, contract_hash=self.contract_hash,
            registration_version=self.registration_version, decision=outcome,
            check_order=position, check_name=name, status=self.checks[name].status,
            evidence=json.dumps(self.checks[name].evidence, ensure_ascii=False, default=str),
            problems=[ProblemRecord.of(p, masked) for p in self.checks[name].problems],
            decided_at=self.decided_at,
        ) for position, name in enumerate(CHECKS, start=1)]

    def rejection(self, what: str) -> AdmissionRejected:
        names = ", ".join(c.check for c in self.failed)
        return AdmissionRejected(f"{what} was refused admission: {names} check"
                                 f"{'s' if len(self.failed) > 1 else ''} failed", self.failed)


class AdmissionRejected(TerminalError):
    """A delivery or registration failed admission; lists every failing check's problems."""

    def __init__(self, summary: str, failed: list[CheckResult]):
        self.failed = failed
        super().__init__(summary, [p for c in failed for p in c.problems])

    def render(self) -> str:
        lines = [self.summary]
        for check in getattr(self, "failed", []):
            lines.append(f"  {check.check}:")
            lines += [f"    - {p.render()}".replace("\n", "\n    ") for p in check.problems]
        return "\n".join(lines)
