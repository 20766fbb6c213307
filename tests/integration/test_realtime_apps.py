"""Real-time applications declared in realtime/*.yaml: a card transaction burst raises a risk
warning, a day's big outflow a customer tag, as streaming queries over the feed's events."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.realtime import apps, ingestion
from tests.realtime_events import as_lines, card_txn, drop_file

FEED = "ccs.card_txn"
BURST_CARD, CALM_CARD, SPENDER_CARD = "6228480000000000018", "6228480000000000026", "6228480000000000034"


@pytest.mark.slow
def test_burst_warning_and_big_spender_tag_from_the_stream(lakehouse):
    at = datetime(2026, 11, 3, 14, 0, 5)
    events = [card_txn(i, at + timedelta(seconds=5 * i), card_no=BURST_CARD, amount="10.00")
              for i in range(6)]  # 6 in one minute: a medium warning
    events += [card_txn(10 + i, at + timedelta(seconds=20 * i), card_no=CALM_CARD) for i in range(3)]
    events += [card_txn(20 + i, at + timedelta(hours=i), card_no=SPENDER_CARD, amount="9000.00",
                        direction="D") for i in range(3)]  # 27,000 out today
    drop_file(Path(lakehouse.settings.landing) / lakehouse.contract(FEED).realtime.path, "e.jsonl",
              as_lines(events))
    ingestion.run(lakehouse, FEED)
    results = {r.name: r.rows for r in apps.run_for_feed(lakehouse, FEED)}
    assert results == {"rt_card_txn_burst": 1, "rt_card_big_spender": 1}

    [warning] = apps.rows(lakehouse, "rt_card_txn_burst")
    assert (warning["card_no"], warning["txns"], warning["amount"], warning["warning_level"]) == (
        BURST_CARD, 6, Decimal("60.00"), "medium")
    [tag] = apps.rows(lakehouse, "rt_card_big_spender")
    assert (tag["card_no"], tag["outflow"], tag["tag"]) == (SPENDER_CARD, Decimal("27000.00"), "big_spender_today")
    assert tag["day_start"].strftime("%Y-%m-%d %H:%M") == "2026-11-03 00:00"  # midnight, Asia/Shanghai
