"""What a task asks of the engine: load a source's date, build a model's date, or a ping.

These run where the SparkSession lives: in the resident engine service (every task shares one
JVM) or, with ``engine: in_process``, in the task's own process. Requests and answers are plain
dicts, so the same code serves both. An answer is ``{"ok": True, "result": ...}`` or
``{"ok": False, "transient": bool, "error": message}``; ``transient`` alone decides whether
Airflow retries. An exception the framework did not raise on purpose is retried only when it
belongs to a known family of passing trouble (network, storage, a lost Spark connection, a busy
table); any other is terminal, and its traceback is logged where the work ran.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from datetime import date
from pathlib import Path

from lakehouse.errors import LakehouseError, first_line, transient_family

log = logging.getLogger(__name__)

_projects: dict[str, tuple[tuple, object]] = {}
_engine = None
_lock = threading.Lock()


def execute(request: dict) -> dict:
    """Run one request; never raises (errors become answers)."""
    received = time.time()
    try:
        op = _OPS[request["op"]]
    except KeyError:
        return {"ok": False, "transient": False, "error": f"unknown operation {request.get('op')!r}"}
    try:
        with _lock:  # one piece of work at a time per engine (one JVM, 2 cores)
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
    from lakehouse.engine import Engine

    global _engine
    signature = _signature(Path(conf))
    cached = _projects.get(conf)
    if cached is not None and cached[0] == signature:
        return cached[1]
    if _engine is None:
        from lakehouse.config.loader import load_settings

        _engine = Engine.from_settings(load_settings(conf))
    lakehouse = Lakehouse(conf, engine=_engine).as_service()  # tasks act as the batch's principal
    lakehouse.engine.start()  # a task's first request pays the session start here, not in its work
    _projects[conf] = (signature, lakehouse)
    return lakehouse


def use_engine(engine) -> None:
    """Serve with an engine that already runs (tests and the in-process mode share theirs)."""
    global _engine
    _engine = engine
    _projects.clear()


def _signature(conf: Path) -> tuple:
    """Modification times of the project's configuration and the environment overrides."""
    stamps = []
    for folder in (conf, conf.parent / "quality_rules", conf.parent / "layers"):
        if folder.is_dir():
            stamps += [(str(p), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*.y*ml"))]
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LAKEHOUSE_")))
    return tuple(stamps), env


def _ping(request: dict) -> tuple[dict, float]:
    lakehouse = lakehouse_for(request["conf"])
    started = time.time()
    lakehouse.engine.ping()
    return {"pid": os.getpid()}, started


def _load(request: dict) -> tuple[dict, float]:
    lakehouse = lakehouse_for(request["conf"])
    data_date = date.fromisoformat(request["data_date"])
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
    lakehouse = lakehouse_for(request["conf"])
    data_date = date.fromisoformat(request["data_date"])
    started = time.time()
    summary = lakehouse.build_layers(data_date, [request["model"]], record_skips=False,
                                     skip_current=True)
    result = summary.results[0]
    return {"model": result.model, "table": result.table, "data_date": data_date.isoformat(),
            "status": result.status, "reason": result.reason, "blocked_by": result.blocked_by,
            "rows": result.rows, "table_version": result.table_version,
            "built_at": result.built_at.isoformat() if result.built_at else None}, started


_OPS = {"ping": _ping, "load": _load, "build": _build}
