"""The access audit on Delta: a chain written through the engine verifies; a record altered,
deleted or reordered by rewriting the table with Spark is caught and named; a read whose record
cannot be written fails; a writer reads the last record again after another writer's commit;
``show`` filters; ``lakehouse audit verify|show``."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import functions as F
from typer.testing import CliRunner

from lakehouse.cli import commands
from lakehouse.governance import tables as governance
from lakehouse.security.audit import (
    GENESIS_HASH, AccessedColumn, AccessEvent, AuditUnavailable, record_access, show, verify)

MOBILE = AccessedColumn("mart.mart_customer_360", "mobile", 3)
BALANCE = AccessedColumn("com.com_party_balance_daily", "balance", 2)
SECRET = "110105194912310021"
SHANGHAI = ZoneInfo("Asia/Shanghai")
EVENTS = [
    AccessEvent("alice", ["analyst"], "query", [MOBILE], "masked", 5,
                f"SELECT mobile FROM mart.mart_customer_360 WHERE id_number = '{SECRET}'"),
    AccessEvent("bob", ["risk"], "export", [BALANCE], "allowed", 120, "SELECT balance FROM com.x"),
    AccessEvent("alice", ["analyst"], "query", [MOBILE, BALANCE], "refused", None, "SELECT ...",
                "mobile is level 3, above the clearance of role analyst"),
]


@pytest.fixture(scope="module")
def written(engine, tmp_path_factory):
    """A lakehouse root whose audit chain holds the ``EVENTS``, and their records."""
    root = tmp_path_factory.mktemp("audited") / "lake"
    return root, [record_access(engine, str(root), e) for e in EVENTS]


@pytest.fixture
def copied(written, tmp_path) -> Path:
    """A private copy of the written root, to tamper with."""
    shutil.copytree(written[0], tmp_path / "lake")
    return tmp_path / "lake"


def rewrite(engine, root: Path, change) -> None:
    """Overwrite the audit table with ``change`` applied to its rows (as someone with write
    access to the storage could)."""
    path = governance.access_audit(str(root)).path
    rows = change(engine.spark.read.format("delta").load(path)).collect()
    engine.spark.createDataFrame(rows, engine.spark.read.format("delta").load(path).schema) \
        .write.format("delta").mode("overwrite").save(path)


def test_the_written_chain_verifies_and_keeps_no_query_text(engine, written):
    root, records = written
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.record_hash for r in records[:-1]]
    result = verify(engine, str(root))
    assert (result.intact, result.records, result.head_hash) == (True, 3, records[-1].record_hash)
    stored = engine.rows(governance.access_audit(str(root)))
    assert SECRET not in json.dumps(stored, default=str)
    assert {r["result"] for r in stored} == {"allowed", "masked", "refused"}
    assert next(r for r in stored if r["seq"] == 3)["rows_returned"] is None


TAMPERING = {
    "altered": lambda df: df.withColumn("rows_returned", F.when(F.col("seq") == 2, F.lit(1))
                                        .otherwise(F.col("rows_returned"))),
    "removed": lambda df: df.filter(F.col("seq") != 2),
    "reordered": lambda df: df.withColumn("seq", F.when(F.col("seq") == 2, F.lit(3))
                                          .when(F.col("seq") == 3, F.lit(2)).otherwise(F.col("seq"))),
}


@pytest.mark.parametrize("kind", [  # a removal is caught in the fast set too: the CLI test below
    "altered", pytest.param("removed", marks=pytest.mark.slow), pytest.param("reordered", marks=pytest.mark.slow)])
def test_a_tampered_record_is_caught_and_the_first_bad_one_named(engine, copied, kind):
    rewrite(engine, copied, TAMPERING[kind])
    result = verify(engine, str(copied))
    assert not result.intact
    assert (result.broken.seq, result.broken.kind) == (2, kind)
    assert "DESCRIBE HISTORY" in result.broken.investigate


def test_a_read_whose_record_cannot_be_written_fails(engine, tmp_path):
    root = tmp_path / "lake"
    (root / "governance").mkdir(parents=True)
    (root / "governance" / "access_audit").write_text("not a table")  # the table cannot be made
    with pytest.raises(AuditUnavailable) as caught:
        record_access(engine, str(root), EVENTS[0])
    message = str(caught.value)
    assert "the access could not be audited, so no data is returned" in message
    assert f"{root}/governance/access_audit: the audit record could not be written" in message


@pytest.mark.slow  # the lock itself, across processes and threads: tests/unit/test_access_audit_chain.py
def test_writers_on_several_threads_never_fork_the_chain(engine, copied):
    threads = [threading.Thread(target=record_access, args=(engine, str(copied), e)) for e in EVENTS[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify(engine, str(copied))
    assert result.intact and result.records == 5


def test_a_writer_chains_to_its_own_last_record_until_another_commit_comes(engine, copied, monkeypatch):
    from lakehouse.governance.store import GovernanceStore
    from lakehouse.security import audit

    reads = []
    read = audit._last_record
    monkeypatch.setattr(audit, "_last_record", lambda *args: reads.append(1) or read(*args))
    fourth = record_access(engine, str(copied), EVENTS[0])  # a root new to this process: read
    fifth = record_access(engine, str(copied), EVENTS[1])  # its own head: no read
    assert (len(reads), fourth.seq, fifth.prev_hash) == (1, 4, fourth.record_hash)
    sixth = audit.next_record(EVENTS[2], fifth)
    GovernanceStore(engine, str(copied)).append([sixth])  # as the writer of another process does
    seventh = record_access(engine, str(copied), EVENTS[0])
    assert (len(reads), seventh.seq, seventh.prev_hash) == (2, 7, sixth.record_hash)
    result = verify(engine, str(copied))
    assert result.intact and result.records == 7


def test_show_filters_by_principal_table_and_time(engine, written):
    root, records = str(written[0]), written[1]
    seqs = lambda found: [r.seq for r in found]  # noqa: E731
    assert seqs(show(engine, root)) == [1, 2, 3]
    assert seqs(show(engine, root, principal="alice")) == [1, 3]
    assert seqs(show(engine, root, table="mart.mart_customer_360")) == [1, 3]
    assert seqs(show(engine, root, principal="alice", table="com_party_balance_daily")) == [3]
    for tz in (timezone(timedelta(hours=-12)), timezone(timedelta(hours=14))):  # days apart
        today = datetime.now(tz).date()
        assert seqs(show(engine, root, since=today - timedelta(days=1), until=today, tz=tz)) == [1, 2, 3]
        assert show(engine, root, until=today - timedelta(days=1), tz=tz) == []
        assert show(engine, root, since=today + timedelta(days=1), tz=tz) == []
        assert {r.recorded_at.utcoffset() for r in show(engine, root, tz=tz)} == {tz.utcoffset(None)}
    assert seqs(show(engine, root, since=records[1].recorded_at)) == [2, 3]


def cli(monkeypatch, engine, root, *args):
    """`lakehouse audit ...` over the records at ``root`` (an auditor's lakehouse, whose
    refusal of other principals tests/unit/test_access_control.py covers)."""
    lakehouse = SimpleNamespace(
        audit_verify=lambda: verify(engine, str(root)),
        audit_records=lambda *filters: show(engine, str(root), *filters, tz=SHANGHAI))
    monkeypatch.setattr(commands, "_lakehouse", lambda conf, principal: lakehouse)
    return CliRunner().invoke(commands.app, ["audit", *args])


def test_audit_verify_and_show_on_the_command_line(engine, written, copied, monkeypatch):
    done = cli(monkeypatch, engine, written[0], "verify")
    assert done.exit_code == 0, done.output
    assert f"3 records, chain intact (head: seq 3, record_hash {written[1][-1].record_hash})" in done.output
    rewrite(engine, copied, TAMPERING["removed"])
    done = cli(monkeypatch, engine, copied, "verify")
    assert done.exit_code == 1
    assert "audit chain broken at seq 2 (removed)" in done.output
    assert "record seq 2 is missing: seq 1 is followed by seq 3" in done.output
    shown = json.loads(cli(monkeypatch, engine, written[0], "show", "--principal", "alice", "--json").output)
    assert [r["seq"] for r in shown] == [1, 3] and shown[1]["result"] == "refused"
    done = cli(monkeypatch, engine, written[0], "show", "--table", "com_party_balance_daily",
               "--since", datetime.now(SHANGHAI).date().isoformat())
    assert done.exit_code == 0, done.output
    assert "2 audit record(s)" in done.output and "bob" in done.output and "refused" in done.output
    assert written[1][1].recorded_at.astimezone(SHANGHAI).isoformat(sep=" ", timespec="seconds") in done.output
