"""Retention against Delta and the raw zone: expired rows are deleted, then vacuumed past the
declared window so that no version reads them (time travel included); a held date survives; a dry
run touches nothing; expired raw folders are destroyed and every removal is recorded."""

from __future__ import annotations

import os
import time
from datetime import date, datetime
from decimal import Decimal

import pytest

from lakehouse.governance.records import QualitySamplesRecord, RetentionLogRecord
from lakehouse.zones import Zone, zone_path
from lakehouse.zones.near_source import near_source_spec
from tests.conftest import open_project

D1, D2, D3, D4 = (date(2026, 11, day) for day in (1, 2, 3, 4))
ACCOUNT = "6222020200001234567"  # level 3: must appear in no retention record

RETENTION = """\
vacuum_window_hours: 168
default: {raw: 400, near_source: 400, samples: 400, staging: 1}
tables:
  - table: cbs_transaction
    keep: {raw: 2, near_source: 2, samples: 2}
    reason: test
"""
HOLDS = """\
holds:
  - name: court_order_17
    tables: [cbs_transaction]
    data_dates: {from: 2026-11-01, to: 2026-11-01}
    authority: a court
    placed_by: li.na
    placed_on: 2026-11-20
    reason: case 17
"""


@pytest.fixture
def lh(project, engine):
    (project / "conf" / "retention.yaml").write_text(RETENTION)
    (project / "conf" / "holds.yaml").write_text(HOLDS)
    return open_project(project, engine)


def _seed(lh):
    """Four data dates of cbs_transaction in its table, samples and raw zone; a dead run's staging."""
    spec = near_source_spec(lh.contract("cbs.transaction"), lh.root)
    lh.engine.ensure_table(spec)
    values = {"account_id": ACCOUNT, "amount": Decimal("12.50")}
    rows = [tuple({**values, "txn_id": f"T{d:%d}", "data_date": d}.get(c) for c in spec.column_names)
            for d in (D1, D2, D3, D4)]
    ddl = ", ".join(f"`{c.name}` {c.spark_type}" for c in spec.columns)
    lh.engine.delta.append(spec, lh.engine.spark.createDataFrame(rows, ddl))
    lh.store.append([QualitySamplesRecord(run_id="r", table_name=table, data_date=d, rule="x", line=1,
                                          row_json="{}", sampled_at=datetime(2026, 11, 5))
                     for table, d in [("near_source.cbs_transaction", D1), ("near_source.cbs_transaction", D2),
                                      ("near_source.cbs_transaction", D4), ("near_source.cbs_account", D2)]])
    raw = {}
    for d in (D1, D2, D3, D4):
        folder = zone_path(lh.root, Zone.RAW, "cbs", "transaction", f"data_date={d}", "v1")
        os.makedirs(folder)
        for name, text in (("transaction.jsonl", '{"txn_id": "T"}\n'), ("transaction.ctl", "row_count=1\n")):
            with open(os.path.join(folder, name), "w") as handle:
                handle.write(text)
        raw[d] = os.path.dirname(folder)
    dead = os.path.join(lh.root, "_staging", "20261101-dead-run")
    os.makedirs(dead)
    with open(os.path.join(dead, "extract.parquet"), "wb") as handle:
        handle.write(b"x" * 10)
    old = time.time() - 3 * 86400
    os.utime(os.path.join(dead, "extract.parquet"), (old, old))
    os.utime(dead, (old, old))
    return spec, raw, dead


def _dates(lh, spec, version=None):
    reader = lh.engine.spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return sorted(r["data_date"] for r in reader.load(spec.path).select("data_date").collect())


@pytest.mark.slow
def test_retention_deletes_vacuums_destroys_and_keeps_held_dates(lh):
    spec, raw, dead = _seed(lh)
    before = lh.engine.version(spec)

    planned = lh.retention(dry_run=True, latest=D4)  # touches nothing
    assert {(r.zone, r.action, r.data_date) for r in planned.removals} >= {
        ("near_source", "deleted", D2), ("near_source", "held", D1), ("raw", "destroyed", D2),
        ("raw", "held", D1), ("samples", "deleted", D2), ("staging", "removed", None)}
    assert lh.engine.version(spec) == before and _dates(lh, spec) == [D1, D2, D3, D4]
    assert all(os.path.isdir(f) for f in raw.values()) and os.path.isdir(dead)
    assert not lh.store.exists(RetentionLogRecord)

    done = lh.retention(latest=D4)  # window 168 h: deleted now, vacuumed by a later run
    assert _dates(lh, spec) == [D1, D3, D4]  # D1 held by court_order_17
    assert _dates(lh, spec, before) == [D1, D2, D3, D4]  # time travel still reads D2 ...
    assert not os.path.exists(raw[D2]) and os.path.isdir(raw[D1]) and os.path.isdir(raw[D3])
    assert not os.path.exists(dead)
    samples = {(r.table_name, r.data_date) for r in lh.store.read(QualitySamplesRecord)}
    assert samples == {("near_source.cbs_transaction", D1), ("near_source.cbs_transaction", D4),
                       ("near_source.cbs_account", D2)}
    log = lh.store.read(RetentionLogRecord)
    by = {(r.zone, r.action, r.data_date): r for r in log}
    assert by[("near_source", "deleted", D2)].rows == 1
    assert by[("near_source", "deleted", D2)].rule == "retention.yaml tables[cbs_transaction]"
    assert by[("near_source", "held", D1)].held_by == "court_order_17"
    destroyed = by[("raw", "destroyed", D2)]
    assert (destroyed.files, destroyed.bytes) == (2, len('{"txn_id": "T"}\n') + len("row_count=1\n"))
    assert destroyed.path == raw[D2] and destroyed.run_id == done.run_id
    assert not any(r.action == "vacuumed" for r in log)
    assert not any(ACCOUNT in str(r) for r in log)

    again = lh.retention(latest=D4, vacuum_window_hours=0)  # the window has passed: VACUUM
    vacuumed = {r.table: r for r in again.removed if r.action == "vacuumed"}
    assert set(vacuumed) == {"near_source.cbs_transaction", "governance.quality_samples"}
    assert vacuumed["near_source.cbs_transaction"].files >= 1
    with pytest.raises(Exception, match="(?i)not.*found|does not exist|FileNotFound|DELTA_"):
        _dates(lh, spec, before)  # ... and no longer: the files are gone
    assert _dates(lh, spec) == [D1, D3, D4]
    assert lh.retention(latest=D4, vacuum_window_hours=0).removed == []  # nothing left to do


@pytest.mark.slow  # 17 s on the 2-core machine: over the default tier's budget
def test_rows_deleted_from_a_table_with_deletion_vectors_are_gone_after_vacuum(engine, tmp_path):
    """A zipper table keeps deletions as deletion vectors: the delete rewrites the files still
    holding the rows (purge), and VACUUM with a 0-hour window removes the old files, so no
    version reads them any more."""
    from lakehouse.zones.tables import ZIPPER_PROPERTIES, Column, TableSpec

    spec = TableSpec(name="dv", zone="standard", layer="near_source", path=str(tmp_path / "dv"),
                     columns=(Column("k", "string"), Column("v", "string")), properties=dict(ZIPPER_PROPERTIES))
    engine.ensure_table(spec)
    engine.delta.append(spec, engine.spark.createDataFrame([("a", "keep"), ("b", ACCOUNT)], "k string, v string")
                        .coalesce(1))
    before = engine.version(spec)
    engine.delete_rows(spec, "k = 'b'", {"run_id": "t"})
    engine.vacuum(spec, 0)
    assert [r["v"] for r in engine.rows(spec)] == ["keep"]
    with pytest.raises(Exception, match="(?i)not.*found|does not exist|FileNotFound|DELTA_"):
        engine.spark.read.format("delta").option("versionAsOf", before).load(spec.path).collect()
