"""Sources known only by their real-time feed (a contract with ``realtime`` and no ``delivery``):
the T-1 run keeps their near-source table from the feed's events of the date, with admission
and load-log records like a delivery's, so layers read them like any loaded source."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from lakehouse.errors import ConfigError
from lakehouse.filters import where
from lakehouse.governance.records import AdmissionLogRecord, LoadLogRecord
from lakehouse.realtime import fusion, ingestion
from tests.conftest import open_project
from tests.realtime_events import as_lines, card_txn, change_event, drop_file, shanghai

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def _feed_only(project: Path, system: str, entity: str, feed: dict | None = None) -> Path:
    """The contract's file rewritten without its delivery (and with ``feed`` as its feed)."""
    path = project / "conf" / "sources" / system / f"{entity}.yaml"
    contract = yaml.safe_load(path.read_text(encoding="utf-8"))
    del contract["delivery"]
    if feed is not None:
        contract["realtime"] = feed
    path.write_text(yaml.safe_dump(contract, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def customer(cid: str, name: str, branch: str = "B001") -> dict:
    return {"customer_id": cid, "customer_name": name, "id_number": "110101199003078515",
            "mobile": "13812345678", "branch_id": branch, "open_date": "2020-01-02"}


def _versions(lh, source: str) -> list[tuple]:
    return sorted((r["customer_id"], r["branch_id"], str(r["start_dt"]), str(r["end_dt"]))
                  for r in lh.engine.rows(lh.table(source)))


@pytest.mark.slow  # streams, then three T-1 runs through `Lakehouse.run`
def test_a_change_feed_without_extract_keeps_its_zipper_through_the_t1_run(project, engine,
                                                                           registered_root):
    import shutil

    shutil.copytree(registered_root, project / "lakehouse_data")
    source = "cbs.customer"
    contract_file = _feed_only(project, "cbs", "customer",
                               {"kind": "change_events", "path": "realtime/cbs/customer"})
    lh = open_project(project, engine)
    assert lh.contract(source).feed_only
    assert [r.status for r in lh.register(contract_file, by="test", reason="feed only")] == ["registered"]

    early = lh.run(D1, [source]).results[0]  # the stream has not run: refused, told how to fix
    assert early.status == "failed" and "no events of cbs.customer have arrived" in early.message
    assert "lakehouse stream run cbs.customer" in early.message

    a, b, c = customer("C001", "张三"), customer("C002", "李四"), customer("C003", "王五")
    events = [change_event("r", "C001", a, None, shanghai("2026-11-01"), 1),
              change_event("r", "C002", b, None, shanghai("2026-11-01", 1), 2),
              change_event("u", "C001", {**a, "branch_id": "B002"}, a, shanghai("2026-11-02"), 3),
              change_event("d", "C002", None, b, shanghai("2026-11-02", 5), 4),
              change_event("c", "C003", c, None, shanghai("2026-11-03", 9), 5)]
    drop_file(Path(lh.settings.landing) / "realtime/cbs/customer", "binlog_1.jsonl", as_lines(events))
    ingestion.run(lh, source)

    results = [lh.run(day, [source]).results[0] for day in (D2, D1, D3)]  # out of date order
    assert [(r.status, r.rows_loaded) for r in results] == [("succeeded", 1), ("succeeded", 2),
                                                            ("succeeded", 2)], [r.message for r in results]
    assert results[0].message == "kept from the real-time feed: 1 row(s) in the state at the end of 2026-11-02"
    assert _versions(lh, source) == [
        ("C001", "B001", "2026-11-01", "2026-11-02"), ("C001", "B002", "2026-11-02", "9999-12-31"),
        ("C002", "B001", "2026-11-01", "2026-11-02"),  # the delete closed it
        ("C003", "B001", "2026-11-03", "9999-12-31"),
    ]
    logged = lh.store.read(LoadLogRecord, where(source=source, status="succeeded"))
    assert sorted((r.data_date, r.operation, r.file_name) for r in logged) == [
        (D1, "change events", None), (D2, "change events", None), (D3, "change events", None)]
    admitted = lh.store.read(AdmissionLogRecord, where(source=source, data_date=D3))
    assert {r.decision for r in admitted} == {"admitted"} and len(admitted) == 6

    with pytest.raises(ConfigError, match="takes no delivered file"):
        lh.run(D1, [source], file=project / "anything.csv")
    with pytest.raises(ConfigError, match="takes no corrected file"):
        lh.readmit(source, D1, project / "anything.csv")
    with pytest.raises(ConfigError, match="no T-1 batch to reconcile"):
        fusion.reconcile(lh, source, D3)
    assert fusion.feeds_to_reconcile(lh.project, "cbs") == []


@pytest.mark.slow
def test_business_events_without_extract_become_the_dates_partition(project, engine, registered_root):
    import shutil

    shutil.copytree(registered_root, project / "lakehouse_data")
    source = "ccs.card_txn"
    contract_file = _feed_only(project, "ccs", "card_txn")  # keeps its business-events feed
    lh = open_project(project, engine)
    assert [r.status for r in lh.register(contract_file, by="test", reason="feed only")] == ["registered"]
    first = [card_txn(i, datetime(2026, 11, 2, 10) + timedelta(minutes=i)) for i in range(4)]
    later = [card_txn(10 + i, datetime(2026, 11, 3, 9) + timedelta(minutes=i)) for i in range(3)]
    drop_file(Path(lh.settings.landing) / lh.contract(source).realtime.path, "d.jsonl",
              as_lines(first + later))
    ingestion.run(lh, source)

    loaded = lh.run(D2, [source]).results[0]
    assert (loaded.status, loaded.rows_loaded) == ("succeeded", 4), loaded.message
    rows = lh.engine.rows(lh.table(source), where(data_date=D2))
    assert sorted(r["txn_id"] for r in rows) == [e["txn_id"] for e in first]
    assert lh.run(D2, [source]).results[0].rows_loaded == 4  # again: the same partition
    assert lh.engine.count(lh.table(source)) == 4

    state = fusion.current_state(lh, source)  # D2 from the table, D3 from the stream
    assert sorted((r["txn_id"], r["origin"]) for r in state) == sorted(
        [(e["txn_id"], "batch") for e in first] + [(e["txn_id"], "stream") for e in later])


@pytest.mark.slow
def test_a_change_feed_without_extract_gives_each_dates_snapshot(project, engine):
    source = "cbs.customer"
    contract_file = _feed_only(project, "cbs", "customer",
                               {"kind": "change_events", "path": "realtime/cbs/customer"})
    contract_file.write_text(contract_file.read_text(encoding="utf-8").replace(
        "load_type: zipper", "load_type: snapshot"), encoding="utf-8")
    lh = open_project(project, engine)
    assert [r.status for r in lh.register(contract_file, by="test", reason="feed only")] == ["registered"]
    a, b, c = customer("C001", "张三"), customer("C002", "李四"), customer("C003", "王五")
    events = [change_event("r", "C001", a, None, shanghai("2026-11-01"), 1),
              change_event("r", "C002", b, None, shanghai("2026-11-01", 1), 2),
              change_event("u", "C001", {**a, "branch_id": "B002"}, a, shanghai("2026-11-02"), 3),
              change_event("d", "C002", None, b, shanghai("2026-11-02", 5), 4),
              change_event("c", "C003", c, None, shanghai("2026-11-02", 9), 5)]
    drop_file(Path(lh.settings.landing) / "realtime/cbs/customer", "binlog_1.jsonl", as_lines(events))
    ingestion.run(lh, source)

    results = [lh.run(day, [source]).results[0] for day in (D2, D1)]
    assert [(r.status, r.rows_loaded) for r in results] == [("succeeded", 2), ("succeeded", 2)], \
        [r.message for r in results]
    rows = sorted((str(r["data_date"]), r["customer_id"], r["branch_id"])
                  for r in lh.engine.rows(lh.table(source)))
    assert rows == [("2026-11-01", "C001", "B001"), ("2026-11-01", "C002", "B001"),
                    ("2026-11-02", "C001", "B002"), ("2026-11-02", "C003", "B001")]
