"""Tamper-evident audit of data use (4.2.2.4 b): one ``governance.access_audit`` record per read
or export touching security level 2 and above, allowed, masked or refused.

**Fail closed.** A read path calls :func:`record_access` before it returns rows; when no record
can be written it raises :class:`AuditUnavailable` and the rows must not be returned.

**The chain.** Records are numbered ``seq`` 1, 2, 3, ... and each carries ``prev_hash`` (the
``record_hash`` of the record before it; 64 zeros for the first) and ``record_hash``::

    record_hash = SHA-256( UTF-8( prev_hash + canonical ) ), as 64 lowercase hex digits

where ``canonical`` is the JSON object of every other field (``seq``, ``recorded_at``,
``principal``, ``roles``, ``operation``, ``objects``, ``result``, ``rows_returned``,
``query_hash``, ``detail``) with its keys sorted, no whitespace (separators ``,`` and ``:``),
non-ASCII characters written as themselves (``json.dumps(..., sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``), NULL as ``null``, ``roles`` and ``objects`` as
arrays in their stored order, and ``recorded_at`` as the UTC instant
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds, as Delta keeps timestamps), so the hash does not
depend on the time zone of the process that verifies it. ``prev_hash`` has a fixed length, so
the concatenation is unambiguous. :func:`verify` recomputes the chain in ``seq`` order.

The chain makes a change to any record, a removal or a reordering visible, unless whoever
changed it also rewrote every later record (removing the last records is such a rewrite): keep
the head (``VerifyResult.head_hash``, which ``lakehouse audit verify`` prints) somewhere the
writers of the lakehouse cannot change, and compare it with a later verification.

**One writer at a time.** Appending reads the last record and chains the new one to it, so two
writers must never interleave. Delta cannot refuse the second of two blind appends (they do not
conflict), so the append runs under a lock file, ``<root>/governance/_locks/access_audit.lock``,
held with ``flock``: the writers of every process on the host wait their turn (the threads of one
process queue on a lock of their own first), and the kernel releases the lock of a process that
dies. A writer that waits longer than ``LOCK_WAIT_SECONDS`` fails its read. On an object-storage
root there is no lock file; there, as for the table and date locks (:mod:`lakehouse.zones.locks`),
one engine service serialises the writes.

**The head in memory.** A process keeps the last record it appended, with the table version its
commit made: its next append chains to that record without reading the table when the table is
still at that version (two file lookups in ``_delta_log``, no Spark job), so an append costs one
Delta commit. Any other commit since (another process's record, a rewrite of the table) makes it
read the last record from the table again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from lakehouse.config.fields import URI_SCHEME
from lakehouse.errors import LakehouseError, Problem, first_line, transient_family
from lakehouse.filters import Filter, compare, where
from lakehouse.governance.records import AccessAuditRecord, spec_of
from lakehouse.governance.store import GovernanceStore
from lakehouse.sql import quote_column
from lakehouse.zones import Zone, zone_path

AUDITED_FROM_LEVEL = 2
"""Reads touching a column of this security level or above are audited."""
RESULTS = ("allowed", "masked", "refused")
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record."""
HASHED_FIELDS = ("seq", "recorded_at", "principal", "roles", "operation", "objects", "result",
                 "rows_returned", "query_hash", "detail")
"""The fields ``canonical`` serialises: every field but ``prev_hash`` and ``record_hash``."""
LOCK_WAIT_SECONDS = 60.0
"""How long a writer waits for the lock before the read it audits fails."""


class AuditUnavailable(LakehouseError):
    """No audit record could be written, so the read or export it was for must not return data.
    Transient when its cause is (storage or Spark trouble, a writer holding the lock too long),
    terminal otherwise (e.g. no right to write the governance zone)."""

    def __init__(self, summary: str, problems: list[Problem], transient: bool):
        super().__init__(summary, problems)
        self.transient = transient


@dataclass(frozen=True, order=True)
class AccessedColumn:
    """One column a read touches, with its security level; stored as ``schema.table.column:level``."""

    table: str  # schema.name, as `lakehouse tables` names it
    column: str
    level: int

    def __str__(self) -> str:
        return f"{self.table}.{self.column}:{self.level}"

    @classmethod
    def parse(cls, text: str) -> AccessedColumn:
        """The column stored as ``text`` (``schema.table.column:level``)."""
        name, _, level = text.rpartition(":")
        table, _, column = name.rpartition(".")
        return cls(table, column, int(level))


def must_audit(objects: Sequence[AccessedColumn]) -> bool:
    """Whether a read of ``objects`` is audited: one of them is of level 2 or above."""
    return any(o.level >= AUDITED_FROM_LEVEL for o in objects)


@dataclass(frozen=True)
class AccessEvent:
    """A read or export to record. ``query_text`` is hashed, never stored (it may hold protected
    literals); ``detail`` must carry no value of level 3 or above (the caller masks it)."""

    principal: str
    roles: Sequence[str]
    operation: str  # query, export, ...
    objects: Sequence[AccessedColumn]
    result: str  # allowed, masked or refused
    rows_returned: int | None  # None when refused
    query_text: str
    detail: str = ""

    def __post_init__(self):
        problems = []
        if isinstance(self.roles, str):
            problems.append("roles must be a sequence of role names, not one string")
        if not self.principal:
            problems.append("no principal")
        if not self.operation:
            problems.append("no operation")
        if self.result not in RESULTS:
            problems.append(f"result {self.result!r} is not one of {', '.join(RESULTS)}")
        elif (self.result == "refused") != (self.rows_returned is None):
            problems.append("rows_returned must be None exactly when the result is refused, got "
                            f"{self.rows_returned!r} for {self.result}")
        if not all(isinstance(o, AccessedColumn) for o in self.objects):
            problems.append("objects must be AccessedColumn values")
        if problems:
            raise ValueError(f"access event of {self.principal!r}: {'; '.join(problems)}")


# -- the hash chain ---------------------------------------------------------------------------

def query_hash(query_text: str) -> str:
    """SHA-256 of the query text exactly as submitted (UTF-8), as 64 lowercase hex digits."""
    return hashlib.sha256(query_text.encode("utf-8")).hexdigest()


def _utc_instant(value: datetime) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; a naive value is local time of this
    process (as PySpark writes and reads timestamps)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(record: AccessAuditRecord) -> str:
    """The canonical JSON of the record's hashed fields (see the module documentation)."""
    values: dict[str, Any] = {name: getattr(record, name) for name in HASHED_FIELDS}
    if values["recorded_at"] is not None:
        values["recorded_at"] = _utc_instant(values["recorded_at"])
    for name in ("roles", "objects"):
        if values[name] is not None:
            values[name] = list(values[name])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(record: AccessAuditRecord) -> str:
    """The ``record_hash`` the record's ``prev_hash`` and other fields call for."""
    return hashlib.sha256(((record.prev_hash or "") + canonical(record)).encode("utf-8")).hexdigest()


# -- writing -----------------------------------------------------------------------------------

_IN_PROCESS = threading.Lock()  # the threads of this process (alone on an object-storage root)
_heads: dict[str, tuple[int, AccessAuditRecord]] = {}
"""Per audit table path: the last record this process appended and the version its commit made
(used under the chain lock)."""


def lock_file(root: str) -> Path | None:
    """The lock file of the chain; None on an object-storage root."""
    if URI_SCHEME.match(str(root)):
        return None
    return Path(zone_path(str(root), Zone.GOVERNANCE, "_locks", f"{AccessAuditRecord.TABLE}.lock"))


@contextmanager
def chain_lock(root: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the chain of ``root`` against every other writer while the block runs; raises
    ``AuditUnavailable`` when the lock cannot be created, or taken within ``wait`` seconds."""
    path = lock_file(root)
    deadline = time.monotonic() + wait
    if not _IN_PROCESS.acquire(timeout=wait):
        raise _busy(root, "in this process", wait)
    try:
        if path is None:
            yield
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+")
        except OSError as exc:
            raise _unavailable(root, f"cannot create the audit lock {path}: {first_line(exc)}",
                               "make the governance zone writable by this principal",
                               transient=transient_family(exc) is not None) from exc
        with handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _busy(root, str(path), wait) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        _IN_PROCESS.release()


def record_access(engine, root: str, event: AccessEvent) -> AccessAuditRecord:
    """Append the record of ``event`` to ``governance.access_audit``, chained to the last record,
    and return it. Call it before returning any row: when the record cannot be written it raises
    ``AuditUnavailable`` and the read must fail. Written at once, never held by a store's
    ``holding()`` block."""
    with chain_lock(root):
        spec = spec_of(AccessAuditRecord, root)
        try:
            version, last = _head(engine, spec)
            new = next_record(event, last)
            GovernanceStore(engine, root).append([new])
            if version is not None and engine.is_latest(spec, version + 1):
                _heads[spec.path] = (version + 1, new)  # the one commit since is this append
        except Exception as exc:  # noqa: BLE001 - whatever stops the write fails the read
            raise _unavailable(root, f"the audit record could not be written: {first_line(exc)}",
                               "make the audit table writable (storage rights, free space, a "
                               "running engine), then retry the read",
                               transient=transient_family(exc) is not None) from exc
    return new


def _head(engine, spec) -> tuple[int | None, AccessAuditRecord | None]:
    """The table's version (None: no table) and its last record (None: no record): the record
    this process appended last if no commit came after it, else read from the table."""
    kept = _heads.pop(spec.path, None)  # put back only after a successful append
    if kept is not None and engine.is_latest(spec, kept[0]):
        return kept
    version = engine.version(spec)
    return version, None if version is None else _last_record(engine, spec)


def _last_record(engine, spec) -> AccessAuditRecord | None:
    """The record of the greatest ``seq``: the maximum first (Delta answers it from the files'
    statistics), then the file holding it (data skipping), not every record's file."""
    table = f"delta.{quote_column(spec.path)}"
    [top] = engine.sql(f"SELECT max(seq) AS seq FROM {table}")
    if top["seq"] is None:
        return None
    [found] = engine.sql(f"SELECT * FROM {table} WHERE seq = {int(top['seq'])}", limit=1)
    return AccessAuditRecord.from_row(found)


def next_record(event: AccessEvent, last: AccessAuditRecord | None) -> AccessAuditRecord:
    """The record of ``event`` chained to ``last`` (None: the first record), recorded now."""
    unhashed = AccessAuditRecord(
        seq=1 if last is None else last.seq + 1,
        recorded_at=datetime.now(timezone.utc),
        principal=event.principal,
        roles=sorted(set(event.roles)),
        operation=event.operation,
        objects=[str(o) for o in sorted(set(event.objects))],
        result=event.result,
        rows_returned=event.rows_returned,
        query_hash=query_hash(event.query_text),
        detail=event.detail,
        prev_hash=GENESIS_HASH if last is None else last.record_hash,
        record_hash=None,
    )
    return replace(unhashed, record_hash=chain_hash(unhashed))


def _busy(root: str, holder: str, wait: float) -> AuditUnavailable:
    return _unavailable(root, f"another writer held the audit lock ({holder}) for more than {wait:g} s",
                        "retry; if it stays busy, find the process holding the lock file "
                        f"(fuser {lock_file(root) or 'the engine service'})", transient=True)


def _unavailable(root: str, message: str, fix: str, transient: bool) -> AuditUnavailable:
    return AuditUnavailable(
        "the access could not be audited, so no data is returned",
        [Problem(message, file=zone_path(str(root), Zone.GOVERNANCE, AccessAuditRecord.TABLE), fix=fix)],
        transient)


# -- verifying ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainBreak:
    """The first bad record of a chain: its ``seq`` (for a removed record, the missing one),
    what is wrong and how to investigate it."""

    seq: int | None
    kind: str  # altered, removed, reordered, relinked, duplicated, unnumbered
    message: str
    investigate: str

    def render(self) -> str:
        return f"{self.message}\n  investigate: {self.investigate}"


@dataclass(frozen=True)
class VerifyResult:
    records: int
    head_hash: str | None  # record_hash of the last record (None when there is none)
    broken: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(engine, root: str) -> VerifyResult:
    """Recompute the chain of ``governance.access_audit`` in ``seq`` order and name its first bad
    record: altered (its fields no longer give its hash), removed (a gap in ``seq``), reordered
    (chained to another record than the one before it), relinked (chained to a record that is no
    longer there: one before it was rewritten or removed and the rest renumbered), or a ``seq``
    held twice."""
    records = GovernanceStore(engine, root).read(AccessAuditRecord, order_by=["seq"])
    path = spec_of(AccessAuditRecord, root).path
    head = records[-1].record_hash if records else None
    return VerifyResult(len(records), head, _first_break(records, path))


def _first_break(records: list[AccessAuditRecord], path: str) -> ChainBreak | None:
    by_hash = {r.record_hash: r for r in records}
    expected_seq, expected_prev = 1, GENESIS_HASH

    def broken(seq: int | None, kind: str, message: str) -> ChainBreak:
        return ChainBreak(seq, kind, message, _investigate(path, expected_seq if seq is None else seq))

    for record in records:
        seq = record.seq
        if seq is None:
            return broken(None, "unnumbered", "a record has no seq")
        if seq < expected_seq:
            return broken(seq, "duplicated", f"seq {seq} is held by more than one record")
        if seq > expected_seq:
            missing = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seq {expected_seq} to {seq - 1}"
            return broken(expected_seq, "removed", f"record {missing} is missing: "
                          f"{_after(expected_seq)} is followed by seq {seq}")
        if record.prev_hash != expected_prev:
            linked = by_hash.get(record.prev_hash)
            if linked is not None:
                return broken(seq, "reordered", f"record seq {seq} is out of order: it was chained "
                              f"to the record now numbered seq {linked.seq}, not to {_after(seq)}")
            return broken(seq, "relinked", f"record seq {seq} is chained to a record that is no "
                          f"longer in the table: {_after(seq)} was rewritten (its hash recomputed) "
                          "or a record was removed and the later ones renumbered")
        if chain_hash(record) != record.record_hash:
            return broken(seq, "altered", f"record seq {seq} was altered: its fields no longer give "
                          "its record_hash")
        expected_seq, expected_prev = seq + 1, record.record_hash
    return None


def _investigate(path: str, seq: int) -> str:
    return (f"the table is only ever appended to, so look for the commit that rewrote it (an "
            f"operation other than WRITE in append mode, CREATE TABLE or ADD COLUMNS) in DESCRIBE "
            f"HISTORY delta.`{path}`: it names who and when; SELECT * FROM delta.`{path}` VERSION "
            f"AS OF <the version before it> WHERE seq >= {seq} shows the records as written")


def _after(seq: int) -> str:
    return "the start of the chain" if seq == 1 else f"seq {seq - 1}"


# -- reading -----------------------------------------------------------------------------------

def show(engine, root: str, principal: str | None = None, table: str | None = None,
         since: date | datetime | None = None, until: date | datetime | None = None,
         tz: tzinfo | None = None) -> list[AccessAuditRecord]:
    """The records in ``seq`` order of ``principal``, touching ``table`` (``schema.name`` or just
    the name), recorded from ``since`` up to ``until`` included (a date: that whole day). Dates
    and naive times are in ``tz`` (None: this process's local time zone), and so is the
    ``recorded_at`` of the records returned."""
    condition = Filter() if principal is None else where(principal=principal)
    if since is not None:
        condition &= compare("recorded_at", ">=", _instant(since, tz))
    if until is not None:
        condition &= (compare("recorded_at", "<=", _instant(until, tz)) if isinstance(until, datetime)
                      else compare("recorded_at", "<", _instant(until + timedelta(days=1), tz)))
    found = GovernanceStore(engine, root).read(AccessAuditRecord, condition, order_by=["seq"])
    return [replace(r, recorded_at=r.recorded_at.astimezone(tz)) for r in found
            if table is None or any(_names_table(AccessedColumn.parse(o).table, table)
                                    for o in r.objects or ())]


def _instant(value: date | datetime, tz: tzinfo | None) -> datetime:
    """``value`` as an aware time (a date: its start), so Spark compares instants whatever its
    session time zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if value.tzinfo:
        return value
    return value.replace(tzinfo=tz) if tz else value.astimezone()


def _names_table(qualified: str, asked: str) -> bool:
    return asked in (qualified, qualified.rpartition(".")[2])
