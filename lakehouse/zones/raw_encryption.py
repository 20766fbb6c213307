"""Raw files encrypted at rest (4.2.2.2 c): envelope AES-256-GCM, streamed in chunks.

A stored file is ``MAGIC``, the length and text of its data key wrapped by the raw zone's
key-encryption key (``lakehouse.security.at_rest.wrap_key``), then chunks of at most 1 MiB, each
``length | nonce | ciphertext+tag``; a chunk's associated data is the file's header, its number
and whether it is the last, so chunks cannot be reordered, dropped or cut off unnoticed. The
checksum of the bytes as delivered is kept beside the file (``<file>.sha256``), so an identical
re-delivery is recognised without decrypting and the delivered bytes can be verified after
decryption.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyarrow import fs as pafs

from lakehouse.errors import Problem, TerminalError
from lakehouse.security.at_rest import unwrap_key, wrap_key

MAGIC = b"LHRAWENC1\n"
KEK_ID = "lakehouse_raw_v1"
CHUNK = 1 << 20
CHECKSUM_SUFFIX = ".sha256"
_NONCE = 12


def checksum_path(path: str) -> str:
    """Where the SHA-256 of the delivered bytes of the stored file ``path`` is kept."""
    return path + CHECKSUM_SUFFIX


def store_encrypted(local: Path, fs: pafs.FileSystem, target: str, kek: bytes) -> str:
    """Encrypt the local file ``local`` to ``target`` under a new data key wrapped by ``kek``,
    and keep the delivered bytes' SHA-256 beside it; that SHA-256."""
    data_key = os.urandom(32)
    wrapped = wrap_key(data_key, kek, KEK_ID).encode("ascii")
    header = MAGIC + struct.pack(">H", len(wrapped)) + wrapped
    cipher, digest = AESGCM(data_key), hashlib.sha256()
    fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
    with open(local, "rb") as src, fs.open_output_stream(target) as dst:
        dst.write(header)
        number, chunk = 0, src.read(CHUNK)
        while True:
            following = src.read(CHUNK)
            digest.update(chunk)
            nonce = os.urandom(_NONCE)
            sealed = cipher.encrypt(nonce, chunk, _aad(header, number, not following))
            dst.write(struct.pack(">I", len(sealed)) + nonce + sealed)
            if not following:
                break
            number, chunk = number + 1, following
    with fs.open_output_stream(checksum_path(target)) as out:
        out.write(digest.hexdigest().encode("ascii"))
    return digest.hexdigest()


def is_encrypted(fs: pafs.FileSystem, path: str) -> bool:
    with fs.open_input_stream(path) as stream:
        return stream.read(len(MAGIC)) == MAGIC


def delivered_chunks(fs: pafs.FileSystem, path: str, kek: bytes) -> Iterator[bytes]:
    """The delivered bytes of the stored file ``path``, decrypted chunk by chunk (and checked:
    ``TerminalError`` naming the file when a chunk was altered or the key does not fit)."""
    with fs.open_input_stream(path) as stream:
        if stream.read(len(MAGIC)) != MAGIC:
            raise _unreadable(path, "it is not an encrypted raw file")
        size = struct.unpack(">H", stream.read(2))[0]
        wrapped = stream.read(size)
        header = MAGIC + struct.pack(">H", size) + wrapped
        try:
            cipher = AESGCM(unwrap_key(wrapped.decode("ascii"), kek, KEK_ID))
        except (InvalidTag, ValueError):
            raise _unreadable(path, "its data key does not open with the raw zone's key") from None
        number, length = 0, stream.read(4)
        while True:
            if len(length) < 4:
                raise _unreadable(path, "it ends before its last chunk (cut off)")
            body = stream.read(struct.unpack(">I", length)[0] + _NONCE)
            length = stream.read(4)
            try:
                yield cipher.decrypt(body[:_NONCE], body[_NONCE:], _aad(header, number, not length))
            except InvalidTag:
                raise _unreadable(path, f"chunk {number} was altered or the file cut off") from None
            if not length:
                return
            number += 1


def delivered_sha256(fs: pafs.FileSystem, path: str) -> str | None:
    """The SHA-256 of the delivered bytes kept beside the stored file (None: none kept)."""
    try:
        with fs.open_input_stream(checksum_path(path)) as stream:
            return stream.read().decode("ascii").strip()
    except FileNotFoundError:
        return None


def _aad(header: bytes, number: int, last: bool) -> bytes:
    return header + struct.pack(">Q?", number, last)


def _unreadable(path: str, why: str) -> TerminalError:
    return TerminalError(f"the raw file {path} cannot be decrypted", [Problem(
        why, path, fix="restore it from a backup; check the key file is the lakehouse's")])
