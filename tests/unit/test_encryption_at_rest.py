"""Encryption at rest without Spark: raw files sealed in chunks, the key wrapping Spark's key
service shares, master-key rotation that rewrites no data, Delta statistics kept off protected
columns, and the byte scan of stored files."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

from lakehouse.errors import ConfigError, TerminalError
from lakehouse.security import at_rest
from lakehouse.security.keys import KeyFile, create_key_file, rotate_master_key, wrapped_root_file
from lakehouse.security.leak_scan import ProtectedValues
from lakehouse.security.stored_bytes import CHECKPOINT_SEALED, scan_stored
from lakehouse.zones import raw_encryption, raw_zone

ID_NUMBER = "110101199003078515"
NAME = "欧阳明华"


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


@pytest.mark.parametrize("size", [0, 17, raw_encryption.CHUNK, 2 * raw_encryption.CHUNK + 3])
def test_a_raw_file_is_stored_encrypted_and_read_back_as_delivered(tmp_path, kek, size):
    delivered = tmp_path / "in.csv"
    delivered.write_bytes(os.urandom(size))
    fs, target = pafs.LocalFileSystem(), str(tmp_path / "raw" / "in.csv")
    digest = raw_encryption.store_encrypted(delivered, fs, target, kek)
    assert digest == hashlib.sha256(delivered.read_bytes()).hexdigest()
    assert raw_encryption.delivered_sha256(fs, target) == digest
    assert raw_zone.delivered_bytes(target, kek) == delivered.read_bytes()


def test_an_altered_or_cut_raw_file_or_a_wrong_key_is_refused_naming_the_file(tmp_path, kek):
    delivered = tmp_path / "in.csv"
    delivered.write_bytes(f"{ID_NUMBER},{NAME}\n".encode() * 100_000)
    fs, target = pafs.LocalFileSystem(), str(tmp_path / "raw.csv")
    raw_encryption.store_encrypted(delivered, fs, target, kek)
    stored = bytearray(open(target, "rb").read())
    assert ID_NUMBER.encode() not in stored and NAME.encode() not in stored
    with pytest.raises(TerminalError, match="does not open"):
        raw_zone.delivered_bytes(target, os.urandom(32))
    stored[-5] ^= 1
    open(target, "wb").write(bytes(stored))
    with pytest.raises(TerminalError) as altered:
        raw_zone.delivered_bytes(target, kek)
    assert target in altered.value.render() and "altered" in altered.value.render()
    open(target, "wb").write(bytes(stored[:len(stored) // 2]))
    with pytest.raises(TerminalError):
        raw_zone.delivered_bytes(target, kek)


def test_landing_encrypts_and_recognises_the_same_delivery_by_its_delivered_checksum(tmp_path, kek):
    delivered = tmp_path / "account_20261101.csv"
    delivered.write_text(f"{ID_NUMBER},{NAME}\n", encoding="utf-8")
    first = raw_zone.land(delivered, str(tmp_path / "root"), "cbs", "account", date(2026, 11, 1), kek)
    again = raw_zone.land(delivered, str(tmp_path / "root"), "cbs", "account", date(2026, 11, 1), kek)
    assert first.is_new and not again.is_new and again.version == 1
    assert first.sha256 == hashlib.sha256(delivered.read_bytes()).hexdigest()
    assert ID_NUMBER.encode() not in open(first.raw_path, "rb").read()
    assert open(first.raw_path + ".sha256").read() == first.sha256
    delivered.write_text(f"{ID_NUMBER},{NAME}!\n", encoding="utf-8")
    changed = raw_zone.land(delivered, str(tmp_path / "root"), "cbs", "account", date(2026, 11, 1), kek)
    assert changed.is_new and changed.version == 2
    assert raw_zone.delivered_bytes(changed.raw_path, kek) == delivered.read_bytes()


def test_the_python_key_wrapping_is_the_java_key_services_format(kek):
    wrapped = at_rest.wrap_key(b"k" * 16, kek, "lakehouse_parquet_v1")
    sealed = __import__("base64").b64decode(wrapped)
    assert len(sealed) == 12 + 16 + 16  # nonce | ciphertext | GCM tag, as LakehouseKms.java
    assert at_rest.unwrap_key(wrapped, kek, "lakehouse_parquet_v1") == b"k" * 16
    with pytest.raises(Exception):
        at_rest.unwrap_key(wrapped, kek, "another_master_key")


def test_delta_statistics_are_kept_only_for_columns_below_level_3():
    levels = {"customer_id": 2, "id_number": 4, "balance": 3, "data_date": 1, "end_dt": 1}
    columns = [(name, "string") for name in [*levels, "unclassified"]] + [("is_active", "boolean")]
    kept = at_rest.stats_columns({**levels, "is_active": 1}, columns, partition_by=("end_dt",))
    assert kept == {"delta.dataSkippingStatsColumns": "customer_id,data_date"}
    assert at_rest.stats_columns({"id_number": 4}, [("id_number", "string")]) == {
        "delta.dataSkippingNumIndexedCols": "0"}


def test_rotating_the_master_key_rewraps_the_root_and_rewrites_no_data(tmp_path):
    key = tmp_path / "master.key"
    create_key_file(key)
    provider = KeyFile(key)
    before = {p: provider.secret(p) for p in ("pseudonym", at_rest.PARQUET_PURPOSE, at_rest.RAW_PURPOSE)}
    delivered = tmp_path / "customer.csv"
    delivered.write_text(f"{ID_NUMBER},{NAME}\n", encoding="utf-8")
    stored_path = str(tmp_path / "raw" / "customer.csv")
    raw_encryption.store_encrypted(delivered, pafs.LocalFileSystem(), stored_path,
                                   before[at_rest.RAW_PURPOSE])
    stored, old_master = open(stored_path, "rb").read(), key.read_bytes()

    fingerprint = rotate_master_key(key)

    assert key.read_bytes() != old_master and oct(key.stat().st_mode & 0o777) == "0o600"
    record = json.loads(wrapped_root_file(key).read_text())
    assert list(record["wrapped"]) == [fingerprint]
    assert {p: KeyFile(key).secret(p) for p in before} == before
    assert open(stored_path, "rb").read() == stored
    assert raw_zone.delivered_bytes(stored_path, KeyFile(key).secret(at_rest.RAW_PURPOSE)) == \
        delivered.read_bytes()


def test_a_master_key_that_does_not_wrap_the_root_is_refused_with_the_fix(tmp_path):
    key = tmp_path / "master.key"
    create_key_file(key)
    rotate_master_key(key)
    wrapped = wrapped_root_file(key).read_text()
    other = tmp_path / "other" / "master.key"
    create_key_file(other)
    wrapped_root_file(other).write_text(wrapped)
    with pytest.raises(ConfigError) as refused:
        KeyFile(other).secret("pseudonym")
    assert "key backup" in refused.value.render() and str(other) in refused.value.render()


def test_the_byte_scan_finds_clear_values_and_counts_encrypted_files(tmp_path, kek):
    values = ProtectedValues()
    values.add(ID_NUMBER, "near_source.cbs_customer.id_number (level 4)", None)
    values.add(NAME, "near_source.cbs_customer.name (level 3)", None)
    root = tmp_path / "root"
    (root / "t" / "_delta_log").mkdir(parents=True)
    clear = pa.table({"id_number": [ID_NUMBER], "amount": [1]})
    pq.write_table(clear, root / "t" / "clear.parquet")
    # an encrypted footer ends in PARE (pyarrow's first encrypted write costs seconds; Spark and
    # pyarrow writing real ones is the integration tests')
    (root / "t" / "sealed.parquet").write_bytes(b"PARE" + os.urandom(64) + b"PARE")
    (root / "t" / "_delta_log" / "0.json").write_text(
        json.dumps({"add": {"stats": {"minValues": {"id_number": ID_NUMBER}}}}))
    (root / "raw.csv").write_bytes(f"1,{NAME}\n".encode("gb18030"))
    raw_encryption.store_encrypted(root / "raw.csv", pafs.LocalFileSystem(), str(root / "raw.enc"), kek)
    (root / "state").mkdir()  # a sealed state-store file (the real ones: test_realtime_apps.py)
    (root / "state" / "1.delta").write_bytes(CHECKPOINT_SEALED + os.urandom(64))

    found = scan_stored(values, [str(root), str(tmp_path / "no-backups")])

    where = sorted((leak.where.rsplit("/", 1)[-1], leak.locator) for leak in found.leaks)
    assert where == [("0.json", "line 1"), ("clear.parquet", "column id_number row 1"),
                     ("raw.csv", "line 1")]
    assert found.files == 7 and found.encrypted == 3  # sealed.parquet, raw.enc and 1.delta
    assert all(ID_NUMBER not in leak.render() and NAME not in leak.render() for leak in found.leaks)
