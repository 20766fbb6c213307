"""Incremental extracts loaded by watermark end to end (6.3.1.1 c): a zipper source whose
daily delivery carries only the rows changed since the previous one, through ``Lakehouse.run``:
changed, re-delivered, absent and deleted rows, late corrections and rows from the future
quarantined with their reasons, the watermark recorded, a rerun changing nothing, and a backfill
giving the table loading in order gives."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import pytest

from lakehouse.demo.delivery_writer import write_delivery
from lakehouse.filters import where
from lakehouse.governance.records import (
    LoadLogRecord, QuarantineRecord, RetentionLogRecord, WatermarksRecord)
from lakehouse.zones.increments import increments_spec
from tests.conftest import ROOT, open_project

SOURCE = "cbs.customer"
D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
OPEN = date(9999, 12, 31)
STANDARDS = """
  - id: DS-GEN-9901
    name: {zh: 记录更新时间, en: Record update time}
    definition: 源系统最后一次修改记录的本地时间 / the local time the source system last changed the record
    data_type: timestamp
    owner: li.na
    min_security_level: 1
  - id: DS-GEN-9902
    name: {zh: 操作标志, en: Operation flag}
    definition: 增量抽取中记录的操作 / what happened to a row of an incremental extract
    data_type: string
    length: 1
    domain:
      codes: {I: 新增 / inserted, U: 修改 / updated, D: 删除 / deleted}
    owner: li.na
    min_security_level: 1
"""
INCREMENTAL = """  - name: upd_ts
    type: timestamp
    nullable: false
    business_name: {zh: 最后更新时间, en: Last update time}
    security_level: 1
    standard: DS-GEN-9901
  - name: op
    type: string
    business_name: {zh: 操作标志, en: Operation flag}
    security_level: 1
    standard: DS-GEN-9902
incremental:
  updated_at: upd_ts
  deletes: {column: op, value: D}
"""
ID_NUMBER = "11010519491231002X"
RETENTION_RULE = """  - table: cbs_customer
    keep: {near_source: 1}
    reason: a test's one-day window
"""


@pytest.fixture
def incremental(project, engine, registered_root):
    """The project's lakehouse with cbs.customer declared and registered as an incremental
    extract (an update timestamp and an operation flag added to its attributes)."""
    shutil.copytree(registered_root, project / ROOT)
    standards = project / "conf" / "standards.yaml"
    standards.write_text(standards.read_text(encoding="utf-8") + STANDARDS, encoding="utf-8")
    contract = project / "conf" / "sources" / "cbs" / "customer.yaml"
    contract.write_text(contract.read_text(encoding="utf-8") + INCREMENTAL, encoding="utf-8")
    lh = open_project(project, engine)
    results = lh.register(contract, by="test", reason="incremental extract")
    assert [r.status for r in results] == ["registered"], [r.error for r in results]
    return lh


def customer(cid: str, updated: datetime, mobile: str = "13800000001", op: str = "U") -> dict:
    return {"customer_id": cid, "customer_name": "张三", "id_number": ID_NUMBER, "mobile": mobile,
            "branch_id": "B0101", "open_date": date(2020, 1, 2), "upd_ts": updated, "op": op}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


EXTRACTS = {
    D1: [customer("C0000000001", at(D1, 9), op="I"), customer("C0000000002", at(D1, 10), op="I"),
         customer("C0000000003", at(D1, 11), op="I"), customer("C0000000007", at(D1, 12), op="I")],
    D2: [customer("C0000000001", at(D2, 9), "13900000009"),              # changed
         {**customer("C0000000002", at(D2, 10), op="D")},                # deleted
         customer("C0000000003", at(D1, 11), op="I"),                    # re-delivered as it was
         customer("C0000000004", at(D2, 11), op="I"),                    # new
         customer("C0000000005", at(D1, 8), op="I"),                     # late: before the watermark
         customer("C0000000006", at(D3, 1), op="I")],                    # from the future
    D3: [],                                                              # nothing changed
}
# C0000000007 is in no extract after D1: absent means unchanged, its version stays open
EXPECTED = [
    ("C0000000001", "13800000001", D1, D2), ("C0000000001", "13900000009", D2, OPEN),
    ("C0000000002", "13800000001", D1, D2),
    ("C0000000003", "13800000001", D1, OPEN),
    ("C0000000004", "13800000001", D2, OPEN),
    ("C0000000007", "13800000001", D1, OPEN),
]


def load(lh, day: date, force: bool = False):
    write_delivery(lh.contract(SOURCE), lh.settings.landing, day, EXTRACTS[day])
    result = lh.run(day, [SOURCE], force=force).results[0]
    assert result.status == "succeeded", result.message
    return result


def table(lh) -> list[tuple]:
    rows = lh.engine.rows(lh.table(SOURCE), order_by=["customer_id", "start_dt"])
    return [(r["customer_id"], r["mobile"], r["start_dt"], r["end_dt"]) for r in rows]


def held(lh, day: date) -> list[QuarantineRecord]:
    found = lh.store.read(QuarantineRecord, where(data_date=day, stage="watermark"),
                          table="cbs_customer")
    return sorted(found, key=lambda r: r.line)


def increment_dates(lh, spec) -> list[date]:
    return sorted({r["data_date"] for r in lh.engine.rows(spec)})


def watermarks(lh) -> dict[date, WatermarksRecord]:
    return lh.store.newest(WatermarksRecord, "data_date", "folded_at", where(source=SOURCE))


@pytest.mark.slow  # about a minute through `Lakehouse.run`: `make test` stays under 10 minutes
def test_incremental_extracts_apply_changes_and_hold_late_and_future_rows(incremental, project,
                                                                         engine):
    lh = incremental
    load(lh, D1)
    second = load(lh, D2)
    assert table(lh) == EXPECTED
    assert (second.rows_in, second.rows_loaded, second.rows_quarantined) == (6, 4, 2)
    assert second.watermark == at(D1, 12)

    late, future = held(lh, D2)
    assert (late.line, late.rule, late.dimension) == (6, "late_correction", "timeliness")
    assert "at or before the watermark 2026-11-01 12:00:00" in late.reason
    assert (future.line, future.rule, future.dimension) == (7, "future_update", "validity")
    assert "after the end of the data date 2026-11-02" in future.reason
    assert {late.file_name, future.file_name} == {"customer_20261102.csv"}
    shown = json.loads(late.row_json)
    assert shown["customer_id"] == "C0000000005" and shown["upd_ts"].startswith("2026-11-01")
    assert shown["id_number"] != ID_NUMBER and ID_NUMBER not in late.row_json  # level 4: masked
    assert late.key_hash and late.key_hash != future.key_hash

    marks = watermarks(lh)
    assert (marks[D1].watermark_before, marks[D1].watermark_after) == (None, at(D1, 12))
    first = marks[D2]
    assert (first.watermark_before, first.watermark_after) == (at(D1, 12), at(D2, 11))
    assert (first.rows_in, first.rows_changed, first.rows_unchanged, first.rows_deleted,
            first.rows_late, first.rows_future) == (6, 2, 1, 1, 1, 1)
    log = lh.store.newest(LoadLogRecord, "data_date", "finished_at", where(source=SOURCE))
    assert (log[D2].rows_in, log[D2].rows_loaded, log[D2].rows_quarantined) == (6, 4, 2)
    assert log[D2].message == (
        "incremental extract against the watermark 2026-11-01 12:00:00: 2 changed, 1 unchanged, "
        "1 deleted; 1 late correction(s) and 1 row(s) from the future quarantined")

    # the stored extracts expire with the table's near-source keep; a hold pins them
    retention = project / "conf" / "retention.yaml"
    retention.write_text(retention.read_text(encoding="utf-8") + RETENTION_RULE, encoding="utf-8")
    lh = open_project(project, engine)
    stored = increments_spec(lh.contract(SOURCE), lh.root)
    assert increment_dates(lh, stored) == [D1, D2]
    pinned = lh.retention(latest=D2)
    mine = [r for r in pinned.removals if r.table == stored.qualified_name]
    assert [(r.zone, r.action, r.data_date, r.held_by) for r in mine] == [
        ("near_source", "held", D1, "aml_inquiry_2026_017")]
    assert increment_dates(lh, stored) == [D1, D2]

    (project / "conf" / "holds.yaml").write_text("holds: []\n", encoding="utf-8")
    lh = open_project(project, engine)
    done = lh.retention(latest=D2)
    mine = [r for r in done.removals if r.table == stored.qualified_name]
    assert [(r.action, r.data_date, r.rows, r.rule) for r in mine] == [
        ("deleted", D1, 4, "retention.yaml tables[cbs_customer]")]
    assert increment_dates(lh, stored) == [D2]
    logged = {(r.table_name, r.action, r.data_date) for r in lh.store.read(RetentionLogRecord)}
    assert (stored.qualified_name, "deleted", D1) in logged


@pytest.mark.slow  # four loads through `Lakehouse.run` (the engine-level backfill and rerun are fast)
def test_a_backfill_gives_the_in_order_table_and_a_rerun_changes_nothing(incremental):
    lh = incremental
    load(lh, D2)  # first: no watermark yet, so the late row is applied
    assert ("C0000000005", "13800000001", D2, OPEN) in table(lh)
    assert [r.rule for r in held(lh, D2)] == ["future_update"]
    before = lh.store.newest(LoadLogRecord, "data_date", "finished_at", where(source=SOURCE))[D2]
    assert (before.rows_in, before.rows_loaded, before.rows_quarantined) == (6, 5, 1)
    load(lh, D1)  # the backfill folds D2 again over D1: the late row is held back now
    assert table(lh) == EXPECTED
    log = lh.store.newest(LoadLogRecord, "data_date", "finished_at", where(source=SOURCE))
    assert (log[D2].operation, log[D2].rows_in, log[D2].rows_loaded, log[D2].rows_quarantined,
            log[D2].sha256) == ("refold", 6, 4, 2, before.sha256)
    assert log[D2].message.startswith("folded again by the backfill of 2026-11-01: incremental "
                                      "extract against the watermark 2026-11-01 12:00:00")
    assert log[D1].operation == "delivery"
    assert [(r.line, r.rule) for r in held(lh, D2)] == [(6, "late_correction"), (7, "future_update")]
    first = watermarks(lh)[D2]
    assert (first.loaded_date, first.watermark_before, first.rows_late) == (D1, at(D1, 12), 1)

    unchanged = load(lh, D2)  # the same file again: reported with the counts it has now
    assert unchanged.unchanged and (unchanged.rows_loaded, unchanged.rows_quarantined) == (4, 2)
    version = lh.engine.version(lh.table(SOURCE))
    rerun = load(lh, D2, force=True)  # the same extract loaded again: the same table
    assert not rerun.unchanged and lh.engine.version(lh.table(SOURCE)) > version
    assert table(lh) == EXPECTED
    assert [(r.line, r.rule) for r in held(lh, D2)] == [(6, "late_correction"), (7, "future_update")]
    again = watermarks(lh)[D2]
    assert (again.run_id != first.run_id, again.loaded_date) == (True, D2)
    assert {k: v for k, v in vars(again).items() if k not in ("run_id", "folded_at", "loaded_date")} \
        == {k: v for k, v in vars(first).items() if k not in ("run_id", "folded_at", "loaded_date")}

    empty = load(lh, D3)  # an extract without rows: nothing changed, nothing is closed
    assert (empty.rows_in, empty.rows_loaded, empty.watermark) == (0, 0, at(D2, 11))
    assert table(lh) == EXPECTED
