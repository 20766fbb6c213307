"""Parse a delivered extract into typed rows, quarantining malformed rows with their line.

File-level problems (undecodable bytes, an empty file, a header that does not match the
contract, a delimiter ending every line, unknown JSON fields, a Parquet schema that drifted)
raise ``DeliveryError``. Row-level problems (wrong field count, a value that does not fit its
type, broken JSON) reject that row only; it is kept with its line number, reason and raw text.
A CSV record may span lines (a quoted line break): its line is the one it starts on, and its
reason names its record number where that differs from the line.

Values of the masked columns (security level 3 and above) never appear in clear in what leaves
the parser for messages: a reason names the column and shows the value masked, and a rejected
row's ``shown`` is its line with those values masked in the delivery's layout (None when the
line cannot be split into the declared fields, so it cannot be masked).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.errors import DeliveryError, Problem
from lakehouse.ingestion.csv_records import csv_records
from lakehouse.ingestion.decoding import MAX_LISTED, decode, shown, without_bom
from lakehouse.ingestion.fixed_width_records import multi_record_fixed_width
from lakehouse.ingestion.text_values import BadValue, arrow_type, converter, exact_sum
from lakehouse.ingestion.xml_records import xml_records
from lakehouse.security.masking import Masked, masked_columns, masked_value


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str  # masked values only
    raw: str  # the record as delivered: never shown or stored in clear
    key: tuple | None = None  # the row's key where it could still be read
    shown: str | None = None  # ``raw`` with the masked columns masked; None if it cannot be split


@dataclass
class ParsedExtract:
    """Typed good rows (column-wise), their source lines, and the rejected rows."""

    file: str
    columns: dict[str, list]
    lines: list[int]
    rejected: list[RejectedRow] = field(default_factory=list)
    amount_total: Decimal | None = None
    amount_unreadable: int = 0  # rejected rows whose amount is unreadable or does not fit its type
    masked: Masked = field(default_factory=dict)  # the columns whose values are shown masked

    @property
    def rows_loaded(self) -> int:
        return len(self.lines)

    @property
    def rows_in(self) -> int:
        return len(self.lines) + len(self.rejected)

    def to_arrow(self, types: dict[str, str]) -> pa.Table:
        return pa.table({name: pa.array(values, arrow_type(types[name]))
                         for name, values in self.columns.items()})


def parse_extract(path: Path, contract, masked: Masked | None = None) -> ParsedExtract:
    """Read ``path`` as the contract's delivery declares it. ``masked``: the columns whose values
    are shown masked, column -> rule (``masked_attributes``); by default the contract's
    attributes of level 3 and above, with the default rule."""
    delivery = contract.delivery
    if masked is None:
        masked = masked_columns({a.name: a.security_level for a in contract.attributes})
    if delivery.format == "parquet":
        return _parse_parquet(path, contract, masked)
    file = str(path)
    delivered = path.read_bytes()
    data = without_bom(delivered, delivery.encoding, file)
    if not data.strip():
        raise DeliveryError(
            f"delivery {path} is empty",
            [Problem("the file has no content", file, fix="ask the source system to "
                     "redeliver the extract; an empty file is never loaded")],
        )
    text = decode(delivered, delivery.encoding, file)
    if delivery.format == "csv":
        records = _csv_records(text, contract, file)
    elif delivery.format == "json":
        records = _json_records(text, contract, file)
    elif delivery.format == "xml":
        records = xml_records(data, contract, file)
    elif delivery.format == "fixed-width-multi":
        records = multi_record_fixed_width(data, contract, file)
    else:
        records = _fixed_width_records(data, contract, file)
    return _typed(records, contract, file, masked)


# A record is (line number, record number, raw text, values or a rejection reason).
Record = tuple[int, int, str, "list[str | None] | dict | str"]


def _lines(text: str, first: int = 1) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.split("\n"), start=first):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def _csv_records(text: str, contract, file: str) -> Iterator[Record]:
    delivery = contract.delivery
    names = [a.name for a in contract.attributes]
    expected = len(names)
    records = csv_records(text, delivery.delimiter, delivery.quote)
    first = next(records, None)
    if first is None:
        return
    line, _, _, fields = first
    problems = []
    trailing = isinstance(fields, list) and _trailing_delimiter(fields, expected, text, delivery)
    if trailing:
        problems.append(_trailing_problem(file, line, expected, delivery, contract))
        fields = fields[:-1]
    if delivery.header:
        header = [h.strip() for h in fields] if isinstance(fields, list) else None
        if header != names:
            problems += _header_problems(header, names, file, line, contract, fields)
    else:
        records = _chain(first, records)
    if problems:
        summary = (f"every line of delivery {file} ends with the delimiter {delivery.delimiter!r}"
                   if trailing and len(problems) == 1
                   else f"delivery {file} does not match the contract's columns")
        raise DeliveryError(summary, problems)
    for line, number, raw, fields in records:
        if isinstance(fields, str):
            yield line, number, raw, fields
        elif len(fields) != expected:
            reason = f"has {len(fields)} fields, expected {expected}"
            if len(fields) == expected + 1 and fields[-1] == "":
                reason += f" (the line ends with the delimiter {delivery.delimiter!r})"
            yield line, number, raw, reason
        else:
            yield line, number, raw, fields


def _chain(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest


def _trailing_delimiter(fields: list[str], expected: int, text: str, delivery) -> bool:
    """Every line ends with the delimiter: read as one more, empty, column."""
    if len(fields) != expected + 1 or fields[-1] != "":
        return False
    return all(line.rstrip("\r").endswith(delivery.delimiter) for line in text.split("\n")
               if line.strip())


def _trailing_problem(file: str, line: int, expected: int, delivery, contract) -> Problem:
    source = str(getattr(contract, "source_file", None) or "the contract")
    return Problem(
        f"every line ends with the delimiter {delivery.delimiter!r}, which reads as an empty "
        f"column {expected + 1} after the {expected} the contract declares", file, line,
        column=expected + 1, fix=f"drop the trailing delimiter from every line; the columns "
        f"declared in {source} are right")


def _header_problems(header, names, file, line, contract, malformed=None) -> list[Problem]:
    source = str(getattr(contract, "source_file", None) or "the contract")
    if header is None:
        return [Problem(f"the header cannot be read: {malformed}", file, line,
                        fix="deliver a header line of the declared column names")]
    problems = []
    missing = [n for n in names if n not in header]
    extra = [(column, h) for column, h in enumerate(header, start=1) if h not in names]
    for name in missing:
        problems.append(Problem(f"column {name!r} is missing from the header", file, line,
                                fix=f"deliver column {name!r} or remove it from {source}"))
    for column, name in extra:
        if not name:
            fix = f"name the column and declare it in {source}, or stop delivering it"
            if column == len(header):
                fix = f"drop the delimiter that ends the header line, or {fix}"
            problems.append(Problem(f"column {column} of the header has no name", file, line,
                                    column=column, fix=fix))
            continue
        problems.append(Problem(
            f"column {shown(name)} is not in the contract (schema drift)", file, line,
            column=column,
            fix=f"declare {shown(name)} in {source} (a new nullable attribute) or stop delivering it"))
    if not missing and not extra:
        problems.append(Problem(
            f"columns are in the order {header}, the contract declares {names}", file, line,
            fix="deliver the columns in the declared order"))
    return problems


def _json_records(text: str, contract, file: str) -> Iterator[Record]:
    names = {a.name for a in contract.attributes}
    unknown: dict[str, int] = {}
    for number, line in _lines(text):
        try:
            obj = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            yield number, number, line, f"malformed JSON at column {exc.colno}: {exc.msg}"
            continue
        if not isinstance(obj, dict):
            yield number, number, line, "a JSON line must be an object"
            continue
        for key in obj.keys() - names:
            unknown.setdefault(key, number)
        if unknown:
            continue
        yield number, number, line, obj
    if unknown:
        source = str(getattr(contract, "source_file", None) or "the contract")
        raise DeliveryError(
            f"delivery {file} has fields the contract does not declare (schema drift)",
            [Problem(f"field {shown(key)} is not in the contract", file, line, column=key,
                     fix=f"declare {shown(key)} in {source} (a new nullable attribute) or stop "
                     "delivering it") for key, line in sorted(unknown.items(), key=lambda x: x[1])],
        )


def _fixed_width_records(data: bytes, contract, file: str) -> Iterator[Record]:
    encoding = contract.delivery.encoding
    widths = [a.width for a in contract.attributes]
    total = sum(widths)
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        text = raw.decode(encoding, errors="replace")
        if len(raw) != total:
            yield number, number, text, f"record is {len(raw)} bytes, expected {total}"
            continue
        fields, start = [], 0
        try:
            for width in widths:
                fields.append(raw[start : start + width].decode(encoding).strip())
                start += width
        except UnicodeDecodeError:
            yield number, number, text, f"a multi-byte character is split at byte {start + 1}: misaligned"
            continue
        yield number, number, text, fields


def _typed(records: Iterator[Record], contract, file: str, masked: Masked) -> ParsedExtract:
    delivery = contract.delivery
    attrs = contract.attributes
    names = [a.name for a in attrs]
    convert = [
        converter(a.spark_type, a.format or delivery.date_format, a.format or delivery.timestamp_format)
        for a in attrs
    ]
    columns: dict[str, list] = {n: [] for n in names}
    target_columns = [columns[n] for n in names]
    lines: list[int] = []
    rejected: list[RejectedRow] = []
    amount_index = _amount_index(contract)
    amounts: list = []  # the amount column's values that fit its type, rejected rows' included
    unreadable = 0  # rows whose amount is unknown: unreadable, or not fitting the type
    key_indexes = [names.index(k) for k in contract.keys]
    for line, number, raw, values in records:
        if isinstance(values, str):
            rejected.append(RejectedRow(line, _at(line, number, values), raw,
                                        shown=None if masked else raw))
            unreadable += 1
            continue
        record = values
        if isinstance(values, dict):
            values = [_json_text(values.get(n)) for n in names]
        if amount_index is not None and values[amount_index] not in (None, ""):
            try:
                amounts.append(convert[amount_index](values[amount_index]))
            except BadValue:
                unreadable += 1
        typed, reason = [], None
        for index, value in enumerate(values):
            if value is None or value == "":
                typed.append(None)
                continue
            try:
                typed.append(convert[index](value))
            except BadValue as exc:
                about = exc.showing(masked_value(masked, names[index], value))
                reason = f"column {index + 1} ({names[index]}): {about}"
                break
        if reason:
            rejected.append(RejectedRow(line, _at(line, number, reason), raw,
                                        _key_of(values, key_indexes, convert),
                                        _masked_line(contract, raw, record, masked)))
            continue
        for column, value in zip(target_columns, typed):
            column.append(value)
        lines.append(line)
    if amount_index is None:
        return ParsedExtract(file, columns, lines, rejected, masked=masked)
    total = exact_sum(amounts, attrs[amount_index].spark_type)
    return ParsedExtract(file, columns, lines, rejected, total, unreadable, masked)


def _masked_line(contract, raw: str, record: list[str] | dict, masked: Masked) -> str:
    """``raw``, split into ``record`` (its fields, or its JSON object), with the values of the
    ``masked`` columns masked, in the delivery's layout: the delimiter (quoting a field that
    needs it), the fixed widths (a masked value in place of the value, its field's bytes
    padded), or JSON."""
    delivery = contract.delivery
    if not masked:
        return raw
    if delivery.format in ("xml", "fixed-width-multi"):
        return None  # not re-laid out masked: shown as the reason and key only
    if isinstance(record, dict):
        return json.dumps({k: masked_value(masked, k, v) for k, v in record.items()},
                          ensure_ascii=False, default=str)
    if delivery.format == "fixed-width":
        data, start, parts = raw.encode(delivery.encoding), 0, []
        for attribute, value in zip(contract.attributes, record):
            part = data[start:start + attribute.width]
            if attribute.name in masked and value:  # in place of the value, padding kept
                text = part.decode(delivery.encoding).replace(
                    value, masked_value(masked, attribute.name, value), 1)
                part = text.encode(delivery.encoding).ljust(attribute.width)
            parts.append(part)
            start += attribute.width
        return b"".join(parts).decode(delivery.encoding)
    quote, special = delivery.quote, (delivery.delimiter, delivery.quote, "\n", "\r")
    fields = [masked_value(masked, a.name, value) for a, value in zip(contract.attributes, record)]
    return delivery.delimiter.join(
        quote + f.replace(quote, quote * 2) + quote if quote and any(c in f for c in special) else f
        for f in fields)


def _at(line: int, number: int, reason: str) -> str:
    """``reason`` naming the record where its number is not its line (after a record that
    spans lines)."""
    return reason if number == line else f"record {number}: {reason}"


def _key_of(values: list, indexes: list[int], convert: list) -> tuple | None:
    try:
        key = tuple(convert[i](values[i]) for i in indexes if values[i] not in (None, ""))
    except BadValue:
        return None
    return key if key and len(key) == len(indexes) else None


def _json_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _amount_index(contract) -> int | None:
    control = contract.delivery.control
    if control is None or not control.amount_column:
        return None
    return [a.name for a in contract.attributes].index(control.amount_column)


def _parse_parquet(path: Path, contract, masked: Masked) -> ParsedExtract:
    file = str(path)
    if path.stat().st_size == 0:
        raise DeliveryError(f"delivery {path} is empty", [Problem(
            "the file has no content", file, fix="ask the source system to redeliver")])
    try:
        table = pq.read_table(path)
    except pa.ArrowInvalid as exc:
        raise DeliveryError(f"delivery {path} is not a readable Parquet file", [Problem(
            str(exc), file, fix="redeliver the file as Parquet or fix delivery.format")]) from None
    names = [a.name for a in contract.attributes]
    if table.column_names != names:
        raise DeliveryError(f"delivery {file} does not match the contract's columns",
                            _header_problems(table.column_names, names, file, None, contract))
    columns = {}
    for attr in contract.attributes:
        values = table.column(attr.name)
        try:
            columns[attr.name] = values.cast(arrow_type(attr.spark_type)).to_pylist()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DeliveryError(f"delivery {file} has a column of the wrong type", [Problem(
                f"column {attr.name!r} is {values.type}, the contract declares {attr.type}: {exc}",
                file, column=attr.name, fix="deliver the declared type or correct the contract",
            )]) from None
    amount = None
    index = _amount_index(contract)
    if index is not None:
        amount = exact_sum(columns[names[index]], contract.attributes[index].spark_type)
    return ParsedExtract(file, columns, list(range(1, table.num_rows + 1)), [], amount,
                         masked=masked)
