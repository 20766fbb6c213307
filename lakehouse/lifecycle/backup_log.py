"""The governance records of backups: one per backup taken, one per backup verified."""

from __future__ import annotations

from datetime import datetime

from lakehouse.governance.records import BackupLogRecord, ProblemRecord
from lakehouse.lifecycle.backup import BackupResult
from lakehouse.lifecycle.restore import VerifyResult


def taken(result: BackupResult) -> BackupLogRecord:
    manifest = result.manifest
    return BackupLogRecord.of(
        backup_id=manifest.backup_id, action="backup", backup_root=result.backup_root,
        tables=len(manifest.tables), files=len(manifest.files), bytes=result.bytes_total,
        files_copied=result.files_copied, bytes_copied=result.bytes_copied, status="succeeded",
        problems=[], recorded_at=datetime.now())


def verified(result: VerifyResult, backup_root: str) -> BackupLogRecord:
    manifest = result.manifest
    return BackupLogRecord.of(
        backup_id=manifest.backup_id, action="verify", backup_root=backup_root,
        tables=result.tables_compared, files=result.files_checked,
        bytes=sum(f.size for f in manifest.files), files_copied=0, bytes_copied=0,
        status="succeeded" if result.ok else "failed",
        problems=[ProblemRecord.of(p, {}) for p in result.problems], recorded_at=datetime.now())
