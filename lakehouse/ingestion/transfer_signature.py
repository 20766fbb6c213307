"""Signed transfers (4.2.2.3): the message a source system signs for a delivery, and its check.

A source system that signs its deliveries signs, with its Ed25519 private key, the UTF-8 bytes
of this *transfer message*, each line ended by a line feed (no carriage return, no blank
lines)::

    lakehouse-transfer-v1
    system=<system code, as in systems.yaml>
    entity=<entity, as in the source contract>
    file=<the data file's name as delivered, without its folder>
    data_date=<the data date, YYYY-MM-DD>
    sha256=<SHA-256 of the data file's bytes as delivered, 64 lowercase hex digits>

and writes the 64-byte signature, in base64, on the ``signature=`` line of the control file
(beside ``sha256=``). The message binds the bytes, the file, the entity and the date, so a
signed file renamed, delivered for another date or for another entity does not verify.

A system's public key is registered in ``systems.yaml`` as PEM (``-----BEGIN PUBLIC KEY-----``)
or as the 32 raw key bytes in base64. Only this module handles keys and signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import date

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MESSAGE_VERSION = "lakehouse-transfer-v1"
SIGNATURE_BYTES = 64
RAW_KEY_BYTES = 32


def transfer_message(system: str, entity: str, file_name: str, data_date: date, sha256: str) -> bytes:
    """The bytes a source system signs for one delivered data file (the module docstring's
    format)."""
    lines = [MESSAGE_VERSION, f"system={system}", f"entity={entity}", f"file={file_name}",
             f"data_date={data_date.isoformat()}", f"sha256={sha256.lower()}"]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """The Ed25519 public key written as PEM or as 32 raw bytes in base64; ``ValueError``
    saying what is wrong otherwise."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError(f"the PEM block cannot be read ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"the PEM block holds a {type(key).__name__.lstrip('_')}, "
                             "not an Ed25519 public key")
        return key
    raw = _base64(stripped, "the key is neither a PEM block (-----BEGIN PUBLIC KEY-----) nor base64")
    if len(raw) != RAW_KEY_BYTES:
        raise ValueError(f"the key is {len(raw)} bytes in base64, an Ed25519 public key is "
                         f"{RAW_KEY_BYTES}")
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_from_text(text: str) -> bytes:
    """The 64-byte signature written in base64; ``ValueError`` saying what is wrong otherwise."""
    raw = _base64(text.strip(), "the signature is not base64")
    if len(raw) != SIGNATURE_BYTES:
        raise ValueError(f"the signature is {len(raw)} bytes, an Ed25519 signature is "
                         f"{SIGNATURE_BYTES}")
    return raw


def signature_holds(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``key``'s signature over exactly ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    """The base64 signature of ``message`` (what a source system writes on ``signature=``)."""
    return base64.b64encode(private_key.sign(message)).decode("ascii")


def new_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key (a source system's; the demo's)."""
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as an unencrypted PKCS#8 PEM block, as ``openssl genpkey`` writes it."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    """The key as 32 raw bytes in base64 (one of the two forms ``systems.yaml`` takes)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """A short name of the key, to compare with the source system's: ``sha256:`` and the first
    16 hex digits of the SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def _base64(text: str, otherwise: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(otherwise) from None
