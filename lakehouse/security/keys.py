"""The key provider: secrets for keyed pseudonyms and protected values, never in conf/ or logs.

A ``KeyProvider`` hands out one 32-byte secret per *purpose* (``"pseudonym"``,
``"quarantine-key"``, ...), derived from a master key as HMAC-SHA256(master, purpose), so one
master key serves every purpose and no purpose's secret reveals another's.

The default provider is a local key file (settings ``key_file``, default
``./.secrets/master.key`` beside conf/, or $LAKEHOUSE_KEY_FILE): 32 random bytes written by
``make setup`` (``python -m lakehouse.security.keys init``) with owner-only permissions. A file
readable by group or others is refused. A bank plugs in its KMS by implementing ``KeyProvider``
(``secret(purpose) -> bytes``) over the KMS's data-key API and returning it from
``key_provider``; nothing else in the code reads keys.

Envelope: the purposes' secrets derive from a *root secret* that the master key wraps
(AES-256-GCM, in ``<key file>.wrapped.json`` beside it); before the first rotation the root is
the master key itself. ``rotate_master_key`` writes a new master key and re-wraps the root with
it: every pseudonym, sealed value and encrypted file stays readable and no data is rewritten.

Secrets are never printed: errors name the file and the fix, not its content.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import sys
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from lakehouse.errors import ConfigError, Problem

KEY_BYTES = 32
KEY_FILE_VARIABLE = "LAKEHOUSE_KEY_FILE"
DEFAULT_KEY_FILE = Path(".secrets") / "master.key"


class KeyProvider(Protocol):
    """Where secrets come from (a key file here; a KMS in production)."""

    def secret(self, purpose: str) -> bytes:
        """The 32-byte secret for ``purpose``; the same on every call and in every process."""


class KeyFile:
    """The local key provider: a master key file with owner-only permissions."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()

    def secret(self, purpose: str) -> bytes:
        return hmac.new(_root(str(self.path)), purpose.encode("utf-8"), hashlib.sha256).digest()

    def __repr__(self) -> str:  # never the key
        return f"KeyFile({str(self.path)!r})"


def key_provider(key_file: str | Path) -> KeyProvider:
    """The provider of a project (``project.settings.key_file``)."""
    return KeyFile(key_file)


def for_project(project) -> KeyProvider:
    return key_provider(project.settings.key_file)


@lru_cache(maxsize=8)
def _master(path: str) -> bytes:
    file = Path(path)
    fix = "run `make setup` (or `python -m lakehouse.security.keys init`) to create it"
    if not file.is_file():
        raise ConfigError("no master key", [Problem(
            f"the key file {file} does not exist", key="key_file", fix=fix)])
    mode = stat.S_IMODE(file.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError("the master key is readable by others", [Problem(
            f"the key file {file} has permissions {mode:04o}", key="key_file",
            fix=f"chmod 600 {file}")])
    key = file.read_bytes()
    if len(key) != KEY_BYTES:
        raise ConfigError("the master key file is malformed", [Problem(
            f"the key file {file} holds {len(key)} bytes, not {KEY_BYTES}", key="key_file",
            fix="restore it from your key backup; a new key changes every pseudonym")])
    return key


def wrapped_root_file(key_file: str | Path) -> Path:
    """Where the root secret is kept wrapped by the master key (beside the key file)."""
    key_file = Path(key_file).expanduser()
    return key_file.with_name(key_file.name + ".wrapped.json")


def _fingerprint(master: bytes) -> str:
    """A name for a master key that reveals nothing of it."""
    return hmac.new(master, b"lakehouse master key fingerprint", hashlib.sha256).hexdigest()[:16]


@lru_cache(maxsize=8)
def _root(path: str) -> bytes:
    """The root secret: unwrapped from the wrapped-root file, else the master key itself."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    master = _master(path)
    wrapped_file = wrapped_root_file(path)
    if not wrapped_file.is_file():
        return master
    fix = ("restore the master key that wraps it from your key backup (the key file and "
           f"{wrapped_file.name} go together)")
    try:
        wrapped = json.loads(wrapped_file.read_text(encoding="utf-8"))["wrapped"][_fingerprint(master)]
        sealed = base64.b64decode(wrapped)
        return AESGCM(master).decrypt(sealed[:12], sealed[12:], b"lakehouse root secret")
    except KeyError:
        raise ConfigError("the master key does not open the wrapped root secret", [Problem(
            f"{wrapped_file} holds no root secret wrapped by the master key {path}",
            key="key_file", fix=fix)]) from None
    except (ValueError, InvalidTag, TypeError):
        raise ConfigError("the wrapped root secret is unreadable", [Problem(
            f"{wrapped_file} is malformed or was not wrapped by the master key {path}",
            key="key_file", fix=fix)]) from None


def _wrap_root(root: bytes, master: bytes) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(master).encrypt(nonce, root, b"lakehouse root secret")).decode()


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one step (a file beside it, owner-only, then renamed)."""
    partial = path.with_name(path.name + ".part")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def rotate_master_key(path: str | Path) -> str:
    """Replace the master key at ``path`` by a new random one and re-wrap the root secret with
    it (no data file, pseudonym or sealed value changes); the new key's fingerprint.

    Safe against a crash at any step: the wrapped-root file names the root under the old and
    the new master key until the new key is in place."""
    file = Path(path).expanduser()
    old = _master(str(file))
    root = _root(str(file))
    new = os.urandom(KEY_BYTES)
    record = wrapped_root_file(file)
    both = {_fingerprint(old): _wrap_root(root, old), _fingerprint(new): _wrap_root(root, new)}
    _write_private(record, json.dumps({"format": 1, "wrapped": both}).encode())
    _write_private(file, new)
    _master.cache_clear()
    _write_private(record, json.dumps({"format": 1, "wrapped": {
        _fingerprint(new): both[_fingerprint(new)]}}).encode())
    _root.cache_clear()
    return _fingerprint(new)


def create_key_file(path: str | Path) -> bool:
    """Write a new random master key to ``path`` (owner-only), unless one is there; True if
    written. An existing key is never replaced: pseudonyms made with it would no longer match."""
    file = Path(path).expanduser()
    if file.exists():
        return False
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(os.urandom(KEY_BYTES))
    return True


def default_key_file(project_dir: str | Path = ".") -> Path:
    """$LAKEHOUSE_KEY_FILE, else ``.secrets/master.key`` in ``project_dir``."""
    return Path(os.environ.get(KEY_FILE_VARIABLE) or Path(project_dir) / DEFAULT_KEY_FILE)


def main(argv: list[str]) -> int:
    if argv[:1] != ["init"]:
        print("usage: python -m lakehouse.security.keys init [KEY_FILE]", file=sys.stderr)
        return 2
    file = Path(argv[1]) if len(argv) > 1 else default_key_file()
    made = create_key_file(file)
    print(f"master key {'created' if made else 'kept'}: {file} (owner-only; back it up, never commit it)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
