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


@pytest.mark.slow  # Spark writes and verifies the chain: tens of seconds on a cold session
def test_journal_batches_and_spark_appends_interleave_on_one_intact_chain(engine, tmp_path):
    root = str(tmp_path / "lake")
    audit.record_access(engine, root, _event("li.na", "allowed"))  # Spark creates the table
    journal = AuditJournal(root)
    for who in ("app.customer_desk", "chen.jie"):
        journal.record(_event(who))
    assert journal.commit() == 2 and journal.backlog == 0
    audit.record_access(engine, root, _event("sun.li", "allowed"))  # Spark after delta-rs
    journal.record(_event("app.customer_desk"))
    journal.close()
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
