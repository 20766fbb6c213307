"""Restoring a backup (:mod:`lakehouse.lifecycle.backup`), and proving one can be restored.

``restore`` rebuilds a lakehouse root (and, when asked, the project's files) from a backup's
manifest, checking the SHA-256 of every byte it copies: a corrupted or missing object stops it
with the files named. ``verify`` restores into a scratch folder and compares every Delta table
of the backup with the original table as of the version the backup copied (Delta time travel):
the same rows, by count and by an order-independent checksum of their values.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pyarrow import fs as pafs

from lakehouse.errors import Problem, TerminalError
from lakehouse.lifecycle.backup import (
    LAKEHOUSE, PROJECT, BackedUpFile, Manifest, object_path, read_manifest)
from lakehouse.zones.storage import copy_hashed, filesystem
from lakehouse.zones.tables import join_path


@dataclass
class RestoreResult:
    manifest: Manifest
    root: str
    files: int
    bytes: int


@dataclass
class VerifyResult:
    manifest: Manifest
    files_checked: int = 0
    tables_compared: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def restore(backup_root: str, target_root: str, project_target: Path | None = None,
            backup_id: str | None = None) -> RestoreResult:
    """Rebuild the lakehouse of ``backup_id`` (default: the latest) at ``target_root``, which
    must be empty or missing; its project files go to ``project_target`` when given."""
    return _restore(read_manifest(backup_root, backup_id), backup_root, target_root, project_target)


def _restore(manifest: Manifest, backup_root: str, target_root: str,
             project_target: Path | None) -> RestoreResult:
    target_fs, target_base = filesystem(target_root)
    _refuse_non_empty(target_fs, target_base, "--to")
    if project_target is not None:
        _refuse_non_empty(pafs.LocalFileSystem(), str(Path(project_target).absolute()), "--project-to")
    backup_fs, _ = filesystem(backup_root)
    bad: list[Problem] = []
    files = copied = 0
    for item in manifest.files:
        if item.area == PROJECT and project_target is None:
            continue
        fs, base = (target_fs, target_base) if item.area == LAKEHOUSE else \
            (pafs.LocalFileSystem(), str(Path(project_target).absolute()))
        problem = _copy_checked(backup_fs, object_path(backup_root, item.sha256), item,
                                fs, f"{base}/{item.path}")
        if problem:
            bad.append(problem)
        else:
            files, copied = files + 1, copied + item.size
    if bad:
        raise TerminalError(f"backup {manifest.backup_id} at {backup_root} is damaged: "
                            f"{len(bad)} file(s) do not match the manifest", bad + [Problem(
                                f"{target_root} holds an incomplete restore", target_root,
                                fix="remove it, and restore an earlier backup (`lakehouse backup "
                                    "verify --id ...` finds one that restores)")])
    return RestoreResult(manifest, target_root, files, copied)


def verify(engine, backup_root: str, backup_id: str | None = None,
           scratch: str | None = None) -> VerifyResult:
    """Restore ``backup_id`` (default: the latest) into ``scratch`` (default: a temporary folder,
    removed afterwards) and compare each of its Delta tables with the original."""
    manifest = read_manifest(backup_root, backup_id)
    result = VerifyResult(manifest, files_checked=len(manifest.files))
    own_scratch = scratch is None
    scratch = scratch or tempfile.mkdtemp(prefix="lakehouse-backup-verify-")
    target = join_path(scratch, "lakehouse")
    try:
        try:
            _restore(manifest, backup_root, target, None)
        except TerminalError as error:
            result.problems.extend(p for p in error.problems if p.file != target)
            return result
        for table, version in sorted(manifest.tables.items()):
            original = join_path(manifest.lakehouse_root, table)
            restored = join_path(target, table)
            restored_version = engine.path_version(restored)
            if restored_version != version:
                result.problems.append(Problem(
                    f"restored table {table} is at version {restored_version}, the "
                    f"backup copied version {version}", restored,
                    fix="the backup's log files are incomplete: take a new backup"))
                continue
            want = engine.table_fingerprint(original, version)
            got = engine.table_fingerprint(restored)
            result.tables_compared += 1
            if want != got:
                result.problems.append(Problem(
                    f"restored table {table} differs from the original at version {version}: "
                    f"{got[0]} rows against {want[0]}" + ("" if got[0] != want[0] else
                                                          ", same count, other values"),
                    restored, fix="take a new backup; keep this one for investigation"))
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return result


def _copy_checked(backup_fs, source: str, item: BackedUpFile, fs, target: str) -> Problem | None:
    """Copy one object to ``target``; a Problem when it is missing or its bytes are not the ones
    the manifest names (the bad copy is removed)."""
    try:
        sha = copy_hashed(backup_fs, source, fs, target)
    except FileNotFoundError:
        return Problem(f"{item.area} file {item.path} is missing from the backup", source,
                       fix="the backup is incomplete: restore an earlier one")
    if sha != item.sha256:
        fs.delete_file(target)
        return Problem(f"{item.area} file {item.path}: the backed-up bytes changed (SHA-256 "
                       f"{sha[:12]}…, manifest {item.sha256[:12]}…)", source,
                       fix="the backup copy is corrupted: restore an earlier backup")
    return None


def _refuse_non_empty(fs: pafs.FileSystem, path: str, option: str) -> None:
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.Directory and fs.get_file_info(pafs.FileSelector(path)):
        raise TerminalError(f"{path} is not empty", [Problem(
            "a restore writes into an empty folder, so that nothing of another lakehouse mixes "
            "with the backup", path, key=option, fix="pass a new or empty folder")])
    if info.type == pafs.FileType.File:
        raise TerminalError(f"{path} is a file", [Problem(
            "a restore needs a folder", path, key=option, fix="pass a new or empty folder")])
