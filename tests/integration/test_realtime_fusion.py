"""Stream/batch fusion: the current-state view is the last T-1 batch plus the events after it;
the T-1 batch of D, when it lands, reconciles D's events, the differences are recorded, and
the view then equals the batch."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.filters import where
from lakehouse.governance.records import ReconciliationRecord
from lakehouse.realtime import fusion, ingestion
from lakehouse.realtime.tables import events_spec
from lakehouse.zones.near_source import near_source_spec
from tests.realtime_events import as_lines, card_txn, drop_file

FEED = "ccs.card_txn"
D0, D1 = date(2026, 11, 2), date(2026, 11, 3)


def _row(event: dict, data_date: date) -> dict:
    return {**event, "txn_time": datetime.fromisoformat(event["txn_time"]),
            "amount": Decimal(event["amount"]), "data_date": data_date}


@pytest.mark.slow
def test_t1_batch_reconciles_the_days_events_and_the_current_state_becomes_the_batch(lakehouse):
    contract = lakehouse.contract(FEED)
    batch = near_source_spec(contract, lakehouse.root)
    engine = lakehouse.engine
    earlier = [card_txn(i, datetime(2026, 11, 2, 10) + timedelta(minutes=i)) for i in range(5)]
    engine.replace_rows(batch, [_row(e, D0) for e in earlier], where(data_date=D0))
    today = [card_txn(100 + i, datetime(2026, 11, 3, 9) + timedelta(minutes=i)) for i in range(6)]
    drop_file(Path(lakehouse.settings.landing) / contract.realtime.path, "d1.jsonl", as_lines(today))
    ingestion.run(lakehouse, FEED)

    state = fusion.current_state(lakehouse, FEED)
    assert sorted((r["txn_id"], r["origin"]) for r in state) == sorted(
        [(e["txn_id"], "batch") for e in earlier] + [(e["txn_id"], "stream") for e in today])

    # D1's batch lands: the last event never reached it, one amount differs, one row the
    # stream never saw
    landed = [dict(e) for e in today[:5]]
    landed[1]["amount"] = "1.00"
    landed.append(card_txn(200, datetime(2026, 11, 3, 23, 59)))
    engine.replace_rows(batch, [_row(e, D1) for e in landed], where(data_date=D1))
    record = fusion.reconcile(lakehouse, FEED, D1, run_id="reconcile-test")

    assert (record.events, record.batch_rows, record.only_in_events, record.only_in_batch,
            record.differing) == (6, 6, 1, 1, 1)
    assert Decimal(record.events_amount) == sum(Decimal(e["amount"]) for e in today)
    assert Decimal(record.batch_amount) == sum(Decimal(e["amount"]) for e in landed)
    assert record.status == "differences" and record.events_retired == 6
    assert '"only_in_events": [["RT00000105"]]' in record.sample_keys
    stored = lakehouse.store.read(ReconciliationRecord, where(source=FEED, data_date=D1))
    assert [r.run_id for r in stored] == ["reconcile-test"]
    assert engine.count(events_spec(contract, lakehouse.root)) == 0  # retired: the batch covers them

    after = fusion.current_state(lakehouse, FEED)
    assert {r["origin"] for r in after} == {"batch"}
    assert sorted((r["txn_id"], r["amount"]) for r in after) == sorted(
        (e["txn_id"], Decimal(e["amount"])) for e in [*earlier, *landed])
