"""A change-capture feed end to end: Debezium events streamed into the real-time zone, applied
date by date to the near-source zipper table (a delete closes the row), out of date order
giving the in-order table, and the current-state view fusing the zipper with later events."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lakehouse.realtime import change_zipper, fusion, ingestion
from lakehouse.zones.near_source import near_source_spec
from tests.conftest import open_project
from tests.realtime_events import as_lines, change_event, drop_file, shanghai

SOURCE = "cbs.customer"
FEED = """
realtime:
  kind: change_events
  path: realtime/cbs/customer
"""


def customer(cid: str, name: str, branch: str = "B001") -> dict:
    return {"customer_id": cid, "customer_name": name, "id_number": "110101199003078515",
            "mobile": "13812345678", "branch_id": branch, "open_date": "2020-01-02"}


@pytest.mark.slow
def test_change_events_maintain_the_zipper_and_the_current_state(project, engine, registered_root):
    import shutil

    shutil.copytree(registered_root, project / "lakehouse_data")
    contract_file = project / "conf" / "sources" / "cbs" / "customer.yaml"
    contract_file.write_text(contract_file.read_text() + FEED)
    lh = open_project(project, engine)
    lh.register(contract_file, by="test", reason="change feed")
    landing = Path(lh.settings.landing) / "realtime/cbs/customer"
    a, b, c = customer("C001", "张三"), customer("C002", "李四"), customer("C003", "王五")
    d1 = [change_event("r", "C001", a, None, shanghai("2026-11-01"), 1),
          change_event("r", "C002", b, None, shanghai("2026-11-01", 1), 2)]
    d2 = [change_event("u", "C001", {**a, "branch_id": "B002"}, a, shanghai("2026-11-02"), 3),
          change_event("d", "C002", None, b, shanghai("2026-11-02", 5), 4),
          change_event("c", "C003", c, None, shanghai("2026-11-02", 9), 5)]
    d3 = [change_event("u", "C003", {**c, "branch_id": "B009"}, c, shanghai("2026-11-03"), 6)]
    drop_file(landing, "binlog_1.jsonl", as_lines(d1 + d2 + d3))
    ingestion.run(lh, SOURCE)

    spec = near_source_spec(lh.contract(SOURCE), lh.root)
    for day in (date(2026, 11, 3), date(2026, 11, 1), date(2026, 11, 2)):  # out of order
        change_zipper.apply_changes(lh, SOURCE, day)
    rows = sorted((r["customer_id"], r["branch_id"], str(r["start_dt"]), str(r["end_dt"]))
                  for r in engine.rows(spec))
    assert rows == [
        ("C001", "B001", "2026-11-01", "2026-11-02"),
        ("C001", "B002", "2026-11-02", "9999-12-31"),
        ("C002", "B001", "2026-11-01", "2026-11-02"),  # the delete closed it
        ("C003", "B001", "2026-11-02", "2026-11-03"),
        ("C003", "B009", "2026-11-03", "9999-12-31"),
    ]
    change_zipper.apply_changes(lh, SOURCE, date(2026, 11, 2))  # a rerun changes nothing
    assert sorted((r["customer_id"], r["branch_id"], str(r["start_dt"]), str(r["end_dt"]))
                  for r in engine.rows(spec)) == rows

    # events of a date not applied yet show in the current state over the zipper's last date
    d4 = [change_event("d", "C001", None, {**a, "branch_id": "B002"}, shanghai("2026-11-04"), 7)]
    drop_file(landing, "binlog_2.jsonl", as_lines(d4))
    ingestion.run(lh, SOURCE)
    state = fusion.current_state(lh, SOURCE)
    assert sorted((r["customer_id"], r["branch_id"], r["origin"]) for r in state) == [("C003", "B009", "batch")]
