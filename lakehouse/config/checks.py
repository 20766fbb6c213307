"""Checks that span several keys or files, run on plain (already parsed) YAML data.

Each check looks only at values that are well-typed; malformed values are reported by the
models, so a file with many mistakes still gets every other check.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath

from pydantic import TypeAdapter, ValidationError

from .attribute_types import try_parse_type
from .findings import Finding, did_you_mean, one_of
from .incremental_extracts import incremental_findings
from .realtime_feeds import feed_findings
from .record_layouts import layout_findings

FORMATS = ("csv", "json", "parquet", "fixed-width", "xml", "fixed-width-multi")
KEYED_LOAD_TYPES = ("snapshot", "zipper")
AMOUNT_KINDS = ("integer", "decimal")
_BOOL = TypeAdapter(bool)

Attributes = list[tuple[int, Mapping]]


def contract_findings(contract: Mapping) -> list[Finding]:
    """Contract-level rules: keys, duplicate attributes, widths, the control amount column."""
    attributes = _attributes(contract)
    delivery = contract.get("delivery")
    delivery = delivery if isinstance(delivery, Mapping) else {}
    return [
        *_delivered_somehow(contract),
        *_duplicate_attributes(attributes),
        *_key_findings(contract, attributes),
        *_width_findings(delivery, attributes),
        *_amount_findings(delivery, attributes),
        *feed_findings(contract),
        *incremental_findings(contract),
        *layout_findings(contract),
    ]


def _delivered_somehow(contract: Mapping) -> list[Finding]:
    """A contract declares its T-1 extract (``delivery``), its real-time feed, or both."""
    if contract.get("delivery") is not None or contract.get("realtime") is not None:
        return []
    return [Finding(("delivery",), "the contract declares neither a T-1 extract (delivery) nor a "
                    "real-time feed (realtime)", None,
                    "add delivery: {format: csv, path: ...} for the daily extract, or a realtime "
                    "block for its feed (see README, Real-time zone)")]


def attribute_findings(attribute: Mapping) -> list[Finding]:
    """Attribute-level rules that involve more than one key of the attribute."""
    fmt = attribute.get("format")
    kind = try_parse_type(attribute.get("type"))
    if fmt is not None and kind is not None and kind.kind not in ("date", "timestamp"):
        return [
            Finding(
                ("format",),
                f"format is only allowed on date and timestamp attributes, not on {kind}",
                fmt,
                "remove it (delivery date_format and timestamp_format apply to all other attributes)",
            )
        ]
    return []


def all_contract_findings(contract: Mapping) -> list[Finding]:
    """Contract-level and every attribute's findings, located from the contract's root."""
    findings = contract_findings(contract)
    for index, attribute in _attributes(contract) or []:
        findings += [f.under("attributes", index) for f in attribute_findings(attribute)]
    return findings


def placement_findings(
    contract: Mapping, relative: PurePath, registered: set[str] | None, systems_file: str
) -> list[Finding]:
    """The contract's system is registered and its file sits at ``sources/<system>/<entity>.yaml``."""
    system, entity = contract.get("system"), contract.get("entity")
    findings = []
    if isinstance(system, str) and registered is not None and system not in registered:
        findings.append(
            Finding(
                ("system",),
                f"system '{system}' is not registered in systems.yaml",
                system,
                f"register it in {systems_file} or use one of: "
                f"{one_of(sorted(registered))}{did_you_mean(system, registered)}",
            )
        )
    if isinstance(system, str) and isinstance(entity, str):
        expected = (system, f"{entity}.yaml")
        if tuple(relative.parts) != expected:
            wrong = "system" if relative.parts[:1] != (system,) else "entity"
            findings.append(
                Finding(
                    (wrong,),
                    f"contract {system}.{entity} must be in sources/{'/'.join(expected)}, "
                    f"not sources/{relative.as_posix()}",
                    contract.get(wrong),
                    "move the file there, or correct system and entity",
                )
            )
    return findings


def _attributes(contract: Mapping) -> Attributes | None:
    attributes = contract.get("attributes")
    if not isinstance(attributes, list):
        return None
    return [(i, a) for i, a in enumerate(attributes) if isinstance(a, Mapping)]


def _names(attributes: Attributes | None) -> dict[str, Mapping]:
    names: dict[str, Mapping] = {}
    for _, attribute in attributes or []:
        name = attribute.get("name")
        if isinstance(name, str):
            names.setdefault(name, attribute)
    return names


def _index(attributes: Attributes, wanted: Mapping) -> int:
    return next(i for i, a in attributes if a is wanted)


def _duplicate_attributes(attributes: Attributes | None) -> list[Finding]:
    first: dict[str, int] = {}
    findings = []
    for index, attribute in attributes or []:
        name = attribute.get("name")
        if not isinstance(name, str):
            continue
        if name in first:
            findings.append(
                Finding(
                    ("attributes", index, "name"),
                    f"duplicate attribute name '{name}'",
                    name,
                    f"rename or remove it: attributes[{first[name]}] already uses this name",
                )
            )
        first.setdefault(name, index)
    return findings


def _key_findings(contract: Mapping, attributes: Attributes | None) -> list[Finding]:
    load_type, keys = contract.get("load_type"), contract.get("keys")
    findings = []
    if load_type in KEYED_LOAD_TYPES and keys in (None, []):
        findings.append(
            Finding(
                ("keys",),
                f"a {load_type} source needs at least one key",
                keys,
                "list the attributes that identify a row, e.g. keys: [customer_id]",
            )
        )
    if not isinstance(keys, list) or attributes is None:
        return findings
    names = _names(attributes)
    for position, key in enumerate(keys):
        if not isinstance(key, str):
            continue
        if key in keys[:position]:
            findings.append(Finding(("keys", position), f"key '{key}' is listed twice", key, "remove the repeat"))
        elif key not in names:
            findings.append(
                Finding(
                    ("keys", position),
                    f"key '{key}' is not an attribute",
                    key,
                    f"use one of the attribute names: {one_of(names)}{did_you_mean(key, names)}",
                )
            )
        elif _nullable(names[key]):
            findings.append(
                Finding(
                    ("attributes", _index(attributes, names[key]), "nullable"),
                    f"key attribute '{key}' must have nullable: false",
                    names[key].get("nullable", True),
                    f"set 'nullable: false' on attribute '{key}'",
                )
            )
    return findings


def _nullable(attribute: Mapping) -> bool:
    try:
        return _BOOL.validate_python(attribute.get("nullable", True))
    except ValidationError:
        return False


def _width_findings(delivery: Mapping, attributes: Attributes | None) -> list[Finding]:
    fmt = delivery.get("format")
    if fmt not in FORMATS:
        return []
    encoding = delivery.get("encoding", "utf-8")
    findings = []
    for index, attribute in attributes or []:
        width = attribute.get("width")
        name = attribute.get("name", f"attributes[{index}]")
        if fmt == "fixed-width" and width is None:
            findings.append(
                Finding(
                    ("attributes", index, "width"),
                    f"attribute '{name}' needs a width for fixed-width delivery",
                    None,
                    f"add 'width: <n>', the field's length in bytes in {encoding}",
                )
            )
        elif fmt != "fixed-width" and width is not None:
            findings.append(
                Finding(
                    ("attributes", index, "width"),
                    f"width is only allowed for fixed-width delivery, not {fmt}",
                    width,
                    "remove it, or set delivery.format: fixed-width",
                )
            )
    return findings


def _amount_findings(delivery: Mapping, attributes: Attributes | None) -> list[Finding]:
    control = delivery.get("control")
    column = control.get("amount_column") if isinstance(control, Mapping) else None
    if not isinstance(column, str) or attributes is None:
        return []
    names = _names(attributes)
    numeric = [n for n, a in names.items() if getattr(try_parse_type(a.get("type")), "kind", None) in AMOUNT_KINDS]
    fix = (
        f"use an integer or decimal attribute: {one_of(numeric)}{did_you_mean(column, numeric)}"
        if numeric
        else "declare an integer or decimal attribute for the amount, or remove amount_column"
    )
    loc = ("delivery", "control", "amount_column")
    if column not in names:
        return [Finding(loc, f"amount_column '{column}' is not an attribute", column, fix)]
    kind = try_parse_type(names[column].get("type"))
    if kind is not None and kind.kind not in AMOUNT_KINDS:
        return [Finding(loc, f"amount_column '{column}' must be an integer or decimal attribute, not {kind}", column, fix)]
    return []
