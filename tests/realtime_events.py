"""Synthetic real-time events for the tests: card transactions (business events) and Debezium
change events, written as JSON lines files the way a source system drops them (written under
a temporary name, then renamed, so the stream never reads half a file)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

CARD = "6228480000000000018"  # Luhn-valid, fictitious


def card_txn(i: int, at: datetime, amount: str | None = None, **changes) -> dict:
    event = {"txn_id": f"RT{i:08d}", "card_no": CARD, "txn_time": f"{at:%Y-%m-%d %H:%M:%S}",
             "amount": amount or f"{(i * 37) % 5000 + 1}.{i % 100:02d}", "direction": "D" if i % 3 else "C",
             "merchant_name": "示例商户", "mcc": "5411"}
    event.update(changes)
    return event


def drop_file(folder: Path, name: str, lines: list[str]) -> Path:
    """Write ``lines`` as ``folder/name`` atomically (temporary name, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.tmp"
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(temporary, folder / name)
    return folder / name


def checksum(events: list[dict], columns=("txn_id", "amount", "txn_time")) -> tuple[int, str]:
    """Count and an order-independent checksum of events (amounts compared as decimals)."""
    from decimal import Decimal

    lines = sorted("|".join(str(Decimal(str(e[c]))) if c == "amount" else str(e[c]).replace("T", " ")
                            for c in columns) for e in events)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def as_lines(events: list[dict]) -> list[str]:
    return [json.dumps(e, ensure_ascii=False) for e in events]


def change_event(op: str, key: str, after: dict | None, before: dict | None, at: datetime,
                 pos: int, file: str = "binlog.000001") -> dict:
    """One Debezium change event of a customer row (envelope: op, before, after, source, ts_ms)."""
    millis = int((at - datetime(1970, 1, 1)).total_seconds() * 1000) - 8 * 3600 * 1000  # Asia/Shanghai
    return {"op": op, "before": before, "after": after, "ts_ms": millis + 5,
            "source": {"connector": "mysql", "db": "cbs", "table": "customer", "file": file,
                       "pos": pos, "ts_ms": millis}}


def shanghai(day: str, seconds: int = 0) -> datetime:
    return datetime.fromisoformat(day) + timedelta(hours=9, seconds=seconds)
