"""Whole-file checks on a parsed delivery: control totals and key integrity."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from lakehouse.ingestion.control_file import ControlTotals
from lakehouse.errors import Problem
from lakehouse.ingestion.extract_parser import MAX_LISTED, ParsedExtract
from lakehouse.security.masking import masked_key


def control_problems(parsed: ParsedExtract, totals: ControlTotals, data_date: date) -> list[Problem]:
    problems = []
    redeliver = "ask the source system to redeliver the extract and its control file together"
    if totals.data_date is not None and totals.data_date != data_date:
        problems.append(Problem(
            f"control file is for data date {totals.data_date}, the run is for {data_date}",
            totals.file, key="data_date", value=str(totals.data_date), fix=redeliver))
    if totals.row_count != parsed.rows_in:
        problems.append(Problem(
            f"control file declares {totals.row_count} rows, the file has {parsed.rows_in}",
            totals.file, key="row_count", value=totals.row_count, fix=redeliver))
    if parsed.amount_total is not None and totals.amount_total is None:
        problems.append(Problem(
            "control file has no amount_total, the contract declares an amount column",
            totals.file, key="amount_total", fix=redeliver))
    elif totals.amount_total is not None and parsed.amount_total is not None \
            and not parsed.amount_unreadable and totals.amount_total != parsed.amount_total:
        # with unreadable rows in quarantine the file's true total is unknown: the row count
        # still has to match, and the quarantine holds the rows to reconcile by hand
        problems.append(Problem(
            f"control file declares amount total {totals.amount_total}, the file sums to "
            f"{parsed.amount_total}", totals.file, key="amount_total",
            value=str(totals.amount_total), fix=redeliver))
    return problems


def key_problems(parsed: ParsedExtract, keys: list[str]) -> list[Problem]:
    """Null and duplicate keys among the parsed rows, each located by line; a duplicate key's
    value is shown masked where its column is (``parsed.masked``)."""
    if not keys:
        return []
    columns = [parsed.columns[k] for k in keys]
    label = ", ".join(keys)
    fix = "the source system must deliver exactly one row per key; redeliver a corrected extract"
    problems: list[Problem] = []
    seen: dict[tuple, list[int]] = defaultdict(list)
    for index, line in enumerate(parsed.lines):
        key = tuple(column[index] for column in columns)
        if any(part is None for part in key):
            missing = [k for k, part in zip(keys, key) if part is None]
            problems.append(Problem(f"key column {', '.join(missing)} is empty", parsed.file, line,
                                    column=missing[0], fix=fix))
        else:
            seen[key].append(line)
    for key, lines in seen.items():
        if len(lines) > 1:
            shown = masked_key(parsed.masked, keys, key)
            value = shown[0] if len(shown) == 1 else shown
            problems.append(Problem(
                f"duplicate key ({label}) = {value!r} on lines {', '.join(map(str, lines))}",
                parsed.file, lines[1], column=keys[0], value=value, fix=fix))
    if len(problems) > MAX_LISTED:
        problems = problems[:MAX_LISTED] + [Problem(
            f"... and {len(problems) - MAX_LISTED} more key problems", parsed.file)]
    return problems
