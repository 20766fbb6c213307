"""What a task asks of the engine: load a source's date, build a model's date, take and verify a
backup, a history move, or a ping.

These run where the SparkSession lives: in the resident engine service (every task shares one
JVM) or, with ``engine: in_process``, in the task's own process. Requests and answers are plain
dicts, so the same code serves both. Up to ``orchestration.engine_workers`` requests are worked
on side by side, each on a worker engine of its own (its own Spark session and fair-scheduler
pool in the one application, ``Engine.worker``); a table's date is still written by one request
at a time (the table-date lock), and the rest wait for a free worker.

An answer is ``{"ok": True, "result": ...}`` or ``{"ok": False, "transient": bool, "error":
message}``; ``transient`` alone decides whether Airflow retries. An exception the framework did
not raise on purpose is retried only when it belongs to a known family of passing trouble
(network, storage, a lost Spark connection, a busy table); any other is terminal, and its
traceback is logged where the work ran.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from lakehouse.errors import LakehouseError, first_line, transient_family

log = logging.getLogger(__name__)

_projects: dict[str, tuple[tuple, object]] = {}
_engine = None
_workers: queue.Queue | None = None  # the engines free for a request (``engine_workers`` in all)
_lock = threading.Lock()  # guards the three above


def execute(request: dict) -> dict:
    """Run one request; never raises (errors become answers)."""
    received = time.time()
    try:
        op = _OPS[request["op"]]
    except KeyError:
        return {"ok": False, "transient": False, "error": f"unknown operation {request.get('op')!r}"}
    try:
        result, started = op(request)
        return {"ok": True, "result": result,
                "timing": {"received": received, "work_started": started, "finished": time.time()}}
    except LakehouseError as exc:
        return {"ok": False, "transient": exc.transient, "error": exc.render()}
    except Exception as exc:  # noqa: BLE001 - known passing trouble is retried, the rest is a bug
        return failure(request, exc)


def failure(request: dict, exc: Exception) -> dict:
    """The answer for an exception the framework did not raise on purpose, its traceback logged:
    transient if it belongs to a known family of passing trouble (``errors.transient_family``),
    otherwise terminal and named unexpected (retrying a bug does not help)."""
    work = f"{request.get('op')} {request.get('source') or request.get('model') or ''}".strip()
    family = transient_family(exc)
    if family is not None:
        log.warning("%s failed (%s); a retry may succeed", work, family, exc_info=exc)
        return {"ok": False, "transient": True, "error": f"{family}: {first_line(exc)}"}
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error in %s (incident %s)", work, incident, exc_info=exc)
    return {"ok": False, "transient": False, "error": (
        f"unexpected error in {work}, not retried: {first_line(exc)}. The full traceback is logged "
        f"by the lakehouse engine process (pid {os.getpid()}, incident {incident}): in the output "
        "of `lakehouse engine serve`, or in this task's log with orchestration.engine: in_process. "
        "Report it with the traceback; clear the task once it is fixed.")}


def lakehouse_for(conf: str):
    """The project at ``conf`` on this process's engine, reloaded when its files change."""
    from lakehouse.api import Lakehouse
    from lakehouse.config.loader import load_settings
    from lakehouse.engine import Engine

    global _engine
    signature = _signature(Path(conf))
    with _lock:
        cached = _projects.get(conf)
        if cached is not None and cached[0] == signature:
            return cached[1]
        if _engine is None:
            _engine = Engine.from_settings(load_settings(conf))
        lakehouse = Lakehouse(conf, engine=_engine).as_service()  # tasks act as the batch's principal
        lakehouse.engine.start()  # a task's first request pays the session start here, not in its work
        _ensure_workers(lakehouse.settings.orchestration.engine_workers)
        _projects[conf] = (signature, lakehouse)
        return lakehouse


def use_engine(engine, workers: int | None = None) -> None:
    """Serve with an engine that already runs (tests and the in-process mode share theirs);
    ``workers``: requests worked on side by side (default: the first project's setting)."""
    global _engine, _workers
    with _lock:
        _engine, _workers = engine, None
        _projects.clear()
        if workers is not None:
            _ensure_workers(workers)


def _ensure_workers(count: int) -> None:
    """Make the engines requests run on, once per engine: the engine itself for one at a time,
    else ``count`` worker engines (not over Spark Connect, whose client has one session)."""
    global _workers
    if _workers is not None:
        return
    _workers = queue.Queue()
    if count <= 1 or not _engine.has_workers:
        _workers.put(_engine)
        return
    for number in range(1, count + 1):
        _workers.put(_engine.worker(f"engine-{number}"))


@contextmanager
def _lakehouse(request: dict) -> Iterator[object]:
    """The request's project on a free engine of this process, given back when the block ends:
    at most ``engine_workers`` requests work at once, the others wait here."""
    lakehouse = lakehouse_for(request["conf"])
    engine = _workers.get()
    try:
        if engine is not _engine:
            engine.enter_pool()
        yield lakehouse.with_engine(engine)
    finally:
        _workers.put(engine)


def _signature(conf: Path) -> tuple:
    """Modification times of the project's configuration and the environment overrides."""
    stamps = []
    for folder in (conf, conf.parent / "quality_rules", conf.parent / "layers"):
        if folder.is_dir():
            stamps += [(str(p), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*.y*ml"))]
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LAKEHOUSE_")))
    return tuple(stamps), env


def _ping(request: dict) -> tuple[dict, float]:
    with _lakehouse(request) as lakehouse:
        started = time.time()
        lakehouse.engine.ping()
    return {"pid": os.getpid()}, started


def _load(request: dict) -> tuple[dict, float]:
    data_date = date.fromisoformat(request["data_date"])
    with _lakehouse(request) as lakehouse:
        started = time.time()
        result = lakehouse.run(data_date, [request["source"]], force=request.get("force", False)).results[0]
        if result.unchanged and result.promotable is None:
            decision = lakehouse.promotion(request["source"], data_date)
            if decision is not None:
                result.promotable, result.blocking_rules = decision["promotable"], list(decision["blocking_rules"])
    return {
        "source": result.source, "table": result.table, "data_date": data_date.isoformat(),
        "status": result.status, "message": result.message, "unchanged": result.unchanged,
        "rows_in": result.rows_in, "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined, "table_version": result.table_version,
        "promotable": result.promotable, "blocking_rules": list(result.blocking_rules),
        "loaded_at": result.loaded_at.isoformat() if result.loaded_at else None,
    }, started


def _build(request: dict) -> tuple[dict, float]:
    data_date = date.fromisoformat(request["data_date"])
    with _lakehouse(request) as lakehouse:
        started = time.time()
        summary = lakehouse.build_layers(data_date, [request["model"]], record_skips=False,
                                         skip_current=True)
    result = summary.results[0]
    return {"model": result.model, "table": result.table, "data_date": data_date.isoformat(),
            "status": result.status, "reason": result.reason, "blocked_by": result.blocked_by,
            "rows": result.rows, "table_version": result.table_version,
            "built_at": result.built_at.isoformat() if result.built_at else None}, started


def retention_totals(result) -> dict:
    """What a retention run removed and kept, in numbers."""
    removed = result.removed
    return {"rows_deleted": sum(r.rows or 0 for r in removed if r.action == "deleted"),
            "files_removed": sum(r.files or 0 for r in removed),
            "bytes_removed": sum(r.bytes or 0 for r in removed),
            "tables_vacuumed": sum(r.action == "vacuumed" for r in removed),
            "raw_folders_destroyed": sum(r.action == "destroyed" for r in removed),
            "dates_held": len({(r.table, r.data_date) for r in result.held})}


def _backup(request: dict) -> tuple[dict, float]:
    """Take a backup and prove it restores (``Lakehouse.backup``, then ``verify_backup``); a
    backup that does not restore is a terminal error naming what differs."""
    from lakehouse.errors import TerminalError

    with _lakehouse(request) as lakehouse:
        started = time.time()
        taken = lakehouse.backup()
        checked = lakehouse.verify_backup(taken.backup_root, taken.manifest.backup_id)
    if not checked.ok:
        raise TerminalError(f"backup {taken.manifest.backup_id} does not restore as taken",
                            checked.problems)
    return {"backup_id": taken.manifest.backup_id, "backup_root": taken.backup_root,
            "tables": len(taken.manifest.tables), "files": len(taken.manifest.files),
            "files_copied": taken.files_copied, "bytes_copied": taken.bytes_copied,
            "tables_compared": checked.tables_compared}, started


def _retention(request: dict) -> tuple[dict, float]:
    """Remove what retention says has expired, holds respected (``Lakehouse.retention``)."""
    with _lakehouse(request) as lakehouse:
        started = time.time()
        result = lakehouse.retention()
    return {"run_id": result.run_id, "latest": result.latest.isoformat(),
            **retention_totals(result)}, started


def _history(request: dict) -> tuple[dict, float]:
    """Move the data dates past each table's hot window to the history zone
    (``Lakehouse.move_to_history``, hot windows ending at ``data_date``, default yesterday)."""
    as_of = date.fromisoformat(request["data_date"]) if request.get("data_date") else None
    with _lakehouse(request) as lakehouse:
        started = time.time()
        moves = lakehouse.move_to_history(as_of=as_of)
    return {"moves": [{"table": m.table, "status": m.status, "rows": m.rows,
                       "data_dates": [d.isoformat() for d in m.dates],
                       "move_id": m.record.move_id if m.record else None,
                       "recovered": [r.move_id for r in m.recovered]} for m in moves]}, started


def _reconcile(request: dict) -> tuple[dict, float]:
    """Reconcile a real-time feed's events of a date against its T-1 batch (README, Real-time zone)."""
    from lakehouse.realtime.supervision import reconcile

    with _lakehouse(request) as lakehouse:
        started = time.time()
        result = reconcile(lakehouse, request["source"], date.fromisoformat(request["data_date"]))
    return result, started


_OPS = {"reconcile": _reconcile, "ping": _ping, "load": _load, "build": _build, "backup": _backup, "retention": _retention,
        "history": _history}
