"""The history zone (6.2.3 d): data dates past a table's hot window move to its history table,
a query over a date range returns the same rows before and after, and a move stopped between
its copy and its delete, or before its record, loses and doubles nothing when run again."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from lakehouse.governance.records import HistoryLogRecord
from lakehouse.governance.store import GovernanceStore
from lakehouse.lifecycle import backup
from lakehouse.security.leak_scan import protected_values
from lakehouse.security.stored_bytes import scan_stored
from lakehouse.governance.records import AccessAuditRecord
from lakehouse.zones.history import history_spec

DATES = [date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2),
         date(2026, 11, 3), date(2026, 11, 4)]
HOT_DAYS = 180  # near_source.cbs_transaction in conf/history.yaml
AS_OF = DATES[3] + timedelta(days=HOT_DAYS - 1)  # keeps DATES[3:], moves DATES[:3]
QUERY = ("SELECT data_date, txn_id, account_id, amount, direction FROM near_source.cbs_transaction "
         "WHERE data_date BETWEEN DATE'2026-10-30' AND DATE'2026-11-03' ORDER BY data_date, txn_id")


class Crash(RuntimeError):
    pass


def crash(_move):
    raise Crash("the process died between the copy and the delete")


def transactions(day: date, count: int = 3) -> list[dict]:
    return [{"txn_id": f"T{day:%m%d}{n}", "account_id": f"62284800000{day:%m%d}{n}",
             "txn_time": datetime(day.year, day.month, day.day, 9, n), "amount": Decimal(f"{n + 1}00.50"),
             "direction": "C" if n % 2 else "D", "channel": "ATM", "data_date": day}
            for n in range(count)]


def write_transactions(lh, spec) -> None:
    lh.engine.ensure_table(spec)
    ddl = ", ".join(f"`{c.name}` {c.spark_type}" for c in spec.columns)
    rows = [tuple(row[c] for c in spec.column_names) for day in DATES for row in transactions(day)]
    lh.engine.delta.append(spec, lh.engine.spark.createDataFrame(rows, ddl))


@pytest.mark.slow  # 35 s on the 2-core machine: over the default tier's budget
def test_a_move_keeps_every_row_where_a_query_over_a_date_range_finds_it(lakehouse, tmp_path, monkeypatch):
    lh = lakehouse
    spec = lh.table("cbs.transaction")
    write_transactions(lh, spec)
    before = lh.query(QUERY)
    assert len(before) == 15 and all("*" in r["account_id"] for r in before)  # level 3: masked
    hot_version = lh.engine.version(spec)

    [planned] = lh.move_to_history("cbs.transaction", as_of=AS_OF, dry_run=True)
    assert (planned.status, planned.dates, planned.rows) == ("would move", DATES[:3], 9)
    assert lh.engine.version(spec) == hot_version

    # a crash after the copy: the dates are in both tables, the query counts them once
    with pytest.raises(Crash):
        lh.move_to_history("cbs.transaction", as_of=AS_OF, between_steps=crash)
    history = history_spec(spec)
    assert lh.engine.count(history) == 9 and lh.engine.count(spec) == 18
    assert lh.query(QUERY) == before
    assert not lh.store.read(HistoryLogRecord)

    [moved] = lh.move_to_history("cbs.transaction", as_of=AS_OF)
    assert (moved.status, moved.dates, moved.rows) == ("moved", DATES[:3], 9)
    assert sorted({r["data_date"] for r in lh.engine.rows(spec)}) == DATES[3:]
    assert lh.engine.count(history) == 9  # the copy repeated replaced its dates: no double
    assert sorted({r["data_date"] for r in lh.engine.rows(history)}) == DATES[:3]
    assert {r["data_month"] for r in lh.engine.rows(history)} == {date(2026, 10, 1), date(2026, 11, 1)}
    after = lh.query(QUERY)
    assert after == before
    [record] = lh.store.read(HistoryLogRecord)
    assert (record.table_name, record.history_table, record.data_dates, record.rows, record.status) == (
        "near_source.cbs_transaction", "history.near_source__cbs_transaction", DATES[:3], 9, "moved")
    assert record.files >= 1 and record.bytes > 0 and record.hot_version == lh.engine.version(spec)
    assert record.hot_version_read == hot_version and record.history_version == lh.engine.version(history)
    last_read = max(lh.store.read(AccessAuditRecord), key=lambda r: r.seq)  # audited as before
    assert last_read.result == "masked" and "near_source.cbs_transaction.account_id:3" in last_read.objects


@pytest.mark.slow
def test_a_move_whose_record_was_lost_is_recorded_by_the_next_and_backups_hold_history(
        lakehouse, tmp_path, monkeypatch):
    lh = lakehouse
    spec = lh.table("cbs.transaction")
    write_transactions(lh, spec)
    before = lh.query(QUERY)
    real_append = GovernanceStore.append

    def lose_history_records(store, records, table=None):
        if records and isinstance(records[0], HistoryLogRecord):
            raise Crash("the process died before the record was written")
        return real_append(store, records, table)

    monkeypatch.setattr(GovernanceStore, "append", lose_history_records)
    with pytest.raises(Crash):
        lh.move_to_history("cbs.transaction", as_of=AS_OF)
    monkeypatch.setattr(GovernanceStore, "append", real_append)
    assert sorted({r["data_date"] for r in lh.engine.rows(spec)}) == DATES[3:]
    assert not lh.store.read(HistoryLogRecord)
    [again] = lh.move_to_history("cbs.transaction", as_of=AS_OF + timedelta(days=1))
    assert again.status == "moved" and again.dates == [DATES[3]]
    assert [r.data_dates for r in again.recovered] == [DATES[:3]]
    records = sorted(lh.store.read(HistoryLogRecord), key=lambda r: r.data_dates)
    assert [(r.data_dates, r.rows, r.status) for r in records] == [
        (DATES[:3], 9, "recovered"), ([DATES[3]], 3, "moved")]
    assert lh.query(QUERY) == before

    # a layer model's inputs are read across both zones too
    staged = str(tmp_path / "staged")
    lh.engine.model_output("SELECT data_date, count(*) AS n FROM txn GROUP BY data_date", [
        ("txn", spec, "history")], DATES[-2], staged)
    counts = {r["data_date"]: r["n"] for r in lh.engine.spark.read.parquet(staged).collect()}
    assert counts == {day: 3 for day in DATES[:-1]}

    taken = backup.take(lh.root, lh.conf_dir.resolve().parent, str(tmp_path / "backups"))
    history = history_spec(spec)
    assert taken.manifest.tables["history/near_source/cbs_transaction"] == lh.engine.version(history)

    # no protected value of the rows that moved is in clear in any stored byte: hot, history, backup
    values = protected_values(lh)
    assert {row["account_id"] for day in DATES[:4] for row in transactions(day)} <= set(values.owner)
    found = scan_stored(values, [lh.root, str(tmp_path / "backups")])
    assert found.leaks == [], [leak.render() for leak in found.leaks]
    assert found.encrypted > 0
