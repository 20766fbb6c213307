"""Verified transfers (issue #17 point 6, 4.2.2.3): a delivery whose bytes are not the ones the
source system signed is refused before it is landed, and nothing is loaded."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from lakehouse.admission.system_lifecycle import register_public_key
from lakehouse.demo.delivery_writer import sign_delivery, write_delivery
from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.ingestion.transfer_signature import new_signing_key, public_key_text

from .test_near_source_loads import account

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
SOURCE = "cbs.account"
D1 = date(2026, 11, 1)


@pytest.fixture(scope="module")
def signed(tmp_path_factory, engine, registered_root):
    """The repo's contracts, registered; cbs's public key registered and one signed delivery
    of cbs.account loaded for D1. Returns the lakehouse and cbs's private key."""
    from lakehouse.api import Lakehouse

    base = tmp_path_factory.mktemp("verified_transfers")
    shutil.copytree(REPO_CONF, base / "conf")
    shutil.copytree(registered_root, base / "lakehouse")
    lakehouse = Lakehouse(base / "conf", engine=engine, root=base / "lakehouse", landing=base / "landing")
    key = new_signing_key()
    register_public_key(lakehouse.project, "cbs", public_key_text(key.public_key()))
    deliver(lakehouse, D1, [account("A1", "10.00"), account("A2", "20.00")], key)
    summary = lakehouse.run(D1, [SOURCE])
    assert summary.ok, summary.results[0].message
    return lakehouse, key


def deliver(lh, day: date, records: list[dict], key=None) -> Path:
    contract = lh.contract(SOURCE)
    path = write_delivery(contract, lh.settings.landing, day, records)
    if key is not None:
        sign_delivery(contract, lh.settings.landing, day, key)
    return path


def refused(lh, day: date) -> str:
    """Run the load; assert it was refused with the table's version and rows unchanged, the
    refusal in the load log, and nothing landed; return the message."""
    spec = lh.table(SOURCE)
    version, rows = lh.engine.version(spec), lh.engine.rows(spec)
    summary = lh.run(day, [SOURCE])
    [result] = summary.results
    assert result.status == "failed"
    assert (lh.engine.version(spec), lh.engine.rows(spec)) == (version, rows)
    log = lh.engine.rows(governance.load_log(lh.root), where(run_id=summary.run_id))
    assert [(r["status"], r["rows_loaded"], r["message"]) for r in log] == [
        ("failed", 0, result.message)]
    assert log[0]["sha256"] is not None  # the refused bytes are named
    assert lh.engine.rows(governance.raw_manifest(lh.root), where(run_id=summary.run_id)) == []
    return result.message


def test_a_good_signed_delivery_loads_and_its_manifest_says_it_was_signed(signed):
    lh, _ = signed
    rows = lh.engine.rows(lh.table(SOURCE), where(data_date=D1), order_by=["account_id"])
    assert [r["account_id"] for r in rows] == ["A1", "A2"]
    manifest = {r["role"]: r for r in lh.engine.rows(governance.raw_manifest(lh.root),
                                                     where(source=SOURCE, data_date=D1))}
    assert (manifest["data"]["verified"], manifest["control"]["verified"]) == ("signature", None)
    [load] = lh.engine.rows(governance.load_log(lh.root), where(source=SOURCE, data_date=D1,
                                                                status="succeeded"))
    assert load["sha256"] == manifest["data"]["sha256"]


def test_one_changed_byte_is_refused_and_nothing_is_loaded_or_landed(signed):
    lh, key = signed
    path = deliver(lh, D1, [account("A1", "10.00"), account("A2", "20.00")], key)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"20.00", b"29.00"))  # one byte changed after signing
    message = refused(lh, D1)
    control = path.with_suffix(".ctl")
    assert message.startswith(f"delivery {path} with control file {control} for cbs.account on "
                              "2026-11-01 is refused: its transfer is not verified, nothing was "
                              "landed or loaded")
    assert f"{control}: the data file {path.name} has SHA-256" in message
    assert "its bytes changed after the source system sent them" in message
    assert "fix: ask cbs to redeliver the data file and its control file together" in message
    folder = Path(lh.root) / "raw/cbs/account/data_date=2026-11-01"
    assert sorted(p.name for p in folder.iterdir()) == ["v1"]


def test_a_signature_by_another_key_is_refused(signed):
    lh, _ = signed
    day = date(2026, 11, 2)
    path = deliver(lh, day, [account("A3")], new_signing_key())
    message = refused(lh, day)
    assert "the signature does not verify with the public key registered for cbs" in message
    assert "fix: ask cbs to re-sign the delivery with its registered key" in message
    assert not (Path(lh.root) / "raw/cbs/account/data_date=2026-11-02").exists()
    assert path.is_file()  # left in landing for the source system to replace


def test_a_system_required_to_sign_is_refused_an_unsigned_delivery_and_loads_a_signed_one(signed):
    lh, key = signed
    day = date(2026, 11, 3)
    system = lh.project.systems["cbs"]
    lh.project.systems["cbs"] = system.model_copy(update={"signing": "required"})
    try:
        deliver(lh, day, [account("A4")])
        message = refused(lh, day)
        assert "the control file carries no signature; system cbs is required to sign its " \
               "deliveries (signing: required in" in message
        deliver(lh, day, [account("A4")], key)
        summary = lh.run(day, [SOURCE])
        assert summary.ok, summary.results[0].message
    finally:
        lh.project.systems["cbs"] = system
    rows = lh.engine.rows(lh.table(SOURCE), where(data_date=day))
    assert [r["account_id"] for r in rows] == ["A4"]


@pytest.mark.slow  # 11 s: the demo generator and two loads; the signed path itself is tested above
def test_the_demo_card_systems_signed_deliveries_load(lakehouse):
    from lakehouse.demo.run import generate

    [day], _, _ = generate(lakehouse, customers=30, days=1, start=D1, seed=11, defect_rate=0)
    summary = lakehouse.run(day, ["ccs.card", "ccs.card_txn"])
    assert summary.ok, [r.message for r in summary.results]
    manifest = lakehouse.engine.rows(governance.raw_manifest(lakehouse.root), where(role="data"))
    assert sorted((r["source"], r["verified"]) for r in manifest) == [
        ("ccs.card", "signature"), ("ccs.card_txn", "signature")]
