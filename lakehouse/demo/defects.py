"""Defects planted in the demo bank's deliveries, so that the quality checks have something to find.

A ``DefectPlan`` turns one data date's extracts into what the source systems deliver: copies
of the records with row-level defects planted at ``rate`` per eligible row, and on the second
data date of a run the file-level defects (a duplicated key, a late file). The second data date
also carries at least one defect of every row-level kind, so any run of two or more dates with
``rate > 0`` shows each kind. Everything is deterministic for ``(seed, rate)`` and the data
date, and the bank's own records are never changed (defects go into copies).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time

from lakehouse.demo.bank import KEYS
from lakehouse.demo.identifiers import id_number_check_digit

Record = dict[str, object]

KINDS = ("null", "invalid_id", "duplicate_key", "orphan_key", "late_file", "malformed_row")
# row-level kinds: (source, column) of the eligible rows
ROW_DEFECTS = {
    "null": ("cbs.account", "customer_id"),
    "orphan_key": ("cbs.account", "customer_id"),
    "invalid_id": ("ccs.card", "id_number"),
    "malformed_row": ("lns.loan", "start_date"),
}
# file-level kinds, planted once per run on its second data date
FILE_DEFECTS = {"duplicate_key": "lns.repayment_schedule", "late_file": "ccs.card_txn"}
FILE_DEFECT_ORDINAL = 1  # the second data date of a run
LATE_ARRIVAL = time(7, 30)  # the day after the data date, after the 06:00 deadline


@dataclass(frozen=True)
class PlantedDefect:
    kind: str  # null | invalid_id | duplicate_key | orphan_key | late_file | malformed_row
    source: str  # "system.entity"
    data_date: date
    key: tuple | None  # key values of the affected record (None for file-level)
    column: str | None
    line: int | None  # 1-based line in the delivered file, where known
    detail: str  # human-readable


@dataclass(frozen=True)
class Planted:
    """One data date's extracts as delivered, and the defects planted in them."""

    extracts: dict[str, list[Record]]  # what to write; a malformed row holds its bad text
    defects: list[PlantedDefect] = field(default_factory=list)
    late: frozenset[str] = frozenset()  # sources whose file arrives after its deadline
    malformed: dict[str, frozenset[int]] = field(default_factory=dict)  # source -> row indexes

    def delivered(self) -> dict[str, list[Record]]:
        """The records a reader of the files gets: all but the malformed rows."""
        return {
            name: [r for i, r in enumerate(records) if i not in self.malformed.get(name, ())]
            for name, records in self.extracts.items()
        }


@dataclass(frozen=True)
class DefectPlan:
    """Which defects to plant: ``rate`` per eligible row (0: none at all), from ``seed``."""

    rate: float = 0.001
    seed: int = 7

    def __post_init__(self):
        if not 0 <= self.rate <= 1:
            raise ValueError(f"a defect rate is between 0 and 1, got {self.rate}")

    def plant(self, data_date: date, ordinal: int, extracts: Mapping[str, list[Record]],
              first_lines: Mapping[str, int] | None = None) -> Planted:
        """Plant this plan's defects in ``extracts`` of ``data_date``, the run's ``ordinal``-th
        date (0 for the first). ``first_lines`` gives, per source, the file line of its first
        record (2 for a CSV with a header) to locate the defects; without it lines are None."""
        out = {name: list(records) for name, records in extracts.items()}
        if self.rate == 0:
            return Planted(out)
        defects: list[PlantedDefect] = []
        changed: dict[tuple[str, int], Record] = {}
        malformed: dict[str, set[int]] = {}
        force = ordinal == FILE_DEFECT_ORDINAL

        def line(source: str, index: int) -> int | None:
            return None if first_lines is None or source not in first_lines \
                else first_lines[source] + index

        def copy(source: str, index: int) -> Record:
            if (source, index) not in changed:
                changed[source, index] = out[source][index] = dict(out[source][index])
            return changed[source, index]

        def key(source: str, record: Record) -> tuple:
            return tuple(record[k] for k in KEYS[source])

        taken: set[tuple[str, int]] = set()  # at most one row-level defect per row
        for kind, (source, column) in ROW_DEFECTS.items():
            records = out.get(source)
            if not records:
                continue
            rng = random.Random(f"{self.seed}/{data_date.isoformat()}/{kind}")
            chosen = [i for i in range(len(records))
                      if rng.random() < self.rate and (source, i) not in taken]
            if not chosen and force:
                free = [i for i in range(len(records)) if (source, i) not in taken]
                chosen = [rng.choice(free)] if free else []
            for index in chosen:
                taken.add((source, index))
                record = copy(source, index)
                before = record[column]
                if kind == "null":
                    record[column] = None
                    detail = f"{column} {before!r} delivered empty"
                elif kind == "orphan_key":
                    record[column] = f"C9{rng.randrange(10**9):09d}"
                    detail = f"{column} {before!r} replaced by {record[column]!r}, no such customer"
                elif kind == "invalid_id":
                    right = id_number_check_digit(before[:17])
                    wrong = rng.choice([c for c in "0123456789X" if c != right])
                    record[column] = before[:17] + wrong
                    detail = f"{column} {record[column]!r} has check digit {wrong}, not {right}"
                else:  # malformed_row: a day that no calendar has
                    record[column] = f"{before:%Y}-02-30"
                    malformed.setdefault(source, set()).add(index)
                    detail = f"{column} {record[column]!r} is not a date (was {before})"
                defects.append(PlantedDefect(kind, source, data_date, key(source, record), column,
                                             line(source, index), detail))
        late: frozenset[str] = frozenset()
        if force:
            source = FILE_DEFECTS["duplicate_key"]
            records = out.get(source)
            if records:
                rng = random.Random(f"{self.seed}/{data_date.isoformat()}/duplicate_key")
                index = rng.randrange(len(records))
                records.append(dict(records[index]))
                first, again = line(source, index), line(source, len(records) - 1)
                where = f" on lines {first} and {again}" if first is not None else ""
                defects.append(PlantedDefect(
                    "duplicate_key", source, data_date, key(source, records[index]), None, again,
                    f"the row with key {key(source, records[index])} is delivered twice{where}"))
            source = FILE_DEFECTS["late_file"]
            if source in out:
                late = frozenset({source})
                defects.append(PlantedDefect(
                    "late_file", source, data_date, None, None, None,
                    f"the file arrives at {LATE_ARRIVAL:%H:%M} the day after the data date, "
                    "after its expected_by deadline"))
        return Planted(out, defects, late, {s: frozenset(i) for s, i in malformed.items()})
