"""Parse a delivered extract into typed rows, quarantining malformed rows with their line.

File-level problems (undecodable bytes, an empty file, a header that does not match the
contract, unknown JSON fields, a Parquet schema that drifted) raise ``DeliveryError``. Row-level
problems (wrong field count, a value that does not fit its type, broken JSON) reject that row
only; it is kept with its line number, reason and raw text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.errors import DeliveryError, Problem
from lakehouse.ingestion.text_values import BadValue, arrow_type, converter, decimal_or_none

MAX_LISTED = 20


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str
    raw: str
    key: tuple | None = None  # the row's key where it could still be read


@dataclass
class ParsedExtract:
    """Typed good rows (column-wise), their source lines, and the rejected rows."""

    file: str
    columns: dict[str, list]
    lines: list[int]
    rejected: list[RejectedRow] = field(default_factory=list)
    amount_total: Decimal | None = None
    amount_unreadable: int = 0  # rejected rows whose amount could not be read at all

    @property
    def rows_loaded(self) -> int:
        return len(self.lines)

    @property
    def rows_in(self) -> int:
        return len(self.lines) + len(self.rejected)

    def to_arrow(self, types: dict[str, str]) -> pa.Table:
        return pa.table({name: pa.array(values, arrow_type(types[name]))
                         for name, values in self.columns.items()})


def parse_extract(path: Path, contract) -> ParsedExtract:
    """Read ``path`` as the contract's delivery declares it."""
    delivery = contract.delivery
    if delivery.format == "parquet":
        return _parse_parquet(path, contract)
    data = path.read_bytes()
    if not data.strip():
        raise DeliveryError(
            f"delivery {path} is empty",
            [Problem("the file has no content", str(path), fix="ask the source system to "
                     "redeliver the extract; an empty file is never loaded")],
        )
    text = _decode(data, delivery.encoding, str(path))
    if delivery.format == "csv":
        records = _csv_records(text, contract, str(path))
    elif delivery.format == "json":
        records = _json_records(text, contract, str(path))
    else:
        records = _fixed_width_records(data, contract, str(path))
    return _typed(records, contract, str(path))


def _decode(data: bytes, encoding: str, file: str) -> str:
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        bad_lines = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                raw.decode(codec if number == 1 else encoding)
            except UnicodeDecodeError as line_exc:
                bad_lines.append((number, line_exc))
        problems = [
            Problem(
                f"bytes {raw_bytes(e)} are not valid {encoding}",
                file,
                line=number,
                column=e.start + 1,
                fix=f"deliver the file in {encoding}, or declare the encoding it really has "
                "(delivery.encoding: utf-8 or gbk) in the contract",
            )
            for number, e in bad_lines[:MAX_LISTED]
        ]
        more = len(bad_lines) - len(problems)
        summary = f"delivery {file} is not valid {encoding} ({len(bad_lines)} lines affected"
        summary += f", first {MAX_LISTED} listed)" if more > 0 else ")"
        raise DeliveryError(summary, problems) from exc


def raw_bytes(exc: UnicodeDecodeError) -> str:
    return " ".join(f"0x{b:02X}" for b in exc.object[exc.start : exc.end])


# A record is (line number, raw text, values or a rejection reason).
Record = tuple[int, str, "list[str | None] | dict | str"]


def _lines(text: str, first: int = 1) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.split("\n"), start=first):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def _csv_records(text: str, contract, file: str) -> Iterator[Record]:
    delivery = contract.delivery
    names = [a.name for a in contract.attributes]
    lines = _lines(text)
    if delivery.header:
        first = next(lines, None)
        if first is None:
            return
        header = [h.strip() for h in _split(first[1], delivery)]
        if header != names:
            raise DeliveryError(
                f"delivery {file} does not match the contract's columns", _header_problems(
                    header, names, file, first[0], contract)
            )
    expected = len(names)
    for number, line in lines:
        try:
            fields = _split(line, delivery)
        except csv.Error as exc:
            yield number, line, f"malformed CSV: {exc}"
            continue
        if len(fields) != expected:
            yield number, line, f"has {len(fields)} fields, expected {expected}"
            continue
        yield number, line, fields


def _split(line: str, delivery) -> list[str]:
    if delivery.quote not in line:
        return line.split(delivery.delimiter)
    return next(csv.reader((line,), delimiter=delivery.delimiter, quotechar=delivery.quote,
                           strict=True))


def _header_problems(header, names, file, line, contract) -> list[Problem]:
    source = str(getattr(contract, "source_file", None) or "the contract")
    problems = []
    missing = [n for n in names if n not in header]
    extra = [h for h in header if h not in names]
    for name in missing:
        problems.append(Problem(f"column {name!r} is missing from the header", file, line,
                                fix=f"deliver column {name!r} or remove it from {source}"))
    for name in extra:
        problems.append(Problem(
            f"column {name!r} is not in the contract (schema drift)", file, line,
            column=header.index(name) + 1,
            fix=f"declare {name!r} in {source} (a new nullable attribute) or stop delivering it"))
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
            yield number, line, f"malformed JSON at column {exc.colno}: {exc.msg}"
            continue
        if not isinstance(obj, dict):
            yield number, line, "a JSON line must be an object"
            continue
        for key in obj.keys() - names:
            unknown.setdefault(key, number)
        if unknown:
            continue
        yield number, line, obj
    if unknown:
        source = str(getattr(contract, "source_file", None) or "the contract")
        raise DeliveryError(
            f"delivery {file} has fields the contract does not declare (schema drift)",
            [Problem(f"field {key!r} is not in the contract", file, line, column=key,
                     fix=f"declare {key!r} in {source} (a new nullable attribute) or stop "
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
            yield number, text, f"record is {len(raw)} bytes, expected {total}"
            continue
        fields, start = [], 0
        try:
            for width in widths:
                fields.append(raw[start : start + width].decode(encoding).strip())
                start += width
        except UnicodeDecodeError:
            yield number, text, f"a multi-byte character is split at byte {start + 1}: misaligned"
            continue
        yield number, text, fields


def _typed(records: Iterator[Record], contract, file: str) -> ParsedExtract:
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
    amount_total = Decimal(0)
    unreadable = 0
    key_indexes = [names.index(k) for k in contract.keys]
    for number, raw, values in records:
        if isinstance(values, str):
            rejected.append(RejectedRow(number, values, raw))
            unreadable += 1
            continue
        if isinstance(values, dict):
            values = [_json_text(values.get(n)) for n in names]
        if amount_index is not None:
            amount = decimal_or_none(values[amount_index])
            if amount is not None:
                amount_total += amount
            elif values[amount_index] not in (None, ""):
                unreadable += 1
        typed, reason = [], None
        for index, value in enumerate(values):
            if value is None or value == "":
                typed.append(None)
                continue
            try:
                typed.append(convert[index](value))
            except BadValue as exc:
                reason = f"column {index + 1} ({names[index]}): {exc}"
                break
        if reason:
            rejected.append(RejectedRow(number, reason, raw, _key_of(values, key_indexes, convert)))
            continue
        for column, value in zip(target_columns, typed):
            column.append(value)
        lines.append(number)
    if amount_index is None:
        return ParsedExtract(file, columns, lines, rejected)
    return ParsedExtract(file, columns, lines, rejected, amount_total, unreadable)


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


def _parse_parquet(path: Path, contract) -> ParsedExtract:
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
        amount = sum((Decimal(str(v)) for v in columns[names[index]] if v is not None), Decimal(0))
    return ParsedExtract(file, columns, list(range(1, table.num_rows + 1)), [], amount)
