"""CSV records as RFC 4180 defines them.

A quoted field may hold the delimiter, a doubled quote and a line break, so one record may span
several physical lines. Records are located by the physical line they start on and numbered the
way lines are, a record spanning lines counting once: the record number differs from the line
only after such a record. A file without the quote character is split line by line (fast path).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

CsvRecord = tuple[int, int, str, "list[str] | str"]
"""(line the record starts on, record number, raw text, fields or the reason it is malformed)."""

_NOT_CLOSED = "a quoted field is not closed"
_MESSAGES = {
    "unexpected end of data": _NOT_CLOSED,
    "new-line character seen in unquoted field": "a carriage return inside an unquoted field",
}


def csv_records(text: str, delimiter: str, quote: str) -> Iterator[CsvRecord]:
    """The non-blank records of ``text``."""
    lines = text.split("\n")
    if not quote or quote not in text:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r")
            if line.strip():
                yield number, number, line, line.split(delimiter)
        return
    yield from _quoted_records(lines, delimiter, quote)


def _quoted_records(lines: list[str], delimiter: str, quote: str) -> Iterator[CsvRecord]:
    start, spanned = 0, 0  # the line a reader starts on; extra lines of records so far
    while start < len(lines):
        reader = csv.reader(_terminated(lines, start), delimiter=delimiter, quotechar=quote,
                            strict=True)
        read = 0  # lines this reader has consumed
        while True:
            first = start + read  # index of the record's first line
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                read, last = reader.line_num, start + reader.line_num
                said = _said(exc, delimiter)
                if last - first > 1:
                    # a quote opened on the first line runs over line breaks and does not close
                    # properly: most likely a stray quote, so that line alone is rejected
                    reason = ("a quote opened on this line is never closed" if said == _NOT_CLOSED
                              else f"a quote opened on this line runs on to line {last}, where {said}")
                    yield first + 1, first + 1 - spanned, lines[first].rstrip("\r"), \
                        f"malformed CSV: {reason}"
                    start = first + 1
                    break
                yield first + 1, first + 1 - spanned, lines[first].rstrip("\r"), f"malformed CSV: {said}"
                continue
            read = reader.line_num
            raw = "\n".join(lines[first : start + read]).rstrip("\r")
            if raw.strip():
                yield first + 1, first + 1 - spanned, raw, fields
            spanned += start + read - first - 1


def _terminated(lines: list[str], start: int) -> Iterator[str]:
    for index in range(start, len(lines)):
        yield lines[index] + "\n"


def _said(exc: csv.Error, delimiter: str) -> str:
    text = str(exc)
    for known, words in _MESSAGES.items():
        if text.startswith(known):
            return words
    if text.startswith("field larger than field limit"):
        return f"a field is longer than {csv.field_size_limit()} characters"
    if "expected after" in text:
        return f"a closing quote must be followed by the delimiter {delimiter!r} or the line's end"
    return text
