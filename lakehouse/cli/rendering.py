"""What the CLI and the demo print: rich tables for people, JSON documents for programs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lakehouse.config.quality_rules import DIMENSIONS
from lakehouse.quality.scorecard import format_score, grade

SCORE_COLOURS = {"good": "green", "fair": "yellow", "poor": "red"}
"""The terminal colour of each score band (``quality.scorecard.grade``)."""


def _score(value: float | None) -> str:
    if value is None:
        return "[dim]–[/dim]"
    colour = SCORE_COLOURS[grade(value)]
    return f"[{colour}]{format_score(value)}[/{colour}]"


def scorecard_table(report) -> Table:
    """The quality scorecard of ``report`` (``Lakehouse.quality_report``): one row per table."""
    grid = Table(title=f"quality scorecard {report.data_date} (0-100)")
    for column in ("table", *DIMENSIONS, "overall", "rules failed", "promotion"):
        grid.add_column(column, justify="left" if column in ("table", "promotion") else "right")
    held = {s["table_name"]: s for s in report.statuses}
    for row in report.scorecard:
        status = held.get(row["table_name"])
        promotion = "-" if status is None else "promoted" if status["promotable"] else \
            "[red]held: " + ", ".join(status["blocking_rules"]) + "[/red]"
        grid.add_row(row["table_name"], *[_score(row["scores"][d]) for d in DIMENSIONS],
                     _score(row["overall"]), f"{row['rules_failed']} of {row['rules']}", promotion)
    return grid


def layer_table(results, title: str) -> Table:
    """Layer model results (``ModelResult``): status, rows and why a model was not built."""
    table = Table(title=title)
    for column in ("model", "layer", "status", "rows", "seconds", "promotion", "why not built"):
        table.add_column(column, justify="right" if column in ("rows", "seconds") else "left")
    colours = {"succeeded": "green", "skipped": "yellow", "failed": "red", "current": "green"}
    for r in results:
        colour = colours[r.status]
        promotion = "" if r.promotable is None else "promoted" if r.promotable else \
            f"[red]held: {', '.join(r.blocking_rules)}[/red]"
        table.add_row(r.model, r.layer, f"[{colour}]{r.status}[/{colour}]",
                      "" if r.rows is None else str(r.rows), f"{r.seconds:.1f}", promotion,
                      ", ".join(r.blocked_by) if r.blocked_by else r.reason.splitlines()[0] if r.reason else "")
    return table


PIPED_WIDTH = 100_000
"""The line width when standard output is not a terminal: wide enough that no table is shrunk
and no column name or value is cut."""


def stdout() -> Console:
    """A console on the current standard output: the terminal's width on a terminal; when piped
    or redirected, lines as long as they need (no truncation, no ellipsis)."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: amounts never pass through binary floating point
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def to_json(document: Any) -> str:
    """``document`` as indented JSON: dates and times as ISO strings, paths as text."""
    return json.dumps(document, ensure_ascii=False, indent=2, default=_plain)


def run_document(summary) -> dict:
    """A T-1 run (``RunSummary``): its id, date, whether every load succeeded, and each load."""
    return {"run_id": summary.run_id, "data_date": summary.data_date, "ok": summary.ok,
            "results": [dataclasses.asdict(r) for r in summary.results]}


def scorecard_document(report) -> dict:
    """The quality scorecard (``QualityReport``) of a data date, its promotions and reports."""
    return {"data_date": report.data_date, "dimensions": list(DIMENSIONS),
            "scorecard": report.scorecard, "statuses": report.statuses, "failed": report.failed,
            "html": report.html, "data_docs": report.data_docs}


def checks_document(decision) -> dict:
    """The admission checks of a source (``Decision``) in their order, with their problems."""
    from lakehouse.admission.checks import CHECKS

    return {"source": decision.source, "data_date": decision.data_date,
            "registration_version": decision.registration_version, "admitted": decision.admitted,
            "checks": [{"check": name, "status": decision.checks[name].status,
                        "evidence": decision.checks[name].evidence,
                        "problems": [{"message": p.message, "fix": p.fix, "file": p.file,
                                      "line": p.line, "key": p.key}
                                     for p in decision.checks[name].problems]}
                       for name in CHECKS]}


def models_document(project, order: list[str]) -> list[dict]:
    """The layer models in build ``order`` with their layer, load type, keys and inputs."""
    return [{"model": name, "layer": m.layer, "load_type": m.load_type,
             "retention_days": m.retention_days, "keys": list(m.keys), "inputs": dict(m.inputs)}
            for name in order for m in [project.models[name]]]


def retention_table(result) -> Table:
    """What a retention run removed (or would remove, dry run) and what holds kept."""
    from rich.markup import escape

    verb = "would remove" if result.dry_run else "removed"
    grid = Table(title=f"retention {result.run_id}: latest data date {result.latest}, {verb} "
                 f"{len(result.removed)}, kept by holds {len(result.held)}")
    for column in ("zone", "action", "table / folder", "data date", "rows", "files", "bytes", "rule"):
        grid.add_column(column, justify="right" if column in ("rows", "files", "bytes") else "left",
                        overflow="fold")
    for r in result.removals:
        action = r.action if not result.dry_run or r.action == "held" else f"would be {r.action}"
        shown = r.table if r.zone not in ("raw", "staging") else r.path
        grid.add_row(r.zone, escape(action + (f" ({r.held_by})" if r.held_by else "")), escape(shown),
                     "" if r.data_date is None else r.data_date.isoformat(),
                     *["" if v is None else f"{v:,}" for v in (r.rows, r.files, r.bytes)], escape(r.rule))
    return grid


def retention_document(result) -> dict:
    return {"run_id": result.run_id, "latest": result.latest, "dry_run": result.dry_run,
            "vacuum_window_hours": result.vacuum_window_hours,
            "removals": [dataclasses.asdict(r) for r in result.removals]}
