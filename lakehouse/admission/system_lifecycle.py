"""Certification events of source systems: appended to ``systems.yaml`` and to the governance log;
and the public key that verifies a system's signed deliveries, registered in ``systems.yaml``.

The YAML keeps the whole history (comments and layout preserved), so the past is never
edited away; ``governance.system_events`` records who recorded which event and when.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from lakehouse.governance.records import SystemEventsRecord
from lakehouse.governance.store import GovernanceStore
from lakehouse.config import Project, load_project
from lakehouse.config.findings import did_you_mean, one_of
from lakehouse.config.project import SYSTEMS_FILE
from lakehouse.config.registries import DECERTIFICATION_REASONS
from lakehouse.errors import ConfigError, Problem


def decertify(project: Project, engine, code: str, reason: str, effective: date, by: str,
              replaced_by: str | None = None, note: str = "") -> dict:
    """Record that system ``code`` stops being certified on ``effective``; returns the event."""
    path = project.file(SYSTEMS_FILE)
    problems = _problems(project, code, reason, effective, replaced_by, path)
    if problems:
        raise ConfigError(f"cannot decertify system {code!r}", problems)
    event = {"event": "decertified", "date": effective, "by": by, "reason": reason}
    if replaced_by:
        event["replaced_by"] = replaced_by
    if note:
        event["note"] = note
    _append_event(path, code, event)
    GovernanceStore(engine, project.settings.root).append([SystemEventsRecord(
        system=code, event="decertified", effective_date=effective, reason=reason,
        replaced_by=replaced_by, decided_by=by, note=note or None,
        recorded_at=datetime.now(),
    )])
    return event


def _problems(project: Project, code: str, reason: str, effective: date, replaced_by: str | None,
              path: Path) -> list[Problem]:
    systems = project.systems
    if code not in systems:
        return [Problem(f"system '{code}' is not registered", str(path), value=code,
                        fix=f"use one of: {one_of(systems)}{did_you_mean(code, systems)}")]
    problems = []
    if reason not in DECERTIFICATION_REASONS:
        problems.append(Problem(f"reason '{reason}' is not one of {one_of(DECERTIFICATION_REASONS)}",
                                key="--reason", value=reason,
                                fix=f"use --reason {' | '.join(DECERTIFICATION_REASONS)}"))
    if replaced_by is not None and (replaced_by not in systems or replaced_by == code):
        problems.append(Problem(f"replacing system '{replaced_by}' must be another registered system",
                                str(path), key="--replaced-by", value=replaced_by,
                                fix=f"register it in {path} first, or use one of: "
                                    f"{one_of(c for c in systems if c != code)}"))
    latest = systems[code].certification[-1]
    if latest.event == "decertified":
        problems.append(Problem(f"system '{code}' is already decertified since {latest.date}",
                                str(path), value=code, fix="nothing to do"))
    elif effective < latest.date:
        problems.append(Problem(f"the decertification date {effective} is before the latest event "
                                f"({latest.event} on {latest.date})", key="--date",
                                value=effective.isoformat(), fix=f"use a date on or after {latest.date}"))
    return problems


def register_public_key(project: Project, code: str, public_key: str) -> None:
    """Register ``public_key`` (PEM or base64 raw Ed25519) as the key that verifies system
    ``code``'s signed deliveries, in ``systems.yaml`` and in ``project``."""
    path = project.file(SYSTEMS_FILE)
    if code not in project.systems:
        raise ConfigError(f"cannot register a public key for system {code!r}", [Problem(
            f"system '{code}' is not registered", str(path), value=code,
            fix=f"use one of: {one_of(project.systems)}{did_you_mean(code, project.systems)}")])
    _edit_system(path, code, lambda system: system.__setitem__("public_key", public_key))
    project.systems[code] = project.systems[code].model_copy(update={"public_key": public_key})


def _append_event(path: Path, code: str, event: dict) -> None:
    """Append ``event`` to the system's certification list, keeping the file's comments."""
    _edit_system(path, code, lambda system: system["certification"].append(CommentedMap(event)))


def _edit_system(path: Path, code: str, change) -> None:
    """Apply ``change`` to the system's mapping in ``path``, keeping the file's comments; the
    file is restored when the result is not a valid project."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    original = path.read_text(encoding="utf-8")
    tree = yaml.load(original)
    change(next(s for s in tree["systems"] if s.get("code") == code))
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(tree, out)
    try:
        load_project(path.parent)
    except ConfigError:
        path.write_text(original, encoding="utf-8")
        raise
