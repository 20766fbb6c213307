"""The raw zone: delivered files kept byte for byte, one version folder per distinct delivery.

Layout: ``<root>/raw/<system>/<entity>/data_date=<D>/v<N>/<file>``. An identical re-delivery
is a no-op; a changed one becomes version N+1 and the earlier bytes stay untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pyarrow import fs as pafs

from lakehouse.zones.storage import copy_in, filesystem, sha256_at, sha256_of
from lakehouse.zones import Zone, zone_path


@dataclass(frozen=True)
class LandedFile:
    file_name: str
    raw_path: str
    version: int
    size_bytes: int
    sha256: str
    received_at: datetime
    is_new: bool


def date_folder(root: str, system: str, entity: str, data_date: date) -> str:
    return zone_path(root, Zone.RAW, system, entity, f"data_date={data_date.isoformat()}")


def land(delivered: Path, root: str, system: str, entity: str, data_date: date) -> LandedFile:
    """Keep ``delivered`` in the raw zone unless its latest version there has the same bytes."""
    fs, folder = filesystem(date_folder(root, system, entity, data_date))
    name = delivered.name
    digest = sha256_of(delivered)
    size = delivered.stat().st_size
    versions = _versions_of(fs, folder, name)
    if versions:
        latest = versions[-1]
        latest_path = f"{folder}/v{latest}/{name}"
        if sha256_at(fs, latest_path) == digest:
            info = fs.get_file_info(latest_path)
            received = datetime.fromtimestamp(info.mtime.timestamp()) if info.mtime else datetime.now()
            return LandedFile(name, latest_path, latest, size, digest, received, is_new=False)
    version = (versions[-1] + 1) if versions else 1
    target = f"{folder}/v{version}/{name}"
    copy_in(delivered, fs, target)
    return LandedFile(name, target, version, size, digest, datetime.now(), is_new=True)


def _versions_of(fs: pafs.FileSystem, folder: str, name: str) -> list[int]:
    selector = pafs.FileSelector(folder, allow_not_found=True, recursive=False)
    found = []
    for info in fs.get_file_info(selector):
        if info.type == pafs.FileType.Directory and info.base_name[1:].isdigit():
            version = int(info.base_name[1:])
            if fs.get_file_info(f"{folder}/v{version}/{name}").type == pafs.FileType.File:
                found.append(version)
    return sorted(found)
