"""A zipper source whose daily extract is incremental (6.3.1.1 c, incremental collection): it
carries only the rows the source system changed since the previous extract, found by their
update timestamp, instead of every row.

The contract names the attribute holding each row's last-update time and, optionally, how a
deletion is delivered (a flag column and the value that marks a deleted row). Without a delete
marker a key missing from an extract is unchanged, never closed.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from .attribute_types import try_parse_type
from .findings import Finding, did_you_mean, one_of

UPDATED_AT_KINDS = ("timestamp", "date")
FLAG_KINDS = ("string", "integer", "boolean")
_BOOL = TypeAdapter(bool)


class DeleteMarker(BaseModel):
    """How an incremental extract delivers a deleted row: a flag column and its value."""

    model_config = ConfigDict(extra="forbid")

    column: str = Field(description="the attribute flagging the row's operation, e.g. op")
    value: str = Field("D", description="the flag value of a deleted row (compared as text; "
                       "true for a boolean column)")

    @field_validator("value", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return value


class IncrementalExtract(BaseModel):
    """The daily extract holds the rows changed since the watermark, the newest update applied."""

    model_config = ConfigDict(extra="forbid")

    updated_at: str = Field(description="the timestamp or date attribute holding the row's "
                            "last-update time in the source system")
    deletes: DeleteMarker | None = Field(None, description="how a deletion is delivered; without "
                                         "it a key missing from an extract stays as it is")


def incremental_findings(contract: Mapping) -> list[Finding]:
    """Rules of a contract's ``incremental`` block that involve its load type, keys and
    attributes."""
    block = contract.get("incremental")
    if not isinstance(block, Mapping):
        return []
    findings: list[Finding] = []
    load_type = contract.get("load_type")
    if load_type != "zipper":
        findings.append(Finding(("incremental",), f"an incremental extract is applied to a zipper "
                                f"table, not a {load_type} table", load_type,
                                "set load_type: zipper, or remove incremental (a snapshot or append "
                                "load takes each delivery as it is)"))
    delivery = contract.get("delivery")
    if delivery is None:
        findings.append(Finding(("incremental",), "an incremental extract needs the T-1 extract "
                                "it describes, and the contract declares no delivery", None,
                                "add the delivery block, or remove incremental"))
    if isinstance(delivery, Mapping) and delivery.get("cdc") is not None:
        findings.append(Finding(("incremental",), "a delivery is either change rows "
                                "(delivery.cdc) or an incremental extract, not both", None,
                                "remove delivery.cdc, or remove incremental"))
    attributes = [(i, a) for i, a in enumerate(contract.get("attributes") or [])
                  if isinstance(a, Mapping) and isinstance(a.get("name"), str)]
    by_name: dict[str, tuple[int, Mapping]] = {}
    for index, attribute in attributes:
        by_name.setdefault(attribute["name"], (index, attribute))  # a repeat is reported elsewhere
    keys = {k for k in contract.get("keys") or [] if isinstance(k, str)}

    def kind(name: str) -> str | None:
        parsed = try_parse_type(by_name[name][1].get("type"))
        return parsed.kind if parsed is not None else None

    def of_kinds(kinds: tuple[str, ...]) -> str:
        return one_of(n for n in by_name if n not in keys and kind(n) in kinds) or "none declared"

    updated_at = block.get("updated_at")
    if isinstance(updated_at, str):
        loc = ("incremental", "updated_at")
        if updated_at not in by_name:
            findings.append(Finding(loc, f"updated_at {updated_at!r} is not an attribute of the "
                                    "contract", updated_at, "name the timestamp or date attribute "
                                    f"holding the row's last-update time: {of_kinds(UPDATED_AT_KINDS)}"
                                    f"{did_you_mean(updated_at, by_name)}"))
        elif updated_at in keys:
            findings.append(Finding(loc, f"updated_at {updated_at!r} is a key: a row's update time "
                                    "cannot identify it", updated_at,
                                    f"name a non-key timestamp or date attribute: "
                                    f"{of_kinds(UPDATED_AT_KINDS)}"))
        elif kind(updated_at) is not None and kind(updated_at) not in UPDATED_AT_KINDS:
            findings.append(Finding(loc, f"updated_at {updated_at!r} is a {kind(updated_at)}, not "
                                    "a timestamp or date", updated_at,
                                    f"name a timestamp or date attribute: "
                                    f"{of_kinds(UPDATED_AT_KINDS)}, or declare {updated_at} as "
                                    "type: timestamp"))
        elif _nullable(by_name[updated_at][1]):
            index = by_name[updated_at][0]
            findings.append(Finding(("attributes", index, "nullable"), f"updated_at attribute "
                                    f"{updated_at!r} must have nullable: false (a row without an "
                                    "update time cannot be placed against the watermark)",
                                    by_name[updated_at][1].get("nullable", True),
                                    f"set 'nullable: false' on attribute '{updated_at}'"))
    deletes = block.get("deletes")
    column = deletes.get("column") if isinstance(deletes, Mapping) else None
    if isinstance(column, str):
        loc = ("incremental", "deletes", "column")
        if column not in by_name:
            findings.append(Finding(loc, f"delete flag column {column!r} is not an attribute of "
                                    "the contract", column, "name the attribute flagging a "
                                    f"deleted row: {of_kinds(FLAG_KINDS)}{did_you_mean(column, by_name)}"))
        elif column in keys or column == updated_at:
            findings.append(Finding(loc, f"delete flag column {column!r} is "
                                    f"{'a key' if column in keys else 'the updated_at attribute'}",
                                    column, "name the attribute flagging a deleted row (an "
                                    f"operation flag such as op): {of_kinds(FLAG_KINDS)}"))
        elif kind(column) is not None and kind(column) not in FLAG_KINDS:
            findings.append(Finding(loc, f"delete flag column {column!r} is a {kind(column)}; a "
                                    "flag is a string, integer or boolean", column,
                                    f"name a string, integer or boolean attribute: {of_kinds(FLAG_KINDS)}"))
        elif kind(column) == "boolean" and str(deletes.get("value", "D")).lower() not in ("true", "false"):
            findings.append(Finding(("incremental", "deletes", "value"), f"delete flag column "
                                    f"{column!r} is a boolean, so its value cannot be "
                                    f"{deletes.get('value', 'D')!r}", deletes.get("value", "D"),
                                    "write value: true (or false, if false marks a deleted row)"))
    return findings


def _nullable(attribute: Mapping) -> bool:
    try:
        return _BOOL.validate_python(attribute.get("nullable", True))
    except ValidationError:
        return False  # not a boolean: the model reports it
