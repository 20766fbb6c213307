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

Secrets are never printed: errors name the file and the fix, not its content.
"""

from __future__ import annotations

import hashlib
import hmac
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
        return hmac.new(_master(str(self.path)), purpose.encode("utf-8"), hashlib.sha256).digest()

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
