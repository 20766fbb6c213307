"""The audit chain without Spark: the canonical serialisation and hash, the chain checks of
``verify`` on records in memory, the events refused, and the lock that fails closed."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lakehouse.governance.records import AccessAuditRecord
from lakehouse.security import audit
from lakehouse.security.audit import (
    GENESIS_HASH, AccessedColumn, AccessEvent, AuditUnavailable, canonical, chain_hash, next_record)

MOBILE = AccessedColumn("mart.mart_customer_360", "mobile", 3)
NAME = AccessedColumn("mart.mart_customer_360", "customer_name", 3)
BRANCH = AccessedColumn("mart.mart_customer_360", "branch_code", 2)


def event(principal="alice", result="allowed", rows=5, objects=(MOBILE, BRANCH), **changes) -> AccessEvent:
    return AccessEvent(principal=principal, roles=changes.pop("roles", ["analyst"]), operation="query",
                       objects=list(objects), result=result, rows_returned=rows,
                       query_text=changes.pop("query_text", "SELECT mobile FROM mart.mart_customer_360"),
                       detail=changes.pop("detail", ""))


def sample(**changes) -> AccessAuditRecord:
    values = dict(seq=1, recorded_at=datetime(2026, 11, 2, 8, 30, 0, 123456, tzinfo=timezone.utc),
                  principal="alice", roles=["analyst"], operation="query",
                  objects=["mart.mart_customer_360.mobile:3"], result="masked", rows_returned=5,
                  query_hash="ab" * 32, detail="", prev_hash=GENESIS_HASH, record_hash=None)
    values.update(changes)
    return AccessAuditRecord(**values)


def chain(count: int) -> list[AccessAuditRecord]:
    records, last = [], None
    for n in range(count):
        last = next_record(event(rows=n), last)
        records.append(last)
    return records


def test_the_canonical_serialisation_is_sorted_compact_json_with_the_utc_instant():
    assert canonical(sample(detail="refusé")) == (
        '{"detail":"refusé","objects":["mart.mart_customer_360.mobile:3"],"operation":"query",'
        '"principal":"alice","query_hash":"' + "ab" * 32 + '","recorded_at":'
        '"2026-11-02T08:30:00.123456Z","result":"masked","roles":["analyst"],"rows_returned":5,'
        '"seq":1}')
    assert canonical(sample(rows_returned=None)).count('"rows_returned":null') == 1


def test_the_record_hash_is_sha256_of_the_previous_hash_and_the_canonical_text():
    record = sample()
    expected = hashlib.sha256((GENESIS_HASH + canonical(record)).encode("utf-8")).hexdigest()
    assert chain_hash(record) == expected and len(expected) == 64
    assert chain_hash(dataclasses.replace(record, record_hash="anything")) == expected  # not hashed


@pytest.mark.parametrize("change", [
    {"seq": 2}, {"recorded_at": datetime(2026, 11, 2, 8, 30, 0, 123457, tzinfo=timezone.utc)},
    {"principal": "bob"}, {"roles": ["analyst", "auditor"]}, {"operation": "export"},
    {"objects": ["mart.mart_customer_360.mobile:4"]}, {"result": "allowed"}, {"rows_returned": 6},
    {"rows_returned": None}, {"query_hash": "cd" * 32}, {"detail": " "}, {"detail": None},
    {"prev_hash": "1" * 64}])
def test_every_field_but_the_record_hash_is_covered(change):
    assert chain_hash(sample(**change)) != chain_hash(sample())


def test_the_hash_does_not_depend_on_the_time_zone_a_timestamp_is_read_in(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        aware = sample().recorded_at
        as_read_back = aware.astimezone().replace(tzinfo=None)  # PySpark: naive local time
        assert as_read_back.hour == 16
        assert chain_hash(sample(recorded_at=as_read_back)) == chain_hash(sample())
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_new_record_is_chained_to_the_last_and_keeps_only_the_query_hash():
    first, second = chain(2)
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.record_hash)
    assert second.record_hash == chain_hash(second)
    query = "SELECT * FROM mart.mart_customer_360 WHERE id_number = '110105194912310021'"
    record = next_record(event(query_text=query, roles=["b", "a", "b"]), None)
    assert record.query_hash == hashlib.sha256(query.encode()).hexdigest()
    assert "110105194912310021" not in repr(record)
    assert record.roles == ["a", "b"]
    assert record.objects == ["mart.mart_customer_360.branch_code:2", "mart.mart_customer_360.mobile:3"]


def test_accessed_columns_are_stored_as_text_and_parsed_back():
    assert str(MOBILE) == "mart.mart_customer_360.mobile:3"
    assert AccessedColumn.parse(str(MOBILE)) == MOBILE
    assert audit.must_audit([BRANCH]) and not audit.must_audit([AccessedColumn("ref.product", "name", 1)])


@pytest.mark.parametrize("changes, message", [
    (dict(result="shown"), "result 'shown' is not one of allowed, masked, refused"),
    (dict(result="refused", rows=3), "rows_returned must be None exactly when the result is refused"),
    (dict(result="allowed", rows=None), "rows_returned must be None exactly when the result is refused"),
    (dict(principal=""), "no principal"),
    (dict(roles="analyst"), "roles must be a sequence of role names"),
    (dict(objects=["mart.mart_customer_360.mobile:3"]), "objects must be AccessedColumn values"),
])
def test_an_event_that_cannot_be_recorded_as_given_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        event(**changes)


# -- the chain checks, on records in memory ---------------------------------------------------------

def first_break(records):
    return audit._first_break(records, "/lake/governance/access_audit")


def test_an_intact_chain_has_no_break():
    assert first_break(chain(4)) is None and first_break([]) is None


def test_an_altered_record_is_named():
    records = chain(4)
    records[1] = dataclasses.replace(records[1], rows_returned=999)
    found = first_break(records)
    assert (found.seq, found.kind) == (2, "altered")
    assert "record seq 2 was altered" in found.message
    assert "DESCRIBE HISTORY delta.`/lake/governance/access_audit`" in found.investigate


def test_an_altered_record_whose_hash_was_recomputed_breaks_the_next_link():
    records = chain(4)
    forged = dataclasses.replace(records[1], rows_returned=999)
    records[1] = dataclasses.replace(forged, record_hash=chain_hash(forged))
    found = first_break(records)
    assert (found.seq, found.kind) == (3, "relinked") and "seq 2 was rewritten" in found.message


def test_a_removed_record_is_named_by_its_seq():
    records = chain(4)
    found = first_break(records[:1] + records[2:])
    assert (found.seq, found.kind) == (2, "removed")
    assert found.message.startswith("record seq 2 is missing: seq 1 is followed by seq 3")
    assert first_break(records[2:]).message.startswith(
        "record seq 1 to 2 is missing: the start of the chain is followed by seq 3")


def test_a_removed_record_with_the_later_ones_renumbered_is_found():
    records = chain(4)
    renumbered = records[:1] + [dataclasses.replace(r, seq=r.seq - 1) for r in records[2:]]
    found = first_break(renumbered)
    assert (found.seq, found.kind) == (2, "relinked")


def test_reordered_records_are_named():
    records = chain(4)
    swapped = [records[0], dataclasses.replace(records[2], seq=2), dataclasses.replace(records[1], seq=3),
               records[3]]
    found = first_break(swapped)
    assert (found.seq, found.kind) == (2, "reordered")
    assert "chained to the record now numbered seq 3, not to seq 1" in found.message


def test_a_seq_held_twice_is_named():
    records = chain(3)
    found = first_break([records[0], records[1], dataclasses.replace(records[2], seq=2)])
    assert (found.seq, found.kind) == (2, "duplicated")


# -- failing closed --------------------------------------------------------------------------------

class _NoEngine:
    def __getattr__(self, name):
        raise AssertionError(f"the engine must not be called ({name})")


def test_an_unwritable_governance_zone_fails_the_read_before_any_spark_work(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    with pytest.raises(AuditUnavailable) as caught:
        audit.record_access(_NoEngine(), str(blocker / "lake"), event())
    error = caught.value
    assert "the access could not be audited, so no data is returned" in str(error)
    assert "cannot create the audit lock" in str(error) and "make the governance zone writable" in str(error)
    assert error.transient is False  # a wrong path: a retry cannot help


HOLD = """
import sys, time
from lakehouse.security.audit import chain_lock
with chain_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_the_lock_keeps_out_a_writer_of_another_process(tmp_path):
    root = str(tmp_path / "lake")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, root, "30"], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        assert holder.stdout.readline().strip() == "held"
        began = time.monotonic()
        with pytest.raises(AuditUnavailable, match="another writer held the audit lock") as caught:
            with audit.chain_lock(root, wait=0.3):
                pass
        assert caught.value.transient and time.monotonic() - began >= 0.3
    finally:
        holder.kill()
        holder.wait()
    with audit.chain_lock(root, wait=5):  # released by the kernel when its holder died
        pass


def test_the_lock_keeps_out_a_writer_of_another_thread(tmp_path):
    root, held, release = str(tmp_path / "lake"), threading.Event(), threading.Event()

    def hold():
        with audit.chain_lock(root):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        with pytest.raises(AuditUnavailable, match=r"held the audit lock \(in this process\)"):
            with audit.chain_lock(root, wait=0.2):
                pass
    finally:
        release.set()
        holder.join()


# -- the head a writer keeps -------------------------------------------------------------------

def test_a_table_is_at_a_version_while_no_later_commit_file_exists(tmp_path):
    from lakehouse.engine.delta_tables import DeltaTables

    log, tables = tmp_path / "t" / "_delta_log", DeltaTables(spark=None)
    log.mkdir(parents=True)
    for version in (0, 1, 2):
        (log / f"{version:020d}.json").write_text("{}")
    (log / f"{2:020d}.crc").write_text("{}")
    assert tables.version(str(tmp_path / "t")) == 2
    assert tables.is_latest(str(tmp_path / "t"), 2)
    assert not tables.is_latest(str(tmp_path / "t"), 1)  # a commit came after it
    assert not tables.is_latest(str(tmp_path / "t"), 3)  # not written (yet)
    assert not tables.is_latest(str(tmp_path / "gone"), 2)  # no table
