"""Rich tables shared by the CLI and the demo."""

from __future__ import annotations

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
    for column in ("model", "layer", "status", "rows", "seconds", "why not built"):
        table.add_column(column, justify="right" if column in ("rows", "seconds") else "left")
    colours = {"succeeded": "green", "skipped": "yellow", "failed": "red"}
    for r in results:
        colour = colours[r.status]
        table.add_row(r.model, r.layer, f"[{colour}]{r.status}[/{colour}]",
                      "" if r.rows is None else str(r.rows), f"{r.seconds:.1f}",
                      ", ".join(r.blocked_by) if r.blocked_by else r.reason.splitlines()[0] if r.reason else "")
    return table
