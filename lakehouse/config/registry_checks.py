"""Integrity rules of the registries (owners, systems, standards, classification), on plain YAML data.

Like ``checks``, each rule looks only at well-typed values; the models report the rest. Rules
that refer to another registry get the set of names that registry defines (None when that
file could not be read, which silences them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .findings import Finding, did_you_mean, one_of

Names = set[str] | None


def _items(data: Mapping, list_key: str) -> Iterator[tuple[int, Mapping]]:
    items = data.get(list_key)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                yield index, item


def names(data: Mapping, list_key: str, field: str) -> Names:
    """The text values of ``field`` in the list ``list_key`` (None when the list is malformed)."""
    if not isinstance(data.get(list_key), list):
        return None
    return {str(item[field]) for _, item in _items(data, list_key) if isinstance(item.get(field), str | int)}


def _duplicates(data: Mapping, list_key: str, field: str, noun: str) -> list[Finding]:
    first: dict[str, int] = {}
    findings = []
    for index, item in _items(data, list_key):
        value = item.get(field)
        if not isinstance(value, str | int) or isinstance(value, bool):
            continue
        if value in first:
            findings.append(Finding((list_key, index, field), f"duplicate {noun} '{value}'", value,
                                    f"remove or rename it: {list_key}[{first[value]}] already uses it"))
        first.setdefault(value, index)
    return findings


def _reference(loc: tuple, value: object, known: Names, noun: str, where: str) -> list[Finding]:
    if not isinstance(value, str) or known is None or value in known:
        return []
    return [Finding(loc, f"{noun} '{value}' is not registered in {where}", value,
                    f"register it in {where} or use one of: {one_of(sorted(known))}"
                    f"{did_you_mean(value, known)}")]


def owners_findings(data: Mapping) -> list[Finding]:
    """Department codes and owner ids are unique; every owner's department exists."""
    departments = names(data, "departments", "code")
    findings = _duplicates(data, "departments", "code", "department code")
    findings += _duplicates(data, "owners", "id", "owner id")
    for index, owner in _items(data, "owners"):
        findings += _reference(("owners", index, "department"), owner.get("department"),
                               departments, "department", "the departments of owners.yaml")
    return findings


def systems_findings(data: Mapping, owners: Names) -> list[Finding]:
    """System codes are unique; owners are registered; a replacing system exists and is another;
    a system required to sign has a public key to verify its signatures with."""
    codes = names(data, "systems", "code")
    findings = _duplicates(data, "systems", "code", "system code")
    for index, system in _items(data, "systems"):
        if system.get("signing") == "required" and system.get("public_key") is None:
            findings.append(Finding(
                ("systems", index, "signing"), f"system '{system.get('code')}' is required to sign "
                "its deliveries but has no public_key to verify them with", "required",
                "register the system's Ed25519 public key under public_key, or set signing: optional"))
        findings += _reference(("systems", index, "owner"), system.get("owner"), owners,
                               "owner", "owners.yaml")
        events = system.get("certification")
        for position, event in enumerate(events if isinstance(events, list) else []):
            replaced_by = event.get("replaced_by") if isinstance(event, Mapping) else None
            loc = ("systems", index, "certification", position, "replaced_by")
            if replaced_by is not None and replaced_by == system.get("code"):
                findings.append(Finding(loc, "a system cannot be replaced by itself", replaced_by,
                                        "name the system that takes over, or remove replaced_by"))
            else:
                findings += _reference(loc, replaced_by, codes, "system", "systems.yaml")
    return findings


def classification_findings(data: Mapping) -> list[Finding]:
    return _duplicates(data, "personal_information_categories", "code", "category")


def category_levels(data: Mapping) -> dict[str, int] | None:
    """Personal information category -> its minimum security level (None when unreadable)."""
    if not isinstance(data.get("personal_information_categories"), list):
        return None
    return {item["code"]: item["min_security_level"]
            for _, item in _items(data, "personal_information_categories")
            if isinstance(item.get("code"), str) and isinstance(item.get("min_security_level"), int)}


def standards_findings(data: Mapping, owners: Names, categories: dict[str, int] | None) -> list[Finding]:
    """Standard ids are unique; owners and categories exist; a category's minimum level is kept."""
    findings = _duplicates(data, "standards", "id", "standard id")
    for index, standard in _items(data, "standards"):
        findings += _reference(("standards", index, "owner"), standard.get("owner"), owners,
                               "owner", "owners.yaml")
        category = standard.get("pi_category")
        if categories is None or not isinstance(category, str):
            continue
        findings += _reference(("standards", index, "pi_category"), category, set(categories),
                               "personal information category", "classification.yaml")
        level, floor = standard.get("min_security_level"), categories.get(category)
        if isinstance(level, int) and floor is not None and level < floor:
            findings.append(Finding(
                ("standards", index, "min_security_level"),
                f"min_security_level {level} is below {floor}, the minimum for {category} data",
                level, f"raise it to at least {floor} (classification.yaml), or change pi_category"))
    return findings


def security_findings(data: Mapping) -> list[Finding]:
    """Role names and principal ids are unique; every role named exists; the default and
    service principals are registered; no principal holds two roles that are incompatible."""
    roles = names(data, "roles", "name")
    principals = names(data, "principals", "id")
    findings = _duplicates(data, "roles", "name", "role")
    findings += _duplicates(data, "principals", "id", "principal")
    for key in ("default_principal", "service_principal"):
        findings += _reference((key,), data.get(key), principals, "principal",
                               "the principals of security.yaml")
    duties = []
    for index, duty in _items(data, "incompatible_duties"):
        pair = duty.get("roles")
        if isinstance(pair, list):
            for position, role in enumerate(pair):
                findings += _reference(("incompatible_duties", index, "roles", position), role, roles,
                                       "role", "the roles of security.yaml")
            if len(pair) == 2 and all(isinstance(r, str) for r in pair):
                duties.append((set(pair), str(duty.get("reason") or "")))
    for index, principal in _items(data, "principals"):
        held = principal.get("roles")
        if not isinstance(held, list):
            continue
        for position, role in enumerate(held):
            findings += _reference(("principals", index, "roles", position), role, roles,
                                   "role", "the roles of security.yaml")
        for pair, reason in duties:
            if pair <= set(held):
                first, second = sorted(pair)
                findings.append(Finding(
                    ("principals", index, "roles"),
                    f"principal '{principal.get('id')}' holds roles '{first}' and '{second}', which "
                    f"are incompatible duties ({reason})", held,
                    f"give '{principal.get('id')}' only one of them; another principal takes the other"))
    return findings
