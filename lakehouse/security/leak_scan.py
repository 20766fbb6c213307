"""Looking for protected values where they must not be (4.2.2.4): a scan of every governance and
quarantine table, report, Data Docs page and log file for the clear values of level-3+ columns,
and of every byte stored under the lakehouse and backup roots (``stored_bytes``, 4.2.2.2 c).

The protected values are read from the near-source tables (every column whose level is 3 or
above: names, ID numbers, mobiles, card and account numbers, amounts). A value is looked for
only when it is distinctive enough to mean something when found: at least 6 characters, or 3
Chinese characters (a two-character name would match ordinary words), and not dates (data dates
are everywhere). Words of the configuration (conf/*.yaml: owners' names, descriptions) are
metadata, not customer data, and are never counted as leaks.

Text is cut into tokens (runs of letters, digits and ``.@_+-``, and their parts) and windows of
Chinese characters, and each is looked up among the protected values, so the scan costs one
pass over the text whatever the number of values. A finding names where (table and column, or
file and line), which protected column the value belongs to, and the value masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.security.column_levels import table_levels, table_masks
from lakehouse.security.masking import DEFAULT_RULE, MASK_FROM_LEVEL
from lakehouse.security.stored_bytes import StoredScan, scan_stored
from lakehouse.zones import Zone
from lakehouse.zones.history import history_path, history_spec
from lakehouse.zones.near_source import LAYER as NEAR_SOURCE

MIN_LENGTH = 6
MIN_CHINESE = 3
MAX_CHINESE_WINDOW = 16
SCANNED_SUFFIXES = (".html", ".json", ".log", ".txt", ".csv", ".md")
_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.@_+\-]*")
_PART = re.compile(r"[0-9A-Za-z]+(?:\.[0-9]+)?")
_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_SCANNED_TYPES = ("string", "decimal", "bigint", "long")


@dataclass(frozen=True)
class Leak:
    """A protected value found in clear: where, whose value it is, and the value masked."""

    where: str          # governance.load_log, or a file path
    locator: str        # column and row, or line
    belongs_to: str     # table.column (level N) the value comes from
    masked: str

    def render(self) -> str:
        return f"{self.where} {self.locator}: {self.masked} (a value of {self.belongs_to})"


@dataclass
class ScanReport:
    """What was scanned and what was found."""

    values: int = 0
    tables: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)
    stored: StoredScan | None = None  # every file under the root and backups, as bytes

    @property
    def clean(self) -> bool:
        return not self.leaks

    def summary(self) -> str:
        found = (f"{len(self.leaks)} level-3+ value(s) found in clear" if self.leaks
                 else "no level-3+ value found in clear")
        stored = f"; {self.stored.summary()}" if self.stored is not None else ""
        return (f"leak scan: {found} among {self.values:,} protected values, in "
                f"{len(self.tables)} governance tables and {len(self.files)} files{stored}")


class ProtectedValues:
    """The distinctive clear values of level-3+ columns, and what each belongs to."""

    def __init__(self, metadata_words: set[str] = frozenset()):
        self.owner: dict[str, tuple[str, object]] = {}  # value -> (table.column (level N), rule)
        self.chinese_lengths: set[int] = set()
        self._metadata = metadata_words

    def add(self, value: str, belongs_to: str, rule) -> None:
        value = value.strip()
        if not distinctive(value) or value in self._metadata:
            return
        self.owner.setdefault(value, (belongs_to, rule))
        if _CHINESE.fullmatch(value):
            self.chinese_lengths.add(min(len(value), MAX_CHINESE_WINDOW))

    def __len__(self) -> int:
        return len(self.owner)

    def found_in(self, text: str) -> Iterator[str]:
        """The protected values in ``text`` (each once)."""
        seen = set()
        for candidate in self._candidates(text):
            if candidate in self.owner and candidate not in seen:
                seen.add(candidate)
                yield candidate

    def _candidates(self, text: str) -> Iterator[str]:
        for token in _TOKEN.findall(text):
            yield token
            yield token.rstrip(".-_")
            yield from _PART.findall(token)
        if self.chinese_lengths:
            for run in _CHINESE.findall(text):
                for length in self.chinese_lengths:
                    for start in range(len(run) - length + 1):
                        yield run[start:start + length]

    def leak(self, value: str, where: str, locator: str) -> Leak:
        belongs_to, rule = self.owner[value]
        return Leak(where, locator, belongs_to, (rule or DEFAULT_RULE).apply(value))


def distinctive(value: str) -> bool:
    """Long enough that finding it means finding the value, not a coincidence."""
    if _CHINESE.search(value):
        return len(value) >= MIN_CHINESE
    return len(value) >= MIN_LENGTH


def protected_values(lh) -> ProtectedValues:
    """The level-3+ values of every near-source table of ``lh``, and of the rows of it that
    moved to the history zone (read in clear by the scan, which reports them only masked)."""
    values = ProtectedValues(metadata_words(lh.project.conf_dir))
    levels, masks = table_levels(lh.project), table_masks(lh.project)
    engine = lh.engine
    near_source = [spec for spec in lh.tables() if spec.layer == NEAR_SOURCE]
    stored = [(spec, spec) for spec in near_source] + [
        (spec, history_spec(spec)) for spec in near_source if history_path(spec)]
    for spec, table in stored:
        if not engine.table_exists(table):
            continue
        name = spec.qualified_name
        types = dict(engine.table_layout(table).types)
        columns = [c for c, level in levels.get(name, {}).items()
                   if level >= MASK_FROM_LEVEL and types.get(c, "").startswith(_SCANNED_TYPES)]
        if not columns:
            continue
        for column, found in engine.distinct_values(table, columns).items():
            belongs_to = f"{name}.{column} (level {levels[name][column]})"
            rule = masks.get(name, {}).get(column)
            for value in found:
                values.add(value, belongs_to, rule)
    return values


def metadata_words(conf_dir: Path) -> set[str]:
    """Every token and Chinese run of the configuration's YAML files (not customer data)."""
    words: set[str] = set()
    probe = ProtectedValues()
    for path in sorted(Path(conf_dir).rglob("*.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        words.update(probe._candidates(text))
        for run in _CHINESE.findall(text):
            words.update(run[i:j] for i in range(len(run))
                         for j in range(i + MIN_CHINESE, min(len(run), i + MAX_CHINESE_WINDOW) + 1))
    return words


def scan(lh, files: Iterable[Path] = (), stored: bool = True) -> ScanReport:
    """Every governance and quarantine table of ``lh`` and every text file among ``files``
    (folders are walked) scanned for the protected values; with ``stored``, every byte stored
    under the lakehouse root and the backup root too (``stored_bytes``)."""
    values = protected_values(lh)
    report = ScanReport(values=len(values))
    if stored:
        report.stored = scan_stored(values, [lh.settings.root, lh.settings.backups])
        report.leaks += report.stored.leaks
    engine = lh.engine
    for spec in lh.tables():
        if spec.zone != Zone.GOVERNANCE or not engine.table_exists(spec):
            continue
        report.tables.append(spec.qualified_name)
        for number, line in enumerate(engine.rows_as_json(spec), 1):
            for value in values.found_in(line):
                report.leaks.append(values.leak(value, spec.qualified_name,
                                                f"row {number} column {_column_of(line, value)}"))
    for path in _text_files(files):
        report.files.append(str(path))
        with path.open(encoding="utf-8", errors="replace") as text:
            for number, line in enumerate(text, 1):
                for value in values.found_in(line):
                    report.leaks.append(values.leak(value, str(path), f"line {number}"))
    return report


def _column_of(row_json: str, value: str) -> str:
    """The column of a governance row (as JSON) whose text holds ``value``."""
    for column, cell in json.loads(row_json).items():
        if value in json.dumps(cell, ensure_ascii=False):
            return column
    return "?"


def _text_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SCANNED_SUFFIXES)
        elif path.is_file():
            yield path
