"""API keys of the data services' consumers: ``lhk_<key id>_<secret>``, printed once when issued;
governance keeps only the key id, its principal and the SHA-256 of the secret (the secret is 32
random bytes, so a plain hash cannot be reversed by trying candidates)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timezone

from lakehouse.engine import delta_rs
from lakehouse.errors import ConfigError, Problem
from lakehouse.governance.records import ServiceKeysRecord, spec_of

PREFIX = "lhk"
_KEY = re.compile(rf"{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,}})")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue(project, principal: str, by: str) -> tuple[str, ServiceKeysRecord]:
    """A new key for ``principal`` (a principal of security.yaml): the key text, to hand to the
    consumer once, and the record kept in governance."""
    known = [p.id for p in project.security.principals]
    if principal not in known:
        raise ConfigError(f"unknown principal {principal!r}", [Problem(
            f"{principal!r} is not a principal of {project.conf_dir / 'security.yaml'}",
            key="--consumer", value=principal, fix=f"name one of: {', '.join(known)}")])
    key, record = new_key(principal, by)
    delta_rs.append(spec_of(ServiceKeysRecord, project.settings.root), [record.as_row()])
    return key, record


def new_key(principal: str, by: str) -> tuple[str, ServiceKeysRecord]:
    """A fresh key text for ``principal`` and its record (not yet kept)."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    record = ServiceKeysRecord(key_id=key_id, principal=principal, key_hash=_hash(secret),
                               event="issued", by=by, at=datetime.now(timezone.utc))
    return f"{PREFIX}_{key_id}_{secret}", record


def revoke(project, key_id: str, by: str) -> ServiceKeysRecord:
    record = ServiceKeysRecord(key_id=key_id, principal=None, key_hash=None, event="revoked", by=by,
                               at=datetime.now(timezone.utc))
    delta_rs.append(spec_of(ServiceKeysRecord, project.settings.root), [record.as_row()])
    return record


class KeyRing:
    """The keys in force (issued, not revoked): who a presented key authenticates."""

    def __init__(self, records: Iterable[ServiceKeysRecord]):
        self._keys: dict[str, tuple[str, str]] = {}
        for record in sorted(records, key=lambda r: r.at):
            if record.event == "issued":
                self._keys[record.key_id] = (record.principal, record.key_hash)
            else:
                self._keys.pop(record.key_id, None)

    def __len__(self) -> int:
        return len(self._keys)

    def principal_of(self, presented: str | None) -> str | None:
        """The principal ``presented`` authenticates; None for no key, a malformed, unknown or
        revoked key, or a wrong secret."""
        match = _KEY.fullmatch(presented or "")
        if match is None:
            return None
        found = self._keys.get(match.group(1))
        if found is None or not hmac.compare_digest(found[1], _hash(match.group(2))):
            return None
        return found[0]
