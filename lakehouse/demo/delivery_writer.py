"""Write extracts the way a source system delivers them (for the demo bank, tests, benchmarks)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.ingestion.text_values import arrow_type
from lakehouse.ingestion.transfer_signature import sign, transfer_message
from lakehouse.zones.storage import sha256_of


def write_delivery(contract, landing: Path, data_date: date, records: list[dict],
                   with_control: bool = True) -> Path:
    """Write ``records`` to the contract's delivery path (and its control file); return the path."""
    delivery = contract.delivery
    path = Path(landing) / delivery.data_path(data_date)
    path.parent.mkdir(parents=True, exist_ok=True)
    if delivery.format == "parquet":
        _write_parquet(contract, path, records)
    else:
        lines = {
            "csv": _csv_lines, "json": _json_lines, "fixed-width": _fixed_width_lines,
        }[delivery.format](contract, records)
        path.write_bytes(b"".join(line + b"\n" for line in lines))
    if with_control and delivery.control is not None:
        write_control(contract, landing, data_date, records)
    return path


def write_control(contract, landing: Path, data_date: date, records: list[dict],
                  row_count: int | None = None, amount_total: Decimal | None = None) -> Path:
    delivery = contract.delivery
    path = Path(landing) / delivery.control.control_path(data_date, delivery.path_date_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"data_date={data_date.strftime(delivery.path_date_format)}",
             f"row_count={len(records) if row_count is None else row_count}"]
    column = delivery.control.amount_column
    if column:
        if amount_total is None:
            amount_total = sum((Decimal(str(r[column])) for r in records
                                if r.get(column) is not None), Decimal(0))
        lines.append(f"amount_total={amount_total}")
    path.write_text("\n".join(lines) + "\n", encoding=delivery.encoding)
    return path


def sign_delivery(contract, landing: Path, data_date: date, private_key, data_file: Path | None = None
                  ) -> Path:
    """Add the data file's SHA-256 and the source system's Ed25519 signature to the delivery's
    control file, as a signing source system does (replacing any there); return the control
    file. ``data_file`` defaults to the delivery's declared path."""
    delivery = contract.delivery
    data_file = Path(data_file or Path(landing) / delivery.data_path(data_date))
    path = Path(landing) / delivery.control.control_path(data_date, delivery.path_date_format)
    sha = sha256_of(data_file)
    message = transfer_message(contract.system, contract.entity, data_file.name, data_date, sha)
    kept = [line for line in path.read_text(encoding=delivery.encoding).splitlines()
            if not line.startswith(("sha256=", "signature="))]
    lines = [*kept, f"sha256={sha}", f"signature={sign(private_key, message)}"]
    path.write_text("\n".join(lines) + "\n", encoding=delivery.encoding)
    return path


def format_value(value, attribute, delivery) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(attribute.format or delivery.timestamp_format)
    if isinstance(value, date):
        return value.strftime(attribute.format or delivery.date_format)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_lines(contract, records):
    delivery = contract.delivery
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delivery.delimiter, quotechar=delivery.quote,
                        lineterminator="\n")
    if delivery.header:
        writer.writerow([a.name for a in contract.attributes])
    for record in records:
        writer.writerow([format_value(record.get(a.name), a, delivery) for a in contract.attributes])
    text = buffer.getvalue()
    return [line.encode(delivery.encoding) for line in text.split("\n")[:-1]]


def _json_lines(contract, records):
    delivery = contract.delivery
    out = []
    for record in records:
        obj = {}
        for a in contract.attributes:
            value = record.get(a.name)
            if isinstance(value, (date, Decimal)):
                value = format_value(value, a, delivery)  # decimals travel as exact text
            obj[a.name] = value
        out.append(json.dumps(obj, ensure_ascii=False).encode(delivery.encoding))
    return out


def _fixed_width_lines(contract, records):
    delivery = contract.delivery
    out = []
    for record in records:
        fields = []
        for a in contract.attributes:
            raw = format_value(record.get(a.name), a, delivery).encode(delivery.encoding)
            if len(raw) > a.width:
                raise ValueError(f"{a.name}={record.get(a.name)!r} is wider than {a.width} bytes")
            fields.append(raw.rjust(a.width) if a.spark_type.startswith("decimal")
                          or a.spark_type == "bigint" else raw.ljust(a.width))
        out.append(b"".join(fields))
    return out


def _write_parquet(contract, path: Path, records: list[dict]) -> None:
    arrays = {}
    for a in contract.attributes:
        values = [r.get(a.name) for r in records]
        arrays[a.name] = pa.array(values, arrow_type(a.spark_type))
    pq.write_table(pa.table(arrays), path)
