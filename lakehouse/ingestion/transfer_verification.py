"""Verified transfers (4.2.2.3): a delivery's bytes checked against its control file's
``sha256`` and its source system's ``signature`` before anything of it is landed or loaded.

A control file without either, from a system not required to sign, is not checked here (the
delivery goes on as before). Otherwise the delivery is refused when the data file's SHA-256
is not the declared one, when a signature does not verify with the key registered for the
system in ``systems.yaml`` (or the system has none registered), or when a system marked
``signing: required`` sent no signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lakehouse.config.project import SYSTEMS_FILE
from lakehouse.errors import DeliveryError, Problem
from lakehouse.ingestion.control_file import ControlTotals, read_control_file
from lakehouse.ingestion.transfer_signature import fingerprint, signature_holds, transfer_message
from lakehouse.zones.storage import sha256_of

SIGNED = "signature"
"""How a data file was verified: its SHA-256 and its source system's signature."""
CHECKSUM = "sha256"
"""How a data file was verified: its SHA-256 only (the control file carried no signature)."""
RECIPE = "the signing recipe is in the README, section Configuration"


@dataclass(frozen=True)
class TransferCheck:
    """The outcome for one delivery: the data file's SHA-256 (when it was computed), how it
    was verified (``SIGNED``, ``CHECKSUM`` or None: nothing to verify) and what refuses it."""

    sha256: str | None = None
    verified: str | None = None
    problems: list[Problem] = field(default_factory=list)

    def refusal(self, contract, data_date: date, data_file: Path, control_file: Path | None
                ) -> DeliveryError:
        control = f" with control file {control_file}" if control_file is not None else ""
        return DeliveryError(
            f"delivery {data_file}{control} for {contract.name} on {data_date} is refused: its "
            "transfer is not verified, nothing was landed or loaded", self.problems)


def check_transfer(project, contract, data_date: date, data_file: Path,
                   control_file: Path | None) -> TransferCheck:
    """Verify ``data_file`` against what its control file and its system's registration
    declare; never raises for bad input, lists it in ``problems``."""
    system = project.systems[contract.system]
    required = system.signing == "required"
    systems_file = project.file(SYSTEMS_FILE)
    totals, unreadable = _control_totals(contract, control_file)
    if not required and (totals is None or (totals.sha256 is None and totals.signature is None)):
        return TransferCheck()
    sha = sha256_of(data_file)
    if required and (totals is None or totals.signature is None):
        return TransferCheck(sha, None, [*unreadable, _unsigned(contract, system.code, control_file,
                                                                systems_file, bool(unreadable))])
    if totals.sha256 is not None and totals.sha256 != sha:
        return TransferCheck(sha, None, [Problem(
            f"the data file {data_file.name} has SHA-256 {sha}, its control file declares "
            f"{totals.sha256}: its bytes changed after the source system sent them",
            str(control_file), key="sha256", value=totals.sha256,
            fix=f"ask {system.code} to redeliver the data file and its control file together")])
    if totals.signature is None:
        return TransferCheck(sha, CHECKSUM)
    key = system.verification_key
    if key is None:
        return TransferCheck(sha, None, [Problem(
            f"the control file is signed, but system {system.code} has no public key registered "
            f"in {systems_file}", str(control_file), key="signature",
            fix=f"register {system.code}'s Ed25519 public key as public_key of {system.code} in "
                f"{systems_file}, then run the load again")])
    message = transfer_message(system.code, contract.entity, data_file.name, data_date, sha)
    if not signature_holds(key, totals.signature, message):
        return TransferCheck(sha, None, [Problem(
            f"the signature does not verify with the public key registered for {system.code} "
            f"({fingerprint(key)}): it was made with another key, or over other bytes, another "
            f"file name, entity or data date than {data_file.name}, {contract.entity}, "
            f"{data_date}", str(control_file), key="signature",
            fix=f"ask {system.code} to re-sign the delivery with its registered key and redeliver "
                f"the control file ({RECIPE}); if {system.code} changed its key, register the new "
                f"public key in {systems_file}")])
    return TransferCheck(sha, SIGNED)


def _control_totals(contract, control_file: Path | None
                    ) -> tuple[ControlTotals | None, list[Problem]]:
    """The control file's content, or the problems that make it unreadable (none when it is
    missing: the load reports that)."""
    if control_file is None or not control_file.is_file():
        return None, []
    try:
        return read_control_file(control_file, contract.delivery.encoding,
                                 contract.delivery.path_date_format), []
    except DeliveryError as exc:
        return None, [Problem(exc.summary, str(control_file)), *exc.problems]


def _unsigned(contract, code: str, control_file: Path | None, systems_file: Path,
              unreadable: bool) -> Problem:
    why = f"system {code} is required to sign its deliveries (signing: required in {systems_file})"
    if control_file is None:
        return Problem(f"{why}, but the contract declares no control file to carry the signature",
                       str(contract.source_file) if contract.source_file else None,
                       key="delivery.control",
                       fix="declare delivery.control in the contract, or set signing: optional")
    if not control_file.is_file():
        return Problem(f"control file not found; {why}", str(control_file),
                       fix=f"ask {code} to deliver the control file, with sha256 and signature, "
                           "beside the data file")
    if unreadable:
        return Problem(f"the control file cannot be read, so neither can its signature; {why}",
                       str(control_file),
                       fix=f"ask {code} to redeliver a well-formed, signed control file ({RECIPE})")
    return Problem(f"the control file carries no signature; {why}", str(control_file),
                   key="signature",
                   fix=f"ask {code} to sign the delivery and redeliver its control file with "
                       f"sha256= and signature= lines ({RECIPE})")
