"""Backups of a lakehouse (4.2.2.2 d): its zones (raw files, Delta tables, governance) and its
project files (``conf/``, ``quality_rules/``, ``layers/``), copied file by file to a backup root.

The backup root holds::

    objects/<sha256[:2]>/<sha256>    every file once, by its content
    manifests/<backup_id>.json       one backup: each file's path, size and SHA-256, and the
                                     Delta version each table was copied at

A backup is incremental: a file whose path, size and modification time match the previous
backup's is not read again, and content already in ``objects/`` is not copied again (Delta data
and log files never change once written). A Delta table is copied as of one version, read from
its ``_delta_log`` before its files are listed: the log up to that version (commits, checksums,
checkpoints), never a later commit, nor ``_last_checkpoint`` (a hint Delta rewrites); data files
of later commits that are copied as well are not referenced and do no harm. Each table is
consistent at its version; the tables of one backup are copied one after another.

Staging (``_staging``), locks (``_locks``) and Spark's catalog folder (``_catalog``) are not
backed up, nor the key provider's secrets: keys are kept apart from the data they protect.
No Spark is needed to take or restore a backup (``restore`` verifies every byte as it copies);
:mod:`lakehouse.lifecycle.verify` compares restored tables with the originals.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pyarrow import fs as pafs

from lakehouse.errors import Problem, TerminalError
from lakehouse.zones.storage import copy_hashed, filesystem
from lakehouse.zones.tables import join_path

LAKEHOUSE, PROJECT = "lakehouse", "project"
"""The two areas of a backup: the files under the lakehouse root, and the project's files."""

PROJECT_FOLDERS = ("conf", "quality_rules", "layers")
NOT_BACKED_UP = ("_staging", "_locks", "_catalog")
LOG_VERSION = re.compile(r"^\.?(\d{20})\.")
COMMIT = re.compile(r"^(\d{20})\.json$")


@dataclass(frozen=True)
class BackedUpFile:
    area: str  # LAKEHOUSE or PROJECT
    path: str  # relative to the lakehouse root, or to the project folder
    size: int
    sha256: str
    mtime_ns: int | None = None


@dataclass
class Manifest:
    backup_id: str
    taken_at: str
    lakehouse_root: str
    project_dir: str
    tables: dict[str, int] = field(default_factory=dict)  # table folder -> Delta version copied
    files: list[BackedUpFile] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["files"] = [BackedUpFile(**f) for f in data["files"]]
        return cls(**data)


@dataclass
class BackupResult:
    manifest: Manifest
    backup_root: str
    files_copied: int
    bytes_copied: int

    @property
    def bytes_total(self) -> int:
        return sum(f.size for f in self.manifest.files)


def object_path(backup_root: str, sha256: str) -> str:
    return join_path(backup_root, "objects", sha256[:2], sha256)


def manifest_path(backup_root: str, backup_id: str) -> str:
    return join_path(backup_root, "manifests", f"{backup_id}.json")


def take(root: str, project_dir: Path, backup_root: str) -> BackupResult:
    """Back up the lakehouse at ``root`` and the project in ``project_dir`` to ``backup_root``."""
    previous = latest_manifest(backup_root)
    known = {(f.area, f.path, f.size, f.mtime_ns): f.sha256 for f in previous.files} if previous else {}
    backup_id = f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    manifest = Manifest(backup_id, datetime.now().isoformat(timespec="seconds"), root, str(project_dir))
    source_fs, source_base = filesystem(root)
    backup_fs, _ = filesystem(backup_root)
    copied = copied_bytes = 0
    listings = [(LAKEHOUSE, source_fs, source_base, _lakehouse_files(source_fs, source_base, manifest.tables))]
    project_fs, project_base = filesystem(str(project_dir))
    listings.append((PROJECT, project_fs, project_base, _project_files(project_fs, project_base)))
    for area, fs, base, infos in listings:
        for info in infos:
            relative = info.path[len(base):].lstrip("/")
            mtime = info.mtime_ns
            sha = known.get((area, relative, info.size, mtime))
            if sha is None or not _exists(backup_fs, object_path(backup_root, sha)):
                sha, wrote = _store(fs, info.path, backup_fs, backup_root)
                copied += wrote
                copied_bytes += info.size if wrote else 0
            manifest.files.append(BackedUpFile(area, relative, info.size, sha, mtime))
    _write_text(backup_fs, manifest_path(backup_root, backup_id), manifest.to_json())
    return BackupResult(manifest, backup_root, copied, copied_bytes)


def manifests(backup_root: str) -> list[str]:
    """The backup ids held at ``backup_root``, oldest first."""
    fs, base = filesystem(backup_root)
    folder = join_path(base, "manifests")
    if fs.get_file_info(folder).type != pafs.FileType.Directory:
        return []
    return sorted(Path(i.path).stem for i in fs.get_file_info(pafs.FileSelector(folder))
                  if i.path.endswith(".json"))


def read_manifest(backup_root: str, backup_id: str | None = None) -> Manifest:
    """The manifest of ``backup_id`` (default: the latest backup) at ``backup_root``."""
    held = manifests(backup_root)
    if not held:
        raise TerminalError(f"no backup at {backup_root}", [Problem(
            "the backup root holds no manifest", join_path(backup_root, "manifests"),
            fix="take one with `lakehouse backup`, or pass the right --from")])
    backup_id = backup_id or held[-1]
    if backup_id not in held:
        raise TerminalError(f"no backup {backup_id} at {backup_root}", [Problem(
            f"backups held: {', '.join(held[-5:])}", join_path(backup_root, "manifests"),
            key="--id", value=backup_id, fix="pass one of the backup ids held")])
    fs, _ = filesystem(backup_root)
    with fs.open_input_stream(manifest_path(backup_root, backup_id)) as stream:
        return Manifest.from_json(stream.read().decode("utf-8"))


def latest_manifest(backup_root: str) -> Manifest | None:
    return read_manifest(backup_root) if manifests(backup_root) else None


# -- what is backed up ---------------------------------------------------------------------------

def _lakehouse_files(fs: pafs.FileSystem, base: str, tables: dict[str, int]) -> list[pafs.FileInfo]:
    """The files to copy under the lakehouse root; fills ``tables`` with each Delta table's
    folder (relative) and the version it is copied at."""
    if fs.get_file_info(base).type != pafs.FileType.Directory:
        raise TerminalError(f"no lakehouse at {base}", [Problem(
            "the lakehouse root does not exist", base, key="root",
            fix="check `root` in conf/lakehouse.yaml (or --root)")])
    top = [i for i in fs.get_file_info(pafs.FileSelector(base)) if Path(i.path).name not in NOT_BACKED_UP]
    found: list[pafs.FileInfo] = []
    for entry in top:
        if entry.type == pafs.FileType.File:
            found.append(entry)
        elif entry.type == pafs.FileType.Directory:
            _walk(fs, entry.path, base, tables, found)
    return found


def _walk(fs, folder: str, base: str, tables: dict[str, int], found: list) -> None:
    """Files under ``folder``: a Delta table as of its last commit, any other folder as it is."""
    log = f"{folder}/_delta_log"
    if fs.get_file_info(log).type == pafs.FileType.Directory:
        log_files = fs.get_file_info(pafs.FileSelector(log, recursive=True))  # the log first
        commits = [int(m.group(1)) for i in log_files if (m := COMMIT.match(Path(i.path).name))]
        if commits:
            version = max(commits)
            tables[folder[len(base):].lstrip("/")] = version
            found.extend(i for i in log_files if i.type == pafs.FileType.File and _in_version(i, version))
            data = fs.get_file_info(pafs.FileSelector(folder, recursive=True))
            found.extend(i for i in data if i.type == pafs.FileType.File
                         and "/_delta_log/" not in i.path[len(folder):] + "/")
            return
    for entry in fs.get_file_info(pafs.FileSelector(folder)):
        if entry.type == pafs.FileType.File:
            found.append(entry)
        elif entry.type == pafs.FileType.Directory:
            _walk(fs, entry.path, base, tables, found)


def _in_version(info: pafs.FileInfo, version: int) -> bool:
    """Whether a ``_delta_log`` file belongs to the table as of ``version``."""
    name = Path(info.path).name
    if name in ("_last_checkpoint", "._last_checkpoint.crc"):
        return False
    numbered = LOG_VERSION.match(name)
    return numbered is None or int(numbered.group(1)) <= version


def _project_files(fs: pafs.FileSystem, base: str) -> list[pafs.FileInfo]:
    found = []
    for folder in PROJECT_FOLDERS:
        path = f"{base}/{folder}"
        if fs.get_file_info(path).type == pafs.FileType.Directory:
            found += [i for i in fs.get_file_info(pafs.FileSelector(path, recursive=True))
                      if i.type == pafs.FileType.File and "__pycache__" not in i.path]
    return found


# -- copying -----------------------------------------------------------------------------------

def _store(fs: pafs.FileSystem, path: str, backup_fs: pafs.FileSystem, backup_root: str) -> tuple[str, bool]:
    """Copy the file at ``path`` into the objects of ``backup_root``; its SHA-256 and whether
    its content was new there."""
    temporary = join_path(backup_root, "objects", "_incoming", uuid.uuid4().hex)
    try:
        sha = copy_hashed(fs, path, backup_fs, temporary)
    except FileNotFoundError:
        raise TerminalError(f"{path} disappeared while it was backed up", [Problem(
            "a file listed for the backup was removed before it was copied", path,
            fix="run `lakehouse backup` again (a VACUUM or retention run may have removed it)")]) from None
    target = object_path(backup_root, sha)
    if _exists(backup_fs, target):
        backup_fs.delete_file(temporary)
        return sha, False
    backup_fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    backup_fs.move(temporary, target)
    return sha, True


def _exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type == pafs.FileType.File


def _write_text(fs: pafs.FileSystem, path: str, text: str) -> None:
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    partial = f"{path}.partial"
    with fs.open_output_stream(partial) as out:
        out.write(text.encode("utf-8"))
    fs.move(partial, path)
