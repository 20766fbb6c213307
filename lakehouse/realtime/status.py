"""Each feed's status: kept in a small JSON file by the running query after every micro-batch,
read by ``lakehouse stream status`` and the real-time DAG (lag, throughput, last batch, last
error)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lakehouse.realtime.tables import checkpoint_path, status_path
from lakehouse.zones.storage import filesystem

RECENT_BATCHES = 20
ERROR_CHARACTERS = 400


def _write(path: str, state: dict) -> None:
    fs, local = filesystem(path)
    fs.create_dir(local.rsplit("/", 1)[0], recursive=True)
    temporary = f"{local}.tmp{os.getpid()}"
    with fs.open_output_stream(temporary) as out:
        out.write(json.dumps(state, default=str, indent=1).encode("utf-8"))
    fs.move(temporary, local)


def read(path: str) -> dict | None:
    fs, local = filesystem(path)
    try:
        with fs.open_input_stream(local) as stream:
            return json.loads(stream.read().decode("utf-8"))
    except (FileNotFoundError, OSError, ValueError):
        return None


class StatusFile:
    """The status of one feed's query, written through after each change."""

    def __init__(self, contract, root: str):
        self.path = status_path(contract, root)
        self.state = read(self.path) or {"feed": contract.name}
        self.state.setdefault("batches", [])

    def started(self, plan) -> None:
        self.state.update(state="running", pid=os.getpid(), started_at=time.time(),
                          transport=plan.transport, source=plan.source_path or plan.kafka.get("subscribe"),
                          events_table=plan.events.qualified_name, checks=plan.checks)
        _write(self.path, self.state)

    def batch(self, outcome) -> None:
        recent = self.state["batches"][-(RECENT_BATCHES - 1):]
        recent.append({"batch_id": outcome.batch_id, "rows_in": outcome.rows_in,
                       "loaded": outcome.loaded, "rejected": outcome.rejected,
                       "started": outcome.started, "finished": outcome.finished,
                       "max_event_time": outcome.max_event_time, "watermark": outcome.watermark})
        self.state.update(batches=recent, last_batch_at=outcome.finished)
        _write(self.path, self.state)

    def failed(self, error: BaseException) -> None:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        self.state.update(state="failed", last_error=text[:ERROR_CHARACTERS], failed_at=time.time())
        _write(self.path, self.state)

    def stopped(self) -> None:
        self.state.update(state="stopped", stopped_at=time.time())
        _write(self.path, self.state)


def processed_files(checkpoint: str) -> set[str]:
    """The files the file source of a checkpoint has read (its ``sources/0`` log)."""
    fs, local = filesystem(checkpoint)
    folder = Path(local) / "sources" / "0"
    found: set[str] = set()
    if not folder.is_dir():
        return found
    for log in folder.iterdir():
        if log.name.startswith("."):
            continue
        for line in log.read_text("utf-8").splitlines()[1:]:
            try:
                found.add(json.loads(line)["path"].removeprefix("file://"))
            except (ValueError, KeyError):
                continue
    return found


def summary(lakehouse, contract) -> dict:
    """One feed's lag (files not read yet, age of the oldest), throughput over the recent
    batches, last batch and last error."""
    state = read(status_path(contract, lakehouse.root)) or {"feed": contract.name, "batches": []}
    feed = contract.realtime
    now = time.time()
    pending, oldest = None, None
    if feed.transport == "files" and feed.path:
        landing = Path(lakehouse.settings.landing) / feed.path
        if landing.is_dir():
            done = processed_files(checkpoint_path(contract, lakehouse.root))
            waiting = [p for p in landing.glob("*.jsonl") if str(p.absolute()) not in done]
            pending = len(waiting)
            oldest = min((p.stat().st_mtime for p in waiting), default=None)
    batches = state.get("batches", [])
    rows = sum(max(b["rows_in"], 0) for b in batches)
    span = (batches[-1]["finished"] - batches[0]["started"]) if batches else 0
    alive = state.get("state") == "running" and _alive(state.get("pid"))
    return {
        "feed": contract.name, "kind": feed.kind, "transport": feed.transport,
        "state": ("running" if alive else "stopped (process gone)") if state.get("state") == "running"
        else state.get("state", "never started"),
        "pending_files": pending, "lag_seconds": None if oldest is None else round(now - oldest, 1),
        "events_per_second": round(rows / span, 1) if span > 0 else None,
        "last_batch": batches[-1] if batches else None,
        "last_batch_age_seconds": round(now - state["last_batch_at"], 1) if state.get("last_batch_at") else None,
        "last_error": state.get("last_error"),
    }


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True
