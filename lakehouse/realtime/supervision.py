"""Keeping the real-time feeds running, for the ``lakehouse_realtime`` DAG: each watch reads a
feed's status (lag, last batch, last error) and starts its stream again when its process is
gone or failed; and the T-1 DAG's reconciliation of a date once the batch is loaded."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from lakehouse.realtime import status

log = logging.getLogger(__name__)
RUNNING = "running"


def start_detached(conf: Path, source: str) -> int:
    """Start ``lakehouse stream run SOURCE`` (with its apps) in its own session, beside the
    caller, its output appended to the feed's log in the project folder; its process id."""
    project = Path(conf).resolve().parent
    logs = project / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"stream_{source}.log", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lakehouse.cli", "stream", "run", source, "--apps",
             "--conf", str(Path(conf).resolve())],
            cwd=project, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=os.environ.copy())
    return process.pid


def watch(conf: Path, source: str, restart: bool = True) -> dict:
    """The feed's status; when its stream is not running (never started, stopped, failed or its
    process gone) and ``restart``, it is started again and ``restarted`` says so."""
    from lakehouse.api import Lakehouse

    lakehouse = Lakehouse(conf)
    summary = status.summary(lakehouse, lakehouse.contract(source))
    summary["restarted"] = False
    if summary["state"] != RUNNING and restart:
        summary["restarted_pid"] = start_detached(conf, source)
        summary["restarted"] = True
        log.warning("%s was %s (last error: %s): started again as process %s", source,
                    summary["state"], summary["last_error"], summary["restarted_pid"])
    return summary


def reconcile(lakehouse, source: str, data_date: date) -> dict:
    """Reconcile ``source``'s events of ``data_date`` against its just-loaded T-1 batch."""
    from lakehouse.realtime import fusion

    record = fusion.reconcile(lakehouse, source, data_date)
    return {"source": source, "data_date": data_date.isoformat(), "status": record.status,
            "events": record.events, "batch_rows": record.batch_rows,
            "only_in_events": record.only_in_events, "only_in_batch": record.only_in_batch,
            "differing": record.differing, "events_amount": record.events_amount,
            "batch_amount": record.batch_amount, "events_retired": record.events_retired}
