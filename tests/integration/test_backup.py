"""Backups against Spark and Delta: a restored lakehouse holds the tables as they were backed up,
`verify` compares them with the originals through time travel and finds a corrupted copy."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lakehouse.demo.delivery_writer import write_delivery
from lakehouse.filters import where
from lakehouse.governance.records import BackupLogRecord
from lakehouse.lifecycle import backup

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def load_products(lh, data_date, codes):
    records = [{"product_code": c, "product_name": "活期存款", "product_type": "DEPOSIT",
                "currency": "CNY"} for c in codes]
    write_delivery(lh.contract("ref.product"), lh.settings.landing, data_date, records)
    [result] = lh.run(data_date, ["ref.product"]).results
    assert result.status == "succeeded", result.message


@pytest.mark.slow  # 35 s: the developer's loop stays under 10 minutes; CI runs it in the slow tier
def test_backup_restore_and_verify(lakehouse, tmp_path):
    lh = lakehouse
    load_products(lh, D1, ["DEP001", "DEP002"])
    products = lh.table("ref.product")
    backups = tmp_path / "backups"

    taken = lh.backup(backups)
    table = products.path[len(lh.root):].lstrip("/")
    assert taken.manifest.tables[table] == lh.engine.version(products)
    at_backup = sorted(r["product_code"] for r in lh.engine.rows(products))

    load_products(lh, D2, ["DEP001", "DEP002", "DEP003"])  # the original moves on
    again = lh.backup(backups)
    new_files = [f for f in again.manifest.files if f.path not in {g.path for g in taken.manifest.files}]
    assert 0 < again.files_copied <= len(new_files) < len(again.manifest.files) / 2  # incremental

    checked = lh.verify_backup(backups, taken.manifest.backup_id)
    assert checked.ok, [p.render() for p in checked.problems]
    assert checked.tables_compared == len(taken.manifest.tables) > 5

    restored = lh.restore_backup(tmp_path / "restored", backups, taken.manifest.backup_id,
                                 project_to=tmp_path / "restored_project")
    assert restored.files == len(taken.manifest.files)
    back = type(lh)(tmp_path / "restored_project" / "conf", engine=lh.engine,
                    root=tmp_path / "restored", landing=tmp_path / "landing2",
                    reports_dir=tmp_path / "reports2")
    assert sorted(r["product_code"] for r in back.engine.rows(back.table("ref.product"))) == at_backup
    assert lh.engine.table_fingerprint(back.table("ref.product").path) == \
        lh.engine.table_fingerprint(products.path, taken.manifest.tables[table])

    # one byte changed in a backed-up data file of the table: verify names it and fails
    [item] = [f for f in taken.manifest.files if f.path.startswith(table + "/")
              and "/part-" in f.path and f.path.endswith(".parquet")][:1]
    stored = Path(backup.object_path(str(backups), item.sha256))
    damaged = bytearray(stored.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    stored.write_bytes(bytes(damaged))
    broken = lh.verify_backup(backups, taken.manifest.backup_id)
    assert not broken.ok
    assert any(item.path in p.message and "bytes changed" in p.message for p in broken.problems)

    log = {(r.backup_id, r.action): r for r in lh.store.read(BackupLogRecord)}
    assert log[(taken.manifest.backup_id, "backup")].files_copied == taken.files_copied
    statuses = [r.status for r in lh.store.read(BackupLogRecord, where(action="verify"),
                                                order_by=["recorded_at"])]
    assert statuses == ["succeeded", "failed"]
