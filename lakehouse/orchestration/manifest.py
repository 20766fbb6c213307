"""The DAG manifest: what Airflow needs from ``conf/`` and ``layers/``, compiled once.

The DAG files read this JSON and nothing else, so parsing them costs no Spark, no Great
Expectations and no YAML: ``lakehouse dags compile`` writes it, ``lakehouse dags compile
--check`` (run by the tests) fails when it no longer matches the configuration.

Assets are named after the tables (``near_source.cbs_customer``, ``integrated.pty_party``);
every asset event carries the data date it published as its partition key and in
``extra["data_dates"]``. A source whose quality rules look up a table of its own system loads
``after`` it; one that looks up a table of another system ``waits_for`` that table's event for
the same date (``cross_system_wait_hours`` at most). A source known only by its real-time
feed (no ``delivery``) is marked ``feed_only``: its T-1 load keeps its table from the feed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.errors import ConfigError, Problem

if TYPE_CHECKING:  # the DAG files import this module: it stays free of pydantic and Spark
    from lakehouse.config import Project

FORMAT = 2
FEED_ONLY_SCHEDULE = "daily"
"""The T-1 schedule of a system whose sources are all known only by their real-time feeds."""
DAGS_DIR = "dags"
MANIFEST_FILE = "lakehouse_manifest.json"


def default_path(project: Project) -> Path:
    """``dags/lakehouse_manifest.json`` beside ``conf/``."""
    return project.conf_dir.parent / DAGS_DIR / MANIFEST_FILE


def compile_manifest(project: Project, path: Path) -> dict:
    """The manifest of ``project`` as it will be written to ``path`` (paths relative to it)."""
    from lakehouse.config.fields import cron_of
    from lakehouse.layers.model_tables import model_spec
    from lakehouse.layers.runner import build_order
    from lakehouse.zones.near_source import near_source_spec
    from lakehouse.quality.assessment import referenced_tables

    root = project.settings.root
    tables = {c.table_name: near_source_spec(c, root).qualified_name for c in project.sources.values()}
    tables.update({name: model_spec(project, m).qualified_name for name, m in project.models.items()})
    by_table = {c.table_name: c for c in project.sources.values()}
    systems: dict[str, dict] = {}
    schedules = {c.system: c.delivery.schedule for c in reversed(project.sources.values())
                 if c.delivery is not None}
    for contract in project.sources.values():
        system = project.systems[contract.system]
        schedule = schedules.get(contract.system, FEED_ONLY_SCHEDULE)
        entry = systems.setdefault(system.code, {
            "name": system.name, "name_en": system.name_en, "owner": system.owner,
            "schedule": schedule, "cron": cron_of(schedule), "sources": []})
        delivery = contract.delivery
        referenced = [by_table[t] for t in referenced_tables(project, contract)
                      if t in by_table and t != contract.table_name]
        after = sorted(c.name for c in referenced if c.system == contract.system)
        waits_for = sorted(({"table": tables[c.table_name], "source": c.name, "system": c.system}
                            for c in referenced if c.system != contract.system),
                           key=lambda w: w["table"])
        entry["sources"].append({
            "name": contract.name, "entity": contract.entity, "owner": contract.owner,
            "table": tables[contract.table_name], "load_type": contract.load_type,
            "path": delivery.path if delivery else None,
            "path_date_format": delivery.path_date_format if delivery else None,
            "control": delivery.control.path if delivery and delivery.control else None,
            "expected_by": delivery.expected_by.strftime("%H:%M")
            if delivery and delivery.expected_by else None,
            "after": after, "waits_for": waits_for, "realtime": contract.realtime is not None,
            **({"feed_only": True} if delivery is None else {})})
    layers: dict[str, list[dict]] = {}
    for name in build_order(project):
        model = project.models[name]
        same_layer = [i for i in model.inputs if i in project.models
                      and project.models[i].layer == model.layer]
        layers.setdefault(model.layer, []).append({
            "name": name, "table": tables[name], "owner": model.owner,
            "inputs": sorted(tables[i] for i in model.inputs), "after": sorted(same_layer)})
    orchestration = project.settings.orchestration
    return {
        "format": FORMAT,
        "generated_by": "lakehouse dags compile",
        "conf": os.path.relpath(project.conf_dir, path.parent),
        "timezone": project.settings.timezone,
        "retries": orchestration.retries,
        "retry_delay_minutes": orchestration.retry_delay_minutes,
        "cross_system_wait_hours": orchestration.cross_system_wait_hours,
        "backup_cron": None if orchestration.backup_schedule is None else cron_of(orchestration.backup_schedule),
        "retention_cron": None if project.retention.schedule is None else cron_of(project.retention.schedule),
        "history_cron": None if project.history.schedule is None else cron_of(project.history.schedule),
        "systems": dict(sorted(systems.items())),
        "layers": {layer: layers[layer] for layer in ("integrated", "common", "mart") if layer in layers},
        "realtime_feeds": [{"name": c.name, "kind": c.realtime.kind, "transport": c.realtime.transport,
                            "owner": c.owner} for c in project.sources.values() if c.realtime is not None],
    }


def render(manifest: dict) -> str:
    return json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"


def write(project: Project, path: Path | None = None) -> tuple[Path, dict]:
    """Compile and write the manifest; returns where, and what."""
    path = path or default_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiled = compile_manifest(project, path)
    path.write_text(render(compiled), encoding="utf-8")
    return path, compiled


def stale(project: Project, path: Path | None = None) -> list[Problem]:
    """Why the manifest at ``path`` does not match the configuration (empty when current)."""
    path = path or default_path(project)
    fix = f"run `lakehouse dags compile --conf {project.conf_dir}` and commit {path.name}"
    if not path.is_file():
        return [Problem("the DAG manifest is missing", str(path), fix=fix)]
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [Problem(f"the DAG manifest is not valid JSON: {exc}", str(path), fix=fix)]
    wanted = compile_manifest(project, path)
    differs = sorted(k for k in set(wanted) | set(found) if wanted.get(k) != found.get(k))
    if not differs:
        return []
    detail = []
    for key in ("systems", "layers"):
        if key in differs:
            old, new = found.get(key) or {}, wanted.get(key) or {}
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            detail.append(f"{key}: {', '.join(changed)}")
    return [Problem("the DAG manifest is out of date with conf/ and layers/ ("
                    + "; ".join(detail or differs) + ")", str(path), key=", ".join(differs), fix=fix)]


def read(path: Path) -> dict:
    """The manifest at ``path``, for the DAG files (JSON only: cheap at parse time)."""
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("the DAG manifest is missing", [Problem(
            "not found", str(path), fix="run `lakehouse dags compile` and deploy the file with the DAGs")]) from None
    if manifest.get("format") != FORMAT:
        raise ConfigError("the DAG manifest has another format", [Problem(
            f"format {manifest.get('format')!r}, this framework reads {FORMAT}", str(path),
            key="format", fix="run `lakehouse dags compile` with the deployed framework version")])
    return manifest


def conf_dir(manifest: dict, path: Path) -> Path:
    """The project's ``conf/`` for tasks: ``$LAKEHOUSE_CONF``, else as compiled (relative to
    the manifest)."""
    override = os.environ.get("LAKEHOUSE_CONF")
    return Path(override) if override else (Path(path).parent / manifest["conf"]).resolve()
