"""How a delivery's records map to a contract's attributes beyond one flat line per row: XML
records (nested elements to one row each), multi-record fixed-width files (the record type
decides the layout) and change-data-capture files (an operation flag and a sequence number per
row, applied to a zipper table)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .findings import Finding, did_you_mean, invalid

_PATH_STEP = re.compile(r"^(?:[A-Za-z_][\w.\-]*:)?[A-Za-z_][\w.\-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_path(path: str, what: str) -> str:
    steps = path.split("/")
    *elements, last = steps
    if last.startswith("@"):
        last = last[1:]
    if not path or not all(_PATH_STEP.match(step) for step in [*elements, last]):
        raise invalid(f"{what} {path!r} is not an element path",
                      "write element names separated by '/', the last one may be '@attribute', "
                      "e.g. Customer/Name/C_L_NAME or Customer/@C_ID")
    return path


class XmlRecords(_Model):
    """One row per element at ``record_path``; each attribute read at its path in that element."""

    record_path: str = Field(description="element path from the document root to one record, "
                             "e.g. Actions/Action (namespace prefixes may be left out)")
    fields: dict[str, str] = Field(description="attribute -> path inside the record: "
                                   "Customer/Name/C_L_NAME, Customer/@C_ID or @ActionType")

    @field_validator("record_path")
    @classmethod
    def _record_path(cls, value: str) -> str:
        if value.split("/")[-1].startswith("@"):
            raise invalid("record_path must end at an element, not an attribute",
                          "drop the '@...' step; read attributes in fields")
        return _check_path(value, "record_path")

    @field_validator("fields")
    @classmethod
    def _field_paths(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value.values():
            _check_path(path, "field path")
        return value


class RecordType(_Model):
    """Where the record type sits in every record (1-based byte position and width)."""

    start: int = Field(ge=1, description="first byte of the record type, counting from 1")
    width: int = Field(gt=0, description="its length in bytes")


class RecordLayouts(_Model):
    """A fixed-width file whose records have several layouts, chosen by a record-type field."""

    record_type: RecordType
    layouts: dict[str, dict[str, int | None]] = Field(
        min_length=1, description="record type -> {attribute: width in bytes, in order}; the last "
        "attribute may have width null: it takes the rest of the record (a variable-length tail)")
    other_record_types: list[str] = Field(
        default_factory=list, description="record types in the same file that other contracts "
        "load: skipped here and counted; any other unknown type is quarantined")

    @field_validator("layouts")
    @classmethod
    def _widths(cls, value: dict[str, dict[str, int | None]]) -> dict[str, dict[str, int | None]]:
        for kind, layout in value.items():
            widths = list(layout.values())
            if not widths:
                raise invalid(f"layout {kind!r} has no fields", "list {attribute: width} pairs")
            if any(w is None for w in widths[:-1]):
                raise invalid(f"layout {kind!r}: only the last field may have width null",
                              "give every other field its width in bytes")
            if any(w is not None and w <= 0 for w in widths):
                raise invalid(f"layout {kind!r} has a width that is not positive",
                              "widths are lengths in bytes, 1 or more")
        return value


class ChangeCapture(_Model):
    """Each delivered row is a change: an operation flag and a sequence number that orders the
    changes to one key; the changes are applied to the zipper table, not a full snapshot."""

    operation_column: str = Field(description="the attribute holding the operation flag")
    sequence_column: str = Field(description="the attribute that orders changes (ascending)")
    insert: str = Field("I", description="the flag of an inserted row")
    update: str = Field("U", description="the flag of an updated row")
    delete: str | None = Field("D", description="the flag of a deleted row (closes the key)")
    effective_column: str | None = Field(
        None, description="a timestamp attribute when the change took effect (default: the data "
        "date); opens the new version and closes the one before")


def layout_findings(contract: Mapping) -> list[Finding]:
    """Attributes the XML fields, record layouts and change capture name must exist; every
    attribute must be read from somewhere."""
    delivery = contract.get("delivery")
    if not isinstance(delivery, Mapping):
        return []
    raw = contract.get("attributes")
    names = [a.get("name") for a in raw if isinstance(a, Mapping)] if isinstance(raw, list) else []
    known = set(names)
    fmt = delivery.get("format")
    findings: list[Finding] = []

    def unknown(loc: tuple, name: object, what: str) -> None:
        findings.append(Finding(loc, f"{what} {name!r} is not an attribute of the contract", name,
                                f"declare it under attributes or correct the name"
                                f"{did_you_mean(name, names)}"))

    xml, records, cdc = delivery.get("xml"), delivery.get("records"), delivery.get("cdc")
    if fmt == "xml" and not isinstance(xml, Mapping):
        findings.append(Finding(("delivery", "xml"), "an xml delivery needs delivery.xml", None,
                                "add xml: {record_path: ..., fields: {attribute: path}}"))
    if fmt != "xml" and xml is not None:
        findings.append(Finding(("delivery", "xml"), f"delivery.xml is only read for format xml, "
                                f"not {fmt}", None, "remove it, or set delivery.format: xml"))
    if fmt == "fixed-width-multi" and not isinstance(records, Mapping):
        findings.append(Finding(("delivery", "records"), "a fixed-width-multi delivery needs "
                                "delivery.records", None, "add records: {record_type: {start, "
                                "width}, layouts: {TYPE: {attribute: width}}}"))
    if fmt != "fixed-width-multi" and records is not None:
        findings.append(Finding(("delivery", "records"), f"delivery.records is only read for "
                                f"format fixed-width-multi, not {fmt}", None,
                                "remove it, or set delivery.format: fixed-width-multi"))
    if isinstance(xml, Mapping) and isinstance(xml.get("fields"), Mapping):
        fields = xml["fields"]
        for name in fields:
            if name not in known:
                unknown(("delivery", "xml", "fields", name), name, "field")
        for name in names:
            if name not in fields:
                findings.append(Finding(("delivery", "xml", "fields"), f"attribute {name!r} has "
                                        "no path in the XML record", None,
                                        f"add {name}: <path inside the record>"))
    if isinstance(records, Mapping) and isinstance(records.get("layouts"), Mapping):
        placed = set()
        for kind, layout in records["layouts"].items():
            for name in layout if isinstance(layout, Mapping) else ():
                placed.add(name)
                if name not in known:
                    unknown(("delivery", "records", "layouts", kind, name), name, "layout field")
        for name in names:
            if name not in placed:
                findings.append(Finding(("delivery", "records", "layouts"), f"attribute {name!r} "
                                        "is in no record layout", None,
                                        f"add {name}: <width> to the layout that carries it"))
    if isinstance(cdc, Mapping):
        if contract.get("load_type") != "zipper":
            findings.append(Finding(("load_type",), "change-data-capture deliveries are applied "
                                    "to zipper tables", contract.get("load_type"),
                                    "set load_type: zipper"))
        for key in ("operation_column", "sequence_column", "effective_column"):
            name = cdc.get(key)
            if isinstance(name, str) and name not in known:
                unknown(("delivery", "cdc", key), name, key.replace("_", " "))
    return findings
