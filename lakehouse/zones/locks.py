"""A lock per table and data date, so two runs of the same date can never write it at once.

The lock is a file ``<root>/_locks/<table>/<data date>.lock`` created atomically (``O_EXCL``),
holding who took it. A second run finds it and stops with ``TableBusy``, a transient error:
the orchestrator retries later, and by then the first run has finished (and the retry finds the
date already loaded). A lock left by a process that died on this host is taken over.

On S3-compatible object storage (an ``s3a://`` root) the lock is an object created with a
conditional PUT and held under a renewed lease (``lakehouse.zones.object_locks``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from lakehouse.config.fields import URI_SCHEME
from lakehouse.errors import Problem, TransientError
from lakehouse.zones import object_locks


class TableBusy(TransientError):
    """Another run holds the table for this data date."""


def lock_path(root: str, table: str, data_date: date) -> Path | None:
    """Where the lock file lives on local disk; None for a URI root (an S3 root's lock is an
    object, see ``object_locks``; other stores' roots take no lock, and one engine service
    serialises the writes there)."""
    if URI_SCHEME.match(root):
        return None
    return Path(root) / "_locks" / table / f"{data_date.isoformat()}.lock"


@contextmanager
def table_date_lock(root: str, table: str, data_date: date, holder: str) -> Iterator[None]:
    """Hold ``table`` for ``data_date`` while the block runs; ``holder`` names the run."""
    if object_locks.is_object_store(root):
        with object_locks.held(root, table, data_date, holder):
            yield
        return
    path = lock_path(root, table, data_date)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = {"holder": holder, "host": socket.gethostname(), "pid": os.getpid(),
            "since": datetime.now().isoformat(timespec="seconds")}
    for attempt in (1, 2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            held = _read(path)
            if attempt == 1 and _abandoned(held):
                path.unlink(missing_ok=True)
                continue
            raise TableBusy(f"{table} for {data_date} is being written by another run", [Problem(
                f"held by {held.get('holder', '?')} (host {held.get('host', '?')}, pid "
                f"{held.get('pid', '?')}) since {held.get('since', '?')}", str(path),
                fix="wait for that run to finish (a retry will find its result); if no run holds "
                    "it, delete the lock file")]) from None
    with os.fdopen(fd, "w") as handle:
        json.dump(mine, handle)
    try:
        yield
    finally:
        if _read(path).get("holder") == holder:
            path.unlink(missing_ok=True)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _abandoned(held: dict) -> bool:
    """Left by a process of this host that no longer runs."""
    if held.get("host") != socket.gethostname() or not isinstance(held.get("pid"), int):
        return False
    try:
        os.kill(held["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
