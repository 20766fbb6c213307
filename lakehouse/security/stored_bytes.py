"""Every stored byte under the lakehouse root looked at for protected values in clear
(4.2.2.2 c): raw files, Delta data files, transaction logs and their checksums, governance and
quarantine tables, staging, history and backups.

A clear Parquet file is read with pyarrow (its pages are compressed: its raw bytes would hide
what it holds) and every value of every column is looked up; a Parquet file encrypted with
modular encryption (footer magic ``PARE``), a raw file stored encrypted
(``raw_encryption.MAGIC``) and a sealed streaming checkpoint file (``CHECKPOINT_SEALED``) are
counted as encrypted, not opened. Every other file (Delta log
JSON, ``.crc`` checksums, deletion vectors, text, clear raw files) is read as bytes and looked at
as text, both as UTF-8 and, where that fails, as GB18030 (deliveries of Chinese source systems).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow.parquet as pq
from pyarrow import fs as pafs

from lakehouse.zones.raw_encryption import MAGIC as RAW_MAGIC
from lakehouse.zones.storage import filesystem

PARQUET_CLEAR = b"PAR1"
PARQUET_ENCRYPTED = b"PARE"
CHECKPOINT_SEALED = b"LHCKPT01"
"""The head of a checkpoint file sealed by ``engine/jvm/EncryptedCheckpointFileManager.java``."""
_CHUNK = 1 << 20


@dataclass
class StoredScan:
    """Files looked at under the roots, how many were encrypted, and the leaks found."""

    files: int = 0
    encrypted: int = 0
    leaks: list = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.files:,} stored files byte-scanned ({self.encrypted:,} encrypted)"


def scan_stored(values, roots: Iterable[str]) -> StoredScan:
    """Every file under each of ``roots`` (local folders or URIs; missing ones are skipped)
    scanned for ``values`` (``leak_scan.ProtectedValues``)."""
    found = StoredScan()
    for root in roots:
        fs, base = filesystem(str(root))
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)):
            if info.type != pafs.FileType.File:
                continue
            found.files += 1
            kind = _kind(fs, info)
            if kind == "encrypted":
                found.encrypted += 1
                continue
            texts = _parquet_texts(fs, info.path) if kind == "parquet" else _byte_texts(fs, info.path)
            for locator, text in texts:
                for value in values.found_in(text):
                    found.leaks.append(values.leak(value, info.path, locator))
    return found


def _kind(fs: pafs.FileSystem, info: pafs.FileInfo) -> str:
    """``encrypted``, ``parquet`` (clear) or ``bytes``."""
    with fs.open_input_file(info.path) as handle:
        head = handle.read(max(len(RAW_MAGIC), len(CHECKPOINT_SEALED)))
        tail = b""
        if info.size >= 8:
            handle.seek(info.size - 4)
            tail = handle.read(4)
    if head.startswith((RAW_MAGIC, CHECKPOINT_SEALED)) or (
            head[:4] == PARQUET_ENCRYPTED and tail == PARQUET_ENCRYPTED):
        return "encrypted"
    return "parquet" if head[:4] == PARQUET_CLEAR and tail == PARQUET_CLEAR else "bytes"


def _parquet_texts(fs: pafs.FileSystem, path: str) -> Iterator[tuple[str, str]]:
    """(column and row, value as text) of every non-null value of a clear Parquet file."""
    with fs.open_input_file(path) as handle:
        table = pq.read_table(handle)
    for name, column in zip(table.column_names, table.columns):
        for row, value in enumerate(column.to_pylist(), 1):
            if value is None:
                continue
            text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
            yield f"column {name} row {row}", text


def _byte_texts(fs: pafs.FileSystem, path: str) -> Iterator[tuple[str, str]]:
    """(line, text) of a file read as bytes: UTF-8, and GB18030 where UTF-8 does not fit."""
    number, rest = 0, b""
    with fs.open_input_stream(path) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop() if chunk else b""
            for line in lines:
                number += 1
                yield from _decoded(line, f"line {number}")
            if not chunk:
                return


def _decoded(line: bytes, locator: str) -> Iterator[tuple[str, str]]:
    try:
        yield locator, line.decode("utf-8")
    except UnicodeDecodeError:
        yield locator, line.decode("utf-8", errors="replace")
        yield locator, line.decode("gb18030", errors="replace")
