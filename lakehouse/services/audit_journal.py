"""The access audit of the data services' calls (4.2.2.4 b) at the speed of a lookup.

A call's record is first appended to a journal file in the governance zone
(``governance/_service_audit/journal-<n>.jsonl``) before its answer is sent: when it cannot be
written the call fails (fail closed). A writer thread moves the journal into
``governance.access_audit`` a batch at a time, chained with the same hash chain, under the same
lock as every other writer (:mod:`lakehouse.security.audit`), one delta-rs commit per batch. A
journal file is deleted once its records are committed; a server that stops before that leaves
the file, and the next one commits it when it starts. The journal holds what the audit table
holds (the query text only hashed, no value of level 3 or above).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from lakehouse.engine import delta_rs
from lakehouse.errors import first_line
from lakehouse.governance.records import AccessAuditRecord, spec_of
from lakehouse.security import audit
from lakehouse.zones import Zone, zone_path

BACKLOG_LIMIT = 20_000
"""Records waiting for the audit table beyond which calls are refused (the writer is failing)."""


def journal_folder(root: str) -> Path:
    return Path(zone_path(str(root), Zone.GOVERNANCE, "_service_audit"))


class AuditJournal:
    """Records calls at once (journal) and commits them to the audit chain in batches."""

    def __init__(self, root: str):
        self.root = str(root)
        self.folder = journal_folder(root)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._committing = threading.Lock()  # one commit at a time, each finished when it returns
        self._pending: list[tuple[int, dict]] = []  # journal number, record fields
        self._head: tuple[int, AccessAuditRecord] | None = None
        self._spec = spec_of(AccessAuditRecord, self.root)
        for path in sorted(self.folder.glob("journal-*.jsonl"), key=_number):  # a previous server's
            self._pending += [(_number(path), json.loads(line))
                              for line in path.read_text(encoding="utf-8").splitlines() if line]
        self._number = max([_number(p) for p in self.folder.glob("journal-*.jsonl")], default=0) + 1
        self._file = self._open(self._number)
        self.committed = 0
        self.last_error: str | None = None

    def _open(self, number: int) -> int:
        return os.open(self.folder / f"journal-{number}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def record(self, event: audit.AccessEvent) -> None:
        """Journal ``event``; raises ``AuditUnavailable`` when it cannot (the call must fail)."""
        fields = {"principal": event.principal, "roles": sorted(set(event.roles)),
                  "operation": event.operation, "objects": [str(o) for o in sorted(set(event.objects))],
                  "result": event.result, "rows_returned": event.rows_returned,
                  "query_hash": audit.query_hash(event.query_text), "detail": event.detail,
                  "recorded_at": datetime.now(timezone.utc).isoformat()}
        line = (json.dumps(fields, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if len(self._pending) >= BACKLOG_LIMIT:
                raise audit._unavailable(self.root, f"{len(self._pending)} audit records wait for "
                                         f"the audit table ({self.last_error or 'writer behind'})",
                                         "make the audit table writable; calls resume once the "
                                         "records are written", transient=True)
            try:
                os.write(self._file, line)
            except OSError as exc:
                raise audit._unavailable(self.root, f"the audit journal cannot be written: "
                                         f"{first_line(exc)}", "make the governance zone writable",
                                         transient=True) from exc
            self._pending.append((self._number, fields))

    def commit(self) -> int:
        """Move the journalled records into ``governance.access_audit``; the records committed.
        On failure they stay journalled (``last_error`` says why) for the next commit. A commit
        called while another runs waits for it, so every record journalled before the call is in
        the table when it returns."""
        with self._committing:
            return self._commit()

    def _commit(self) -> int:
        with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            os.close(self._file)
            done = sorted({number for number, _ in batch})
            self._number += 1
            self._file = self._open(self._number)
        try:
            with audit.chain_lock(self.root):
                version, last = self._last()
                records = []
                for _, fields in batch:
                    record = _chained(fields, last)
                    records.append(record)
                    last = record
                delta_rs.append(self._spec, [r.as_row() for r in records])
                expected = 0 if version is None else version + 1  # the one commit since is ours
                self._head = (expected, last) if delta_rs.is_latest(self._spec.path, expected) else None
        except Exception as exc:  # noqa: BLE001 - kept journalled; readiness reports it
            self.last_error = first_line(exc)
            with self._lock:
                self._pending = batch + self._pending
            return 0
        self.last_error = None
        for number in done:
            (self.folder / f"journal-{number}.jsonl").unlink(missing_ok=True)
        self.committed += len(batch)
        return len(batch)

    def close(self) -> None:
        self.commit()
        with self._lock:
            os.close(self._file)
            if not self._pending:
                (self.folder / f"journal-{self._number}.jsonl").unlink(missing_ok=True)

    def _last(self) -> tuple[int | None, AccessAuditRecord | None]:
        """The table's version (None: no table) and the chain's last record: the one this journal
        committed last when no other writer committed since (two file lookups), else read from
        the table."""
        path = self._spec.path
        if self._head is not None and delta_rs.is_latest(path, self._head[0]):
            return self._head
        version = delta_rs.version(path)
        top = None if version is None else delta_rs.max_value(path, "seq")
        if top is None:
            return version, None
        return version, AccessAuditRecord.from_row(delta_rs.rows_where(path, "seq", top)[0])


def _number(path: Path) -> int:
    return int(path.stem.split("-")[1])


def _chained(fields: dict, last: AccessAuditRecord | None) -> AccessAuditRecord:
    unhashed = AccessAuditRecord(
        seq=1 if last is None else last.seq + 1,
        recorded_at=datetime.fromisoformat(fields["recorded_at"]),
        principal=fields["principal"], roles=fields["roles"], operation=fields["operation"],
        objects=fields["objects"], result=fields["result"], rows_returned=fields["rows_returned"],
        query_hash=fields["query_hash"], detail=fields["detail"],
        prev_hash=audit.GENESIS_HASH if last is None else last.record_hash, record_hash=None)
    return replace(unhashed, record_hash=audit.chain_hash(unhashed))
