"""The raw zone: delivered files kept byte for byte, one version folder per distinct delivery.

Layout: ``<root>/raw/<system>/<entity>/data_date=<D>/v<N>/<file>``. An identical re-delivery
is a no-op; a changed one becomes version N+1 and the earlier bytes stay untouched.

With a key-encryption key (encryption at rest, the default), a file is stored encrypted
(``raw_encryption``) with the checksum of its delivered bytes beside it; ``delivered_bytes``
reads it back decrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pyarrow import fs as pafs

from lakehouse.zones import Zone, raw_encryption, zone_path
from lakehouse.zones.storage import copy_in, filesystem, sha256_at, sha256_of


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


def land(delivered: Path, root: str, system: str, entity: str, data_date: date,
         kek: bytes | None = None) -> LandedFile:
    """Keep ``delivered`` in the raw zone unless its latest version there has the same bytes;
    encrypted under a data key wrapped by ``kek`` when one is given."""
    fs, folder = filesystem(date_folder(root, system, entity, data_date))
    name = delivered.name
    digest = sha256_of(delivered)
    size = delivered.stat().st_size
    versions = _versions_of(fs, folder, name)
    if versions:
        latest = versions[-1]
        latest_path = f"{folder}/v{latest}/{name}"
        if _delivered_sha256(fs, latest_path) == digest:
            info = fs.get_file_info(latest_path)
            received = datetime.fromtimestamp(info.mtime.timestamp()) if info.mtime else datetime.now()
            return LandedFile(name, latest_path, latest, size, digest, received, is_new=False)
    version = (versions[-1] + 1) if versions else 1
    target = f"{folder}/v{version}/{name}"
    if kek is None:
        copy_in(delivered, fs, target)
    elif raw_encryption.store_encrypted(delivered, fs, target, kek) != digest:
        raise OSError(f"{delivered} changed while it was being landed; land it again")
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


def delivered_bytes(raw_path: str, kek: bytes | None) -> bytes:
    """The bytes of a raw file as they were delivered (decrypted when stored encrypted)."""
    fs, path = filesystem(raw_path)
    if raw_encryption.is_encrypted(fs, path):
        if kek is None:
            raise ValueError(f"{raw_path} is encrypted; pass the raw zone's key (keys.secret('raw-master'))")
        return b"".join(raw_encryption.delivered_chunks(fs, path, kek))
    with fs.open_input_stream(path) as stream:
        return stream.read()


def _delivered_sha256(fs: pafs.FileSystem, path: str) -> str:
    """The delivered bytes' SHA-256: kept beside an encrypted file, else of the file itself."""
    return raw_encryption.delivered_sha256(fs, path) or sha256_at(fs, path)
