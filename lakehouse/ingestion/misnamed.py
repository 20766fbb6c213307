"""What is in landing instead of a missing delivery: the same path in another letter case, or
with the data date written in another format (``customer_2026-11-01.csv`` for
``customer_{data_date}.csv`` with ``%Y%m%d``)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from lakehouse.errors import Problem

DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%Y_%m_%d", "%Y.%m.%d", "%Y/%m/%d", "%d%m%Y", "%d-%m-%Y",
                "%d.%m.%Y", "%m%d%Y", "%m-%d-%Y", "%y%m%d")
"""Ways source systems write a date in a file name, tried in this order."""


def found_instead(landing: Path, expected: str, data_date: date, path_date_format: str = "%Y%m%d",
                  contract_file: str | Path | None = None) -> Problem | None:
    """A problem naming the file under ``landing`` that is most likely the one expected at
    ``expected`` (relative to landing), how its path differs and the fix; None when there is
    no such file."""
    written = data_date.strftime(path_date_format)
    listings: dict[Path, dict[str, str]] = {}
    for fmt in (path_date_format, *DATE_FORMATS):
        other = data_date.strftime(fmt)
        if fmt != path_date_format and (other == written or written not in expected):
            continue
        wanted = expected.replace(written, other)
        actual = _case_insensitive(landing, wanted, listings)
        if actual is not None and actual != expected:
            source = str(contract_file or "the contract")
            fix = f"rename it to {expected}, or correct delivery.path"
            differences = []
            if fmt != path_date_format:
                differences.append(f"it writes the data date as {other} ({fmt}), the contract "
                                   f"as {written} (path_date_format {path_date_format})")
                fix = f'rename it to {expected}, or declare path_date_format: "{fmt}"'
            if actual != wanted:
                if differences:
                    differences.append("its name differs in letter case")
                    fix += " and correct the letter case of delivery.path"
                else:
                    differences.append("its name differs only in letter case")
            return Problem(f"file not found, but {actual} is there: {' and '.join(differences)}",
                           str(landing / expected), fix=f"{fix} in {source}")
    return None


def _case_insensitive(landing: Path, relative: str, listings: dict) -> str | None:
    """The relative path of the file matching ``relative`` in any letter case, or None."""
    folder, parts = landing, []
    for name in relative.split("/"):
        if folder not in listings:
            try:
                listings[folder] = {entry.lower(): entry for entry in os.listdir(folder)}
            except OSError:
                listings[folder] = {}
        entry = listings[folder].get(name.lower())
        if entry is None:
            return None
        folder = folder / entry
        parts.append(entry)
    return "/".join(parts) if folder.is_file() else None
