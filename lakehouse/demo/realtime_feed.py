"""The demo bank's real-time card-transaction feed (``ccs.card_txn``'s ``realtime`` section):
after the T-1 batches, the card system's events of the last data date (as its stream saw them:
one lost, one amount wrong) and of the day after (with a card used six times in a minute, a big
spender, a broken line and a resent event) are streamed into the real-time zone; the last
date is reconciled against its batch, and the real-time apps raise their warnings and tags."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lakehouse.filters import where

FEED = "ccs.card_txn"


def _event(row: dict) -> str:
    return json.dumps({**row, "txn_time": f"{row['txn_time']:%Y-%m-%d %H:%M:%S}",
                       "amount": str(row["amount"])}, ensure_ascii=False, default=str)


def _drop(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.tmp"
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(temporary, folder / name)


def next_day_events(cards: list[str], day: date) -> list[dict]:
    """Card transactions of ``day``: a few ordinary ones, a burst on one card, a big spender."""
    at = datetime(day.year, day.month, day.day, 9, 30)
    names = ["美团外卖", "京东商城", "中国石化加油站", "星巴克", "苏宁易购"]
    events = [{"txn_id": f"RT{day:%Y%m%d}{i:07d}", "card_no": cards[i % len(cards)],
               "txn_time": at + timedelta(minutes=7 * i), "amount": Decimal(20 + 13 * i).quantize(Decimal("0.01")),
               "direction": "D", "merchant_name": names[i % len(names)], "mcc": "5812"} for i in range(30)]
    burst = cards[0]
    events += [{"txn_id": f"RT{day:%Y%m%d}{100 + i:07d}", "card_no": burst,
                "txn_time": at + timedelta(hours=3, seconds=8 * i), "amount": Decimal("499.00"),
                "direction": "D", "merchant_name": "京东商城", "mcc": "5732"} for i in range(6)]
    spender = cards[1 % len(cards)]
    events += [{"txn_id": f"RT{day:%Y%m%d}{200 + i:07d}", "card_no": spender,
                "txn_time": at + timedelta(hours=5, minutes=i), "amount": Decimal("12800.00"),
                "direction": "D", "merchant_name": "苏宁易购", "mcc": "5732"} for i in range(2)]
    return events


def run_feed_demo(lh, last: date, console: Console) -> None:
    """Stream the last date's and the next day's card events, reconcile the last date, run the
    apps, and print what happened."""
    from lakehouse.realtime import apps, fusion, ingestion

    contract = lh.contract(FEED)
    folder = Path(lh.settings.landing) / contract.realtime.path
    # by the table's path: a rerun of the demo finds its deliveries loaded already, and this
    # process then never names the table in its catalog
    batch_rows = lh.engine.rows(lh.table(contract.name), where(data_date=last), order_by=["txn_id"])
    seen = [dict(r) for r in batch_rows[1:]]  # the stream lost the first one
    if seen:
        seen[0]["amount"] = seen[0]["amount"] + Decimal("1.00")  # and read one amount wrong
    cards = sorted({r["card_no"] for r in batch_rows}) or ["6228480000000000018"]
    today = next_day_events(cards, last + timedelta(days=1))
    _drop(folder, f"card_txn_{last:%Y%m%d}.jsonl", [_event(r) for r in seen])
    _drop(folder, f"card_txn_{last + timedelta(days=1):%Y%m%d}_1.jsonl",
          [_event(r) for r in today[:20]] + ['{"txn_id": "RT-broken", "amount": '])
    _drop(folder, f"card_txn_{last + timedelta(days=1):%Y%m%d}_2.jsonl",
          [_event(r) for r in today[20:]] + [_event(today[3])])  # resent by the publisher
    feed = ingestion.run(lh, FEED)
    rows_in = sum(o.rows_in for o in feed.outcomes)
    admitted = sum(o.loaded for o in feed.outcomes)
    rejected: dict[str, int] = {}
    for outcome in feed.outcomes:
        for stage, n in outcome.rejected.items():
            rejected[stage] = rejected.get(stage, 0) + n
    record = fusion.reconcile(lh, FEED, last, run_id="demo-reconcile")
    results = apps.run_for_feed(lh, FEED)
    state = fusion.current_state(lh, FEED)
    table = Table(title=f"real-time zone: {FEED} feed (files transport)")
    table.add_column("what")
    table.add_column("result")
    table.add_row("streamed", f"{rows_in} events in {len(feed.outcomes)} micro-batch(es): {admitted} admitted, "
                  + ", ".join(f"{n} {stage}" for stage, n in sorted(rejected.items()))
                  + " (governance.quarantine_ccs_card_txn_events)")
    table.add_row(f"reconciled {last}", f"{record.status}: {record.events} events, {record.batch_rows} batch rows, "
                  f"{record.only_in_batch} only in the batch, {record.only_in_events} only in events, "
                  f"{record.differing} differing; amounts {record.events_amount} vs {record.batch_amount}; "
                  f"{record.events_retired} events retired (governance.reconciliation)")
    by_origin: dict[str, int] = {}
    for row in state:
        by_origin[row["origin"]] = by_origin.get(row["origin"], 0) + 1
    table.add_row("current state", f"{len(state)} transactions: {by_origin.get('batch', 0)} from the T-1 "
                  f"batches, {by_origin.get('stream', 0)} from the stream since ({fusion.view_name(contract)})")
    for result in results:
        table.add_row(f"app {result.name}", f"{result.rows} row(s) in {result.table}")
    console.print(table)
