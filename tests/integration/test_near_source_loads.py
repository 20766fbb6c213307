"""Snapshot, append and zipper loads end to end: delivery file -> raw zone -> Delta table."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal

import deltalake
import pytest
import pyarrow as pa

from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.demo.delivery_writer import write_delivery

from ..conftest import ROOT

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def customer(cid, mobile="13800000001", branch="B0101", name="张三"):
    return {"customer_id": cid, "customer_name": name, "id_number": "11010519491231002X",
            "mobile": mobile, "branch_id": branch, "open_date": date(2020, 1, 2)}


def account(aid, balance="100.00", status="A"):
    return {"account_id": aid, "customer_id": "C0000000001", "product_code": "DEP001",
            "currency": "CNY", "balance": Decimal(balance), "status": status,
            "open_date": date(2021, 3, 4)}


def txn(tid, amount="10.50", when=datetime(2026, 11, 1, 9, 30)):
    return {"txn_id": tid, "account_id": "6200000000000001", "txn_time": when,
            "amount": Decimal(amount), "direction": "D", "channel": "ATM"}


def deliver(lh, source, data_date, records):
    return write_delivery(lh.contract(source), lh.settings.landing, data_date, records)


def load(lh, source, data_date):
    summary = lh.run(data_date, [source])
    result = summary.results[0]
    assert result.status == "succeeded", result.message
    return result


def test_snapshot_keeps_one_copy_per_date_and_rerun_replaces_only_that_date(lakehouse):
    deliver(lakehouse, "cbs.account", D1, [account("A1"), account("A2", "5.00")])
    load(lakehouse, "cbs.account", D1)
    deliver(lakehouse, "cbs.account", D2, [account("A1", "150.25"), account("A3", "1.00")])
    load(lakehouse, "cbs.account", D2)
    spec = lakehouse.table("cbs.account")
    rows = lakehouse.engine.rows(spec, order_by=["data_date", "account_id"])
    assert [(r["data_date"], r["account_id"], r["balance"]) for r in rows] == [
        (D1, "A1", Decimal("100.00")), (D1, "A2", Decimal("5.00")),
        (D2, "A1", Decimal("150.25")), (D2, "A3", Decimal("1.00"))]

    deliver(lakehouse, "cbs.account", D1, [account("A1", "99.99")])  # corrected redelivery
    load(lakehouse, "cbs.account", D1)
    rows = lakehouse.engine.rows(spec, order_by=["data_date", "account_id"])
    assert [(r["data_date"], r["account_id"], r["balance"]) for r in rows] == [
        (D1, "A1", Decimal("99.99")),
        (D2, "A1", Decimal("150.25")), (D2, "A3", Decimal("1.00"))]


def test_table_carries_comments_owner_and_level(lakehouse):
    deliver(lakehouse, "cbs.account", D1, [account("A1")])
    load(lakehouse, "cbs.account", D1)
    spark = lakehouse.engine.spark
    props = {r["key"]: r["value"] for r in
             spark.sql("SHOW TBLPROPERTIES near_source.cbs_account").collect()}
    assert props["lakehouse.owner"] == "li.na"
    assert props["lakehouse.security_level"] == "3"
    comments = {r["col_name"]: r["comment"] for r in
                spark.sql("DESCRIBE TABLE near_source.cbs_account").collect()}
    assert comments["balance"].startswith("账户余额 / Account balance")


def test_append_partitions_by_date_and_rerun_replaces_that_date(lakehouse):
    deliver(lakehouse, "cbs.transaction", D1, [txn("T1"), txn("T2", "0.01")])
    load(lakehouse, "cbs.transaction", D1)
    deliver(lakehouse, "cbs.transaction", D2, [txn("T3", "7.00", datetime(2026, 11, 2, 23, 59, 59))])
    load(lakehouse, "cbs.transaction", D2)
    load(lakehouse, "cbs.transaction", D2)  # same date again: no duplicates
    spec = lakehouse.table("cbs.transaction")
    rows = lakehouse.engine.rows(spec, order_by=["txn_id"])
    assert [(r["txn_id"], r["data_date"], r["amount"]) for r in rows] == [
        ("T1", D1, Decimal("10.50")), ("T2", D1, Decimal("0.01")), ("T3", D2, Decimal("7.00"))]
    # wall-clock time survives the trip through Arrow, Parquet and Delta
    assert rows[2]["txn_time"] == datetime(2026, 11, 2, 23, 59, 59)


def zipper_rows(lh):
    rows = lh.engine.rows(lh.table("cbs.customer"), order_by=["customer_id", "start_dt"])
    return [(r["customer_id"], r["mobile"], r["start_dt"].isoformat(), r["end_dt"].isoformat())
            for r in rows]


OPEN = "9999-12-31"


@pytest.mark.slow  # through `Lakehouse.run`; test_zipper_property.py has each case on its own
def test_zipper_changes_deletions_resurrections_and_backfill(lakehouse):
    deliver(lakehouse, "cbs.customer", D1, [customer("C1"), customer("C2")])
    load(lakehouse, "cbs.customer", D1)
    deliver(lakehouse, "cbs.customer", D3, [customer("C1", "13900000009"), customer("C3")])
    load(lakehouse, "cbs.customer", D3)
    assert zipper_rows(lakehouse) == [
        ("C1", "13800000001", "2026-11-01", "2026-11-03"),
        ("C1", "13900000009", "2026-11-03", OPEN),
        ("C2", "13800000001", "2026-11-01", "2026-11-03"),
        ("C3", "13800000001", "2026-11-03", OPEN),
    ]
    # D2 arrives late: C1 already changed on D2, C2 still there, C3 not yet.
    deliver(lakehouse, "cbs.customer", D2, [customer("C1", "13900000009"), customer("C2")])
    load(lakehouse, "cbs.customer", D2)
    expected = [
        ("C1", "13800000001", "2026-11-01", "2026-11-02"),
        ("C1", "13900000009", "2026-11-02", OPEN),
        ("C2", "13800000001", "2026-11-01", "2026-11-03"),
        ("C3", "13800000001", "2026-11-03", OPEN),
    ]
    assert zipper_rows(lakehouse) == expected
    version = lakehouse.engine.version(lakehouse.table("cbs.customer"))
    rerun = load(lakehouse, "cbs.customer", D2)  # the same file again: nothing to do
    assert rerun.unchanged and "already loaded" in rerun.message
    assert lakehouse.engine.version(lakehouse.table("cbs.customer")) == version
    forced = lakehouse.run(D2, ["cbs.customer"], force=True).results[0]  # loaded again: same rows
    assert forced.status == "succeeded" and not forced.unchanged, forced.message
    assert zipper_rows(lakehouse) == expected
    assert lakehouse.engine.version(lakehouse.table("cbs.customer")) > version

    # C2 comes back on D4 with the same values: a new version opens
    d4 = date(2026, 11, 4)
    deliver(lakehouse, "cbs.customer", d4, [customer("C1", "13900000009"), customer("C2"),
                                            customer("C3")])
    load(lakehouse, "cbs.customer", d4)
    assert ("C2", "13800000001", "2026-11-04", OPEN) in zipper_rows(lakehouse)


def test_gbk_fixed_width_zipper(lakehouse):
    card = {"card_no": "6299010000000001", "id_number": "11010519491231002X",
            "holder_name": "欧阳娜娜", "credit_limit": Decimal("50000.00"), "card_status": "N",
            "issue_date": date(2024, 5, 6)}
    path = deliver(lakehouse, "ccs.card", D1, [card])
    assert "欧阳娜娜".encode("gbk") in path.read_bytes()
    spec = lakehouse.table("ccs.card")
    lakehouse.engine.ensure_table(spec)
    # a table created empty has no loaded dates, known without reading its history
    assert lakehouse.engine.delta.created_empty(spec.path)
    assert lakehouse.engine.zipper_loaded_dates(spec) == []
    load(lakehouse, "ccs.card", D1)
    assert not lakehouse.engine.delta.created_empty(spec.path)
    rows = lakehouse.engine.rows(lakehouse.table("ccs.card"))
    assert [(r["card_no"], r["holder_name"], r["credit_limit"], r["issue_date"]) for r in rows] == [
        ("6299010000000001", "欧阳娜娜", Decimal("50000.00"), date(2024, 5, 6))]


def test_load_log_and_raw_manifest_record_the_load(lakehouse):
    path = deliver(lakehouse, "cbs.account", D1, [account("A1"), account("A2")])
    summary = lakehouse.run(D1, ["cbs.account"])
    engine, root = lakehouse.engine, lakehouse.root
    log = engine.rows(governance.load_log(root), where(run_id=summary.run_id))
    assert [(r["source"], r["rows_in"], r["rows_loaded"], r["rows_quarantined"], r["status"])
            for r in log] == [("cbs.account", 2, 2, 0, "succeeded")]
    manifest = engine.rows(governance.raw_manifest(root), order_by=["role"])
    assert [(m["role"], m["version"], m["rows"]) for m in manifest] == [
        ("control", 1, 2), ("data", 1, 2)]
    assert manifest[1]["size_bytes"] == path.stat().st_size


@pytest.mark.slow  # a second reader (deltalake) over every load type
def test_tables_are_readable_by_another_delta_reader(project, engine, registered_root):
    # delta-rs reads no Parquet modular encryption: a lakehouse written in clear
    from .test_encryption_at_rest import unencrypted

    shutil.copytree(registered_root, project / ROOT)
    lakehouse, before = unencrypted(project, engine), engine._encryption
    try:
        _read_by_delta_rs(lakehouse)
    finally:
        engine.encrypt_at_rest(*before)


def _read_by_delta_rs(lakehouse):
    deliver(lakehouse, "cbs.customer", D1, [customer("C1"), customer("C2")])
    load(lakehouse, "cbs.customer", D1)
    deliver(lakehouse, "cbs.customer", D2, [customer("C1", "13900000009")])
    load(lakehouse, "cbs.customer", D2)
    spec = lakehouse.table("cbs.customer")
    # zipper tables use deletion vectors: delta-rs reads them through its query engine
    table = deltalake.DeltaTable(spec.path)
    assert "deletionVectors" in table.protocol().reader_features
    result = deltalake.QueryBuilder().register("t", table).execute("SELECT * FROM t")
    theirs = pa.table(result.read_all()).to_pylist()
    ours = lakehouse.engine.rows(spec)
    key = lambda r: (r["customer_id"], r["start_dt"])  # noqa: E731
    assert sorted(theirs, key=key) == sorted(ours, key=key)
    assert len(ours) == 3

