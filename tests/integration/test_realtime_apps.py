"""Real-time applications declared in realtime/*.yaml: a card transaction burst raises a risk
warning, a day's big outflow a customer tag, as streaming queries over the feed's events."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.realtime import apps, ingestion
from lakehouse.security.stored_bytes import CHECKPOINT_SEALED
from lakehouse.zones import Zone, zone_path
from tests.realtime_events import as_lines, card_txn, drop_file

FEED = "ccs.card_txn"
BURST_CARD, CALM_CARD, SPENDER_CARD = "6228480000000000018", "6228480000000000026", "6228480000000000034"
SLOW_SPENDER_CARD = "6228480000000000042"


@pytest.mark.slow
def test_burst_warning_and_big_spender_tag_from_the_stream(lakehouse):
    at = datetime(2026, 11, 3, 14, 0, 5)
    events = [card_txn(i, at + timedelta(seconds=5 * i), card_no=BURST_CARD, amount="10.00")
              for i in range(6)]  # 6 in one minute: a medium warning
    events += [card_txn(10 + i, at + timedelta(seconds=20 * i), card_no=CALM_CARD) for i in range(3)]
    events += [card_txn(20 + i, at + timedelta(hours=i), card_no=SPENDER_CARD, amount="9000.00",
                        direction="D") for i in range(3)]  # 27,000 out today
    events += [card_txn(40 + i, at + timedelta(minutes=60 + 30 * i), card_no=SLOW_SPENDER_CARD,
                        amount="7500.00", direction="D") for i in range(2)]  # 15,000: no tag yet
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

    # 6,000 more by the slow spender: 21,000 today, from the 15,000 its app kept in its state
    landing = Path(lakehouse.settings.landing) / lakehouse.contract(FEED).realtime.path
    drop_file(landing, "f.jsonl", as_lines([card_txn(50, at + timedelta(minutes=130), amount="6000.00",
                                                     card_no=SLOW_SPENDER_CARD, direction="D")]))
    ingestion.run(lakehouse, FEED)
    apps.run_for_feed(lakehouse, FEED)
    tags = {t["card_no"]: (t["outflow"], t["txns"]) for t in apps.rows(lakehouse, "rt_card_big_spender")}
    assert tags == {SPENDER_CARD: (Decimal("27000.00"), 3), SLOW_SPENDER_CARD: (Decimal("21000.00"), 3)}

    # the state stores hold the card numbers and sums: each of their files is sealed (4.2.2.2 c)
    checkpoints = Path(zone_path(lakehouse.root, Zone.REALTIME, "_checkpoints"))
    state = [f for f in checkpoints.rglob("*") if f.is_file() and "state" in f.relative_to(checkpoints).parts
             and not f.name.endswith(".crc")]
    assert len({f.relative_to(checkpoints).parts[0] for f in state}) == 2, state  # both apps
    assert {f for f in state if not f.read_bytes().startswith(CHECKPOINT_SEALED)} == set()
    for f in Path(zone_path(lakehouse.root, Zone.REALTIME)).rglob("*"):  # and no table's log
        if f.is_file():
            stored = f.read_bytes()
            assert not [card for card in (BURST_CARD, SPENDER_CARD, CALM_CARD, SLOW_SPENDER_CARD) if card.encode() in stored], f
