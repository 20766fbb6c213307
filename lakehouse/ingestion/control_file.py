"""Control files: the row count and amount total a source system declares for a delivery.

Format, one ``key=value`` per line (blank lines and ``#`` comments ignored), in the delivery's
encoding (a leading UTF-8 byte-order mark is accepted, as on a data file)::

    data_date=20261125
    row_count=10342
    amount_total=1234567.89
    sha256=<SHA-256 of the data file, 64 hex digits>        (optional)
    signature=<the source system's Ed25519 signature, base64>  (optional)

``sha256`` and ``signature`` make a verified transfer: see ``transfer_signature`` for the
message signed and ``transfer_verification`` for the checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from lakehouse.errors import DeliveryError, Problem
from lakehouse.ingestion.decoding import decode, shown
from lakehouse.ingestion.text_values import decimal_or_none
from lakehouse.ingestion.transfer_signature import signature_from_text

KNOWN_KEYS = {"data_date", "row_count", "amount_total", "sha256", "signature"}
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class ControlTotals:
    file: str
    data_date: date | None
    row_count: int
    amount_total: Decimal | None
    sha256: str | None = None  # of the data file, lowercase hex
    signature: bytes | None = None  # the source system's, over ``transfer_signature.transfer_message``


def read_control_file(path: Path, encoding: str, date_format: str) -> ControlTotals:
    """Parse a control file; every malformed line is reported with its number."""
    problems: list[Problem] = []
    fix = ("write one key=value per line: data_date, row_count, (if declared) amount_total, and "
           "optionally sha256 and signature")
    text = decode(path.read_bytes(), encoding, str(path), "control file")
    values: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or key not in KNOWN_KEYS:
            problems.append(Problem(f"unexpected line {shown(stripped)}", str(path), number, fix=fix))
            continue
        values[key] = (number, value.strip())

    row_count = None
    if "row_count" not in values:
        problems.append(Problem("row_count is missing", str(path), fix=fix))
    else:
        number, raw = values["row_count"]
        if raw.isdigit():
            row_count = int(raw)
        else:
            problems.append(
                Problem("row_count is not a whole number", str(path), number, key="row_count",
                        value=raw, fix=fix)
            )
    amount = None
    if "amount_total" in values:
        number, raw = values["amount_total"]
        amount = decimal_or_none(raw)
        if amount is None:
            problems.append(
                Problem("amount_total is not a number", str(path), number, key="amount_total",
                        value=raw, fix=fix)
            )
    data_date = None
    if "data_date" in values:
        number, raw = values["data_date"]
        try:
            data_date = datetime.strptime(raw, date_format).date()
        except ValueError:
            problems.append(
                Problem(f"data_date is not a date in format {date_format}", str(path), number,
                        key="data_date", value=raw, fix=fix)
            )
    sha256 = None
    if "sha256" in values:
        number, raw = values["sha256"]
        if SHA256_HEX.fullmatch(raw):
            sha256 = raw.lower()
        else:
            problems.append(
                Problem("sha256 is not 64 hexadecimal digits", str(path), number, key="sha256",
                        value=raw, fix="write the data file's SHA-256 in hex (sha256sum FILE)")
            )
    signature = None
    if "signature" in values:
        number, raw = values["signature"]
        try:
            signature = signature_from_text(raw)
        except ValueError as exc:
            problems.append(
                Problem(f"signature cannot be read: {exc}", str(path), number, key="signature",
                        fix="write the Ed25519 signature's 64 bytes in base64 on one line")
            )
    if problems:
        raise DeliveryError(f"control file {path} is malformed", problems)
    return ControlTotals(str(path), data_date, row_count, amount, sha256, signature)
