"""The demo bank's signing source system: the credit card system signs its deliveries (4.2.2.3).

Its Ed25519 private key is made at the first demo run in the project's secret folder (beside
the master key, owner-only) and never leaves it; its public key is registered in the project's
``systems.yaml``, so every process that loads the deliveries verifies them. Nothing of it is
committed: a checkout gets its own keypair.
"""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.admission.system_lifecycle import register_public_key
from lakehouse.ingestion.transfer_signature import (
    new_signing_key, private_key_from_pem, private_key_pem, public_key_text)

SIGNING_SYSTEM = "ccs"


def demo_signers(project) -> dict:
    """System code -> the private key it signs its deliveries with (the demo's signing
    system, when the project has it), its public key registered in ``project``."""
    if SIGNING_SYSTEM not in project.systems:
        return {}
    key = _signing_key(Path(project.settings.key_file).expanduser().parent
                       / f"demo-{SIGNING_SYSTEM}-signing.pem")
    public = public_key_text(key.public_key())
    registered = project.systems[SIGNING_SYSTEM].verification_key
    if registered is None or public_key_text(registered) != public:
        register_public_key(project, SIGNING_SYSTEM, public)
    return {SIGNING_SYSTEM: key}


def _signing_key(path: Path):
    """The private key kept at ``path``, made (owner-only) when there is none."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another demo process made it just now
            pass
        else:
            with os.fdopen(descriptor, "wb") as out:
                out.write(private_key_pem(new_signing_key()))
    return private_key_from_pem(path.read_bytes())
