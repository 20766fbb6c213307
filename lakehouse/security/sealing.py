"""Sealed text: protected values that masking cannot reach, kept encrypted and opened only for a
principal cleared to read them in clear (a quarantined line that cannot be split into its fields,
so its sensitive fields cannot be found to mask).

AES-256-GCM (the ``cryptography`` package) with the key provider's secret for the purpose
(:mod:`lakehouse.security.keys`) and a random 96-bit nonce per value. ``context`` is bound as
associated data, so a sealed value opens only with the context it was sealed in (its table): it
cannot be moved to a table its reader may see more of. A sealed value is ``v1:`` followed by the
base64url of nonce, ciphertext and tag.
"""

from __future__ import annotations

import base64
import os

from lakehouse.errors import Problem, TerminalError
from lakehouse.security.keys import KeyProvider

QUARANTINE_LINE = "quarantine-line"
"""The key provider purpose of sealed quarantine lines."""
VERSION = "v1:"
NONCE_BYTES = 12


def seal(keys: KeyProvider, purpose: str, text: str, context: str) -> str:
    """``text`` encrypted with the secret of ``purpose``, bound to ``context``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keys.secret(purpose)).encrypt(nonce, text.encode("utf-8"), context.encode("utf-8"))
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(keys: KeyProvider, purpose: str, sealed: str, context: str) -> str:
    """The text ``seal`` sealed; raises ``TerminalError`` when it cannot be opened (another
    master key, another context, or altered)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        if not sealed.startswith(VERSION):
            raise ValueError("unknown format")
        data = base64.urlsafe_b64decode(sealed[len(VERSION):].encode("ascii"))
        text = AESGCM(keys.secret(purpose)).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:],
                                                    context.encode("utf-8"))
    except (InvalidTag, ValueError):
        raise TerminalError(f"a sealed value of {context} cannot be opened", [Problem(
            "it was sealed with another master key, for another table, or altered",
            key="key_file", fix="read it with the master key of the lakehouse that sealed it "
                                "(settings key_file)")]) from None
    return text.decode("utf-8")
