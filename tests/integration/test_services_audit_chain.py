"""The services' audit journal and the Spark readers and writers share one hash chain."""

from __future__ import annotations

import pytest

from lakehouse.security import audit
from lakehouse.security.audit import AccessedColumn, AccessEvent
from lakehouse.services.audit_journal import AuditJournal


def _event(principal: str, result: str = "masked") -> AccessEvent:
    return AccessEvent(principal=principal, roles=["customer_service"], operation="service",
                       objects=[AccessedColumn("mart.mart_customer_360", "mobile", 3)], result=result,
                       rows_returned=1, query_text="GET /services/customer_360?party_id=P1",
                       detail="service customer_360 v1")


@pytest.fixture
def encrypting(engine):
    """The shared engine writing encrypted Parquet (encryption at rest), and the readers without
    Spark holding the same key; the engine is left as it was found."""
    from lakehouse.engine import delta_rs

    key, before = bytes(range(32)), engine._encryption
    engine.encrypt_at_rest(key, True)
    delta_rs.use_parquet_key(lambda: key)
    yield engine
    engine.encrypt_at_rest(*before)
    delta_rs.use_parquet_key(lambda: None)


def encrypted_files(path: str) -> int:
    """How many of the table's Parquet files are encrypted (footer magic PARE)."""
    from pyarrow.fs import FileSelector

    from lakehouse.engine import delta_rs
    from lakehouse.zones.storage import filesystem

    fs, base = filesystem(path)
    files = [i.path for i in fs.get_file_info(FileSelector(base, recursive=True))
             if i.path.endswith(".parquet") and "_delta_log" not in i.path]
    return sum(delta_rs._is_encrypted(fs, f) for f in files)


@pytest.mark.slow  # Spark writes and verifies the chain: tens of seconds on a cold session
def test_journal_batches_and_spark_appends_interleave_on_one_intact_chain(encrypting, tmp_path):
    engine = encrypting
    root = str(tmp_path / "lake")
    audit.record_access(engine, root, _event("li.na", "allowed"))  # Spark creates the table
    journal = AuditJournal(root)
    for who in ("app.customer_desk", "chen.jie"):
        journal.record(_event(who))
    assert journal.commit() == 2 and journal.backlog == 0
    audit.record_access(engine, root, _event("sun.li", "allowed"))  # Spark after delta-rs
    journal.record(_event("app.customer_desk"))
    journal.close()
    assert encrypted_files(f"{root}/governance/access_audit") == 2  # Spark's; delta-rs's are clear
    result = audit.verify(engine, root)
    assert result.intact and result.records == 5, result.broken
    records = audit.show(engine, root)
    assert [r.principal for r in records] == ["li.na", "app.customer_desk", "chen.jie", "sun.li",
                                             "app.customer_desk"]
    assert not list(journal.folder.glob("journal-*.jsonl"))


def test_a_journal_left_by_a_stopped_server_is_committed_by_the_next(tmp_path):
    from lakehouse.engine import delta_rs
    from lakehouse.governance.records import AccessAuditRecord, spec_of

    root = str(tmp_path / "lake")
    first = AuditJournal(root)
    first.record(_event("app.customer_desk"))  # the server stops before committing it
    second = AuditJournal(root)
    assert second.backlog == 1 and second.commit() == 1
    rows = delta_rs.rows(spec_of(AccessAuditRecord, root).path)
    assert [(r["seq"], r["principal"]) for r in rows] == [(1, "app.customer_desk")]


@pytest.mark.slow  # a Spark write: seconds to tens of seconds
def test_a_serving_copy_reads_a_table_spark_wrote_encrypted(encrypting, tmp_path):
    from datetime import date
    from decimal import Decimal

    from lakehouse.services.serving_copy import ServingCopy
    from lakehouse.zones.tables import Column, TableSpec

    spec = TableSpec(name="mart_customer_360", zone="standard", layer="mart",
                     path=str(tmp_path / "mart_customer_360"), partition_by=("data_date",),
                     load_type="snapshot", keys=("party_id",),
                     columns=(Column("party_id", "string"), Column("total_assets_cny", "decimal(20,2)"),
                              Column("risk_warnings", "array<string>"), Column("data_date", "date")))
    for day in (date(2026, 11, 1), date(2026, 11, 2)):
        encrypting.append_rows(spec, [{"party_id": f"P{i}", "total_assets_cny": Decimal(f"{i}.50"),
                                   "risk_warnings": [f"as-of-{day}"], "data_date": day} for i in range(3)])
    assert encrypted_files(spec.path) == 2
    copy = ServingCopy(spec.path, ["party_id"], ["party_id", "total_assets_cny", "risk_warnings", "data_date"])
    assert copy.refresh() is True
    snapshot, rows = copy.lookup(("P2",))
    assert snapshot.data_date == date(2026, 11, 2) and snapshot.rows == 3
    assert rows == [{"party_id": "P2", "total_assets_cny": "2.50", "risk_warnings": ["as-of-2026-11-02"],
                     "data_date": "2026-11-02"}]
