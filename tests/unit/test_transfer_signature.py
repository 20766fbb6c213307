"""Verified transfers (issue #17 point 6, 4.2.2.3): the signed message, signatures, the keys in
systems.yaml and the verdict on a delivery's control file. No Spark."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lakehouse.admission.system_lifecycle import register_public_key
from lakehouse.config import load_project, validate_project
from lakehouse.demo.delivery_writer import sign_delivery, write_delivery
from lakehouse.errors import DeliveryError
from lakehouse.ingestion.control_file import read_control_file
from lakehouse.ingestion.transfer_signature import (
    fingerprint, new_signing_key, public_key_from_text, public_key_text, sign, signature_holds,
    transfer_message)
from lakehouse.ingestion.transfer_verification import CHECKSUM, SIGNED, check_transfer

from .test_config import minimal_project, write

REPO = Path(__file__).resolve().parents[2]
D = date(2026, 11, 1)
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PEM_HEADER = "-----BEGIN PUBLIC KEY-----"


# -- the signed message and signatures ----------------------------------------------------------

def test_the_transfer_message_is_six_lines_binding_system_entity_file_date_and_digest():
    message = transfer_message("ccs", "card", "card_20261101.csv", D, SHA.upper())
    assert message == (b"lakehouse-transfer-v1\nsystem=ccs\nentity=card\nfile=card_20261101.csv\n"
                       b"data_date=2026-11-01\nsha256=" + SHA.encode() + b"\n")


def test_a_signature_holds_for_its_message_and_key_only():
    key, other = new_signing_key(), new_signing_key()
    message = transfer_message("ccs", "card", "card_20261101.csv", D, SHA)
    signature = base64.b64decode(sign(key, message))
    assert signature_holds(key.public_key(), signature, message)
    assert not signature_holds(other.public_key(), signature, message)
    for changed in (transfer_message("ccs", "card", "card_20261102.csv", D, SHA),
                    transfer_message("ccs", "card_txn", "card_20261101.csv", D, SHA),
                    transfer_message("ccs", "card", "card_20261101.csv", date(2026, 11, 2), SHA),
                    transfer_message("ccs", "card", "card_20261101.csv", D, "0" + SHA[1:])):
        assert not signature_holds(key.public_key(), signature, changed)


def copy_conf(target: Path) -> None:
    """The repository's conf/ without the public keys a `make demo` in this checkout registered
    (``lakehouse.demo.signing``): the tests start from the committed registry."""
    shutil.copytree(REPO / "conf", target)
    systems = target / "systems.yaml"
    systems.write_text("".join(line for line in systems.read_text(encoding="utf-8").splitlines(True)
                               if not line.lstrip().startswith("public_key:")), encoding="utf-8")


def readme_block(language: str, containing: str) -> str:
    """The README's code block in ``language`` that contains ``containing``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split(f"```{language}\n")[1:]]
    [block] = [b for b in blocks if containing in b]
    return block


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_the_readme_signing_recipes_sign_a_delivery_that_verifies(tmp_path, monkeypatch):
    copy_conf(tmp_path / "conf")
    project = load_project(tmp_path / "conf", paths={"landing": tmp_path / "landing"})
    contract, day = project.sources["ccs.card"], date(2026, 11, 25)
    data = write_delivery(contract, Path(project.settings.landing), day, [])
    data.write_bytes(b"6299010000000001" + data.read_bytes())
    control = data.with_suffix(".ctl")
    subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block("sh", "openssl genpkey")],
                   cwd=data.parent, check=True, capture_output=True)
    register_public_key(project, "ccs", (data.parent / "ccs.pub").read_text())
    assert check_transfer(project, contract, day, data, control).verified == SIGNED

    namespace: dict = {}
    control.write_text("data_date=20261125\nrow_count=0\namount_total=0\n", encoding="gbk")
    monkeypatch.chdir(data.parent)
    exec(readme_block("python", "load_pem_private_key"), namespace)
    with control.open("a", encoding="gbk") as out:
        out.write(namespace["control_lines"])
    assert check_transfer(project, contract, day, data, control).verified == SIGNED
    data.write_bytes(data.read_bytes() + b" ")
    assert check_transfer(project, contract, day, data, control).verified is None


def test_a_public_key_is_read_from_pem_or_base64_raw_and_anything_else_is_named():
    key = new_signing_key().public_key()
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert fingerprint(public_key_from_text(pem)) == fingerprint(key)
    assert fingerprint(public_key_from_text(public_key_text(key))) == fingerprint(key)
    rsa_pem = rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for text, reason in ((rsa_pem, "the PEM block holds a RSAPublicKey, not an Ed25519 public key"),
                         ("bm90IGEga2V5", "the key is 9 bytes in base64, an Ed25519 public key is 32"),
                         ("not a key!", "the key is neither a PEM block (-----BEGIN PUBLIC KEY-----) "
                                        "nor base64")):
        with pytest.raises(ValueError) as raised:
            public_key_from_text(text)
        assert str(raised.value) == reason


# -- systems.yaml ------------------------------------------------------------------------------

def test_systems_yaml_keys_are_validated_where_they_are_written(tmp_path):
    conf = minimal_project(tmp_path)
    good = public_key_text(new_signing_key().public_key())
    write(conf, "systems.yaml", f"""
        systems:
          - code: cbs
            name: 核心银行系统
            owner: zhang.wei
            certification: [{{event: certified, date: 2018-06-30}}]
            public_key: bm90IGEga2V5
          - code: ccs
            name: 信用卡系统
            owner: wang.fang
            certification: [{{event: certified, date: 2019-03-31}}]
            signing: required
          - code: lns
            name: 贷款系统
            owner: chen.jie
            certification: [{{event: certified, date: 2020-09-30}}]
            public_key: {good}
            signing: always
    """)
    found = [(p.file, p.line, p.key, p.message, p.fix) for p in validate_project(conf)]
    systems = str(conf / "systems.yaml")
    assert found == [
        (systems, 6, "systems[0].public_key",
         "public_key is not an Ed25519 public key: the key is 9 bytes in base64, an Ed25519 "
         "public key is 32",
         "paste the system's public key: the PEM block of `openssl pkey -pubout`, or its 32 raw "
         "bytes in base64"),
        (systems, 11, "systems[1].signing",
         "system 'ccs' is required to sign its deliveries but has no public_key to verify them with",
         "register the system's Ed25519 public key under public_key, or set signing: optional"),
        (systems, 17, "systems[2].signing", "signing must be one of: optional, required",
         found[2][4]),
    ]


def test_a_pem_public_key_and_required_signing_load(tmp_path):
    conf = minimal_project(tmp_path)
    pem = new_signing_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    indented = "\n".join("              " + line for line in pem.strip().splitlines())
    write(conf, "systems.yaml", f"""
        systems:
          - code: cbs
            name: 核心银行系统
            owner: zhang.wei
            certification: [{{event: certified, date: 2018-06-30}}]
            signing: required
            public_key: |
{indented}
    """)
    assert validate_project(conf) == []
    system = load_project(conf).systems["cbs"]
    assert system.signing == "required" and system.public_key.startswith(PEM_HEADER)
    assert system.verification_key is not None


def test_registering_a_public_key_keeps_the_comments_of_systems_yaml(tmp_path):
    copy_conf(tmp_path / "conf")
    project = load_project(tmp_path / "conf")
    key = public_key_text(new_signing_key().public_key())
    register_public_key(project, "ccs", key)
    text = (tmp_path / "conf" / "systems.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Source systems (6.2.4.1 source check)")
    assert load_project(tmp_path / "conf").systems["ccs"].public_key == key
    assert project.systems["ccs"].public_key == key
    assert project.systems["cbs"].public_key is None


# -- a delivery's control file and its verdict --------------------------------------------------

@pytest.fixture
def card(tmp_path):
    """A copy of the repo's conf with a delivery of ccs.card for D in its landing folder."""
    copy_conf(tmp_path / "conf")
    project = load_project(tmp_path / "conf", paths={"root": tmp_path / "root",
                                                     "landing": tmp_path / "landing"})
    contract = project.sources["ccs.card"]
    landing = Path(project.settings.landing)
    data = write_delivery(contract, landing, D, [])
    data.write_bytes(data.read_bytes() + b"6299010000000001,A\n")
    control = landing / contract.delivery.control.control_path(D, contract.delivery.path_date_format)
    return project, contract, landing, data, control


def verdict(card):
    project, contract, _, data, control = card
    return check_transfer(project, contract, D, data, control)


def test_a_control_file_without_sha256_or_signature_is_not_checked(card):
    assert verdict(card).verified is None and verdict(card).problems == []
    assert verdict(card).sha256 is None  # the file is not even read


def test_a_good_signature_verifies_and_one_changed_byte_is_refused(card):
    project, contract, landing, data, control = card
    key = new_signing_key()
    register_public_key(project, "ccs", public_key_text(key.public_key()))
    sign_delivery(contract, landing, D, key)
    good = verdict(card)
    assert (good.verified, good.problems) == (SIGNED, [])
    assert good.sha256 == read_control_file(control, "utf-8", "%Y%m%d").sha256

    data.write_bytes(data.read_bytes().replace(b"A\n", b"B\n"))
    changed = verdict(card)
    assert changed.verified is None
    [problem] = changed.problems
    assert problem.file == str(control) and problem.key == "sha256"
    assert problem.message.startswith(f"the data file {data.name} has SHA-256 {changed.sha256}, "
                                      f"its control file declares {good.sha256}")
    assert problem.fix == "ask ccs to redeliver the data file and its control file together"
    message = changed.refusal(contract, D, data, control).render()
    assert message.startswith(f"delivery {data} with control file {control} for ccs.card on "
                              "2026-11-01 is refused: its transfer is not verified, nothing was "
                              "landed or loaded")


def test_a_checksum_alone_verifies_the_bytes(card):
    project, contract, landing, data, control = card
    sign_delivery(contract, landing, D, new_signing_key())
    control.write_text("".join(line + "\n" for line in control.read_text().splitlines()
                               if not line.startswith("signature=")))
    assert (verdict(card).verified, verdict(card).problems) == (CHECKSUM, [])


def test_a_signature_by_another_key_or_over_another_file_is_refused(card):
    project, contract, landing, data, control = card
    registered = new_signing_key()
    register_public_key(project, "ccs", public_key_text(registered.public_key()))
    sign_delivery(contract, landing, D, new_signing_key())  # not the registered key
    [problem] = verdict(card).problems
    assert problem.key == "signature" and problem.file == str(control)
    assert problem.message.startswith(
        f"the signature does not verify with the public key registered for ccs "
        f"({fingerprint(registered.public_key())}): it was made with another key")
    assert "re-sign the delivery with its registered key" in problem.fix
    assert f"register the new public key in {project.file('systems.yaml')}" in problem.fix

    renamed = data.with_name("card_copy.csv")  # signed for its delivered name, given another
    shutil.copy(data, renamed)
    sign_delivery(contract, landing, D, registered)
    assert verdict(card).problems == []
    assert [p.key for p in check_transfer(project, contract, D, renamed, control).problems] == [
        "signature"]


def test_a_signature_without_a_registered_key_is_refused(card):
    project, contract, landing, data, control = card
    sign_delivery(contract, landing, D, new_signing_key())
    [problem] = verdict(card).problems
    assert problem.message == ("the control file is signed, but system ccs has no public key "
                               f"registered in {project.file('systems.yaml')}")
    assert problem.fix.startswith("register ccs's Ed25519 public key as public_key of ccs")


def test_a_system_required_to_sign_is_refused_without_a_signature(card):
    project, contract, landing, data, control = card
    key = new_signing_key()
    register_public_key(project, "ccs", public_key_text(key.public_key()))
    project.systems["ccs"] = project.systems["ccs"].model_copy(update={"signing": "required"})
    [problem] = verdict(card).problems
    assert problem.message == ("the control file carries no signature; system ccs is required to "
                               "sign its deliveries (signing: required in "
                               f"{project.file('systems.yaml')})")
    assert problem.file == str(control) and problem.key == "signature"

    control.unlink()
    [problem] = verdict(card).problems
    assert problem.message.startswith("control file not found; system ccs is required to sign")

    write_delivery(contract, landing, D, [])
    sign_delivery(contract, landing, D, key)
    assert verdict(card).verified == SIGNED


def test_sha256_and_signature_lines_that_cannot_be_read_are_located(tmp_path):
    control = tmp_path / "card.ctl"
    control.write_text("data_date=20261101\nrow_count=1\nsha256=abc\nsignature=c2hvcnQ=\n")
    with pytest.raises(DeliveryError) as raised:
        read_control_file(control, "utf-8", "%Y%m%d")
    assert [(p.line, p.key, p.message) for p in raised.value.problems] == [
        (3, "sha256", "sha256 is not 64 hexadecimal digits"),
        (4, "signature", "signature cannot be read: the signature is 5 bytes, an Ed25519 "
                         "signature is 64"),
    ]


# -- the demo bank ---------------------------------------------------------------------------------

def test_the_demo_signs_the_card_systems_deliveries_with_a_key_kept_in_the_secret_folder(
        tmp_path, monkeypatch):
    from lakehouse.api import Lakehouse
    from lakehouse.demo.run import generate
    from lakehouse.demo.signing import SIGNING_SYSTEM

    secrets = tmp_path / "secrets"
    monkeypatch.setenv("LAKEHOUSE_KEY_FILE", str(secrets / "master.key"))
    copy_conf(tmp_path / "conf")
    lh = Lakehouse(tmp_path / "conf", root=tmp_path / "root", landing=tmp_path / "landing")
    dates, _, _ = generate(lh, customers=40, days=1, start=D, seed=3, defect_rate=0)
    [key_file] = secrets.iterdir()
    assert key_file.name == "demo-ccs-signing.pem" and key_file.stat().st_mode & 0o077 == 0
    registered = load_project(tmp_path / "conf").systems[SIGNING_SYSTEM].public_key
    assert registered == lh.project.systems[SIGNING_SYSTEM].public_key is not None
    assert "PRIVATE" not in (tmp_path / "conf" / "systems.yaml").read_text(encoding="utf-8")

    verdicts = {}
    for name, contract in lh.project.sources.items():
        data = Path(lh.settings.landing) / contract.delivery.data_path(D)
        control = None if contract.delivery.control is None else \
            Path(lh.settings.landing) / contract.delivery.control.control_path(
                D, contract.delivery.path_date_format)
        verdicts[name] = check_transfer(lh.project, contract, D, data, control)
    assert all(not v.problems for v in verdicts.values())
    assert {n for n, v in verdicts.items() if v.verified == SIGNED} == {"ccs.card", "ccs.card_txn"}
    assert {v.verified for n, v in verdicts.items() if not n.startswith("ccs.")} == {None}

    generate(lh, customers=40, days=1, start=D, seed=3, defect_rate=0)  # a second run: same key
    assert load_project(tmp_path / "conf").systems[SIGNING_SYSTEM].public_key == registered
