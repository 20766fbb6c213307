"""The data-quality report: scorecards, score trends and a self-contained HTML page.

Inputs are plain dicts as read from the governance tables (scorecard, failed rule results,
promotion status); everything here is pure standard-library Python, so the report can be
built and tested without Spark. Scores are 0–100 floats, shown with one decimal.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lakehouse.config.quality_rules import DIMENSIONS
from lakehouse.quality.scorecard import FAIR, GOOD, format_score, grade


SEVERITY_ORDER = {"fail": 0, "drop": 1, "warn": 2}
OBSERVED_MAX_CHARS = 300
"""Observed values longer than this are cut short in the HTML page."""

Row = dict[str, Any]


def _day(value: Any) -> dt.date | None:
    """``value`` as a date (accepts a date, a datetime or an ISO date string)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


def latest(rows: Iterable[Row], key_fields: Sequence[str], order_field: str) -> list[Row]:
    """One row per distinct ``key_fields`` value: the one with the greatest ``order_field``
    (on a tie, the one seen last). Keys keep their first-seen order."""
    from lakehouse.governance.records import newest_per_key

    return list(newest_per_key(rows, key_fields, order_field).values())


def _on(rows: Iterable[Row], data_date: dt.date, table: str | None) -> list[Row]:
    """The rows of ``data_date`` (and of ``table``, when given)."""
    day = _day(data_date)
    return [r for r in rows
            if _day(r.get("data_date")) == day and (table is None or r.get("table_name") == table)]


def overall_score(scores: dict[str, float | None]) -> float | None:
    """The mean of the measured (non-None) dimension scores; None when none was measured."""
    measured = [s for s in scores.values() if s is not None]
    return sum(measured) / len(measured) if measured else None


def _latest_scores(scorecard_rows: Iterable[Row]) -> list[Row]:
    """The latest run's row per table, date and known dimension (``data_date`` as a date)."""
    rows = ({**r, "data_date": _day(r.get("data_date"))}
            for r in scorecard_rows if r.get("dimension") in DIMENSIONS)
    return latest(rows, ("table_name", "data_date", "dimension"), "scored_at")


def scorecard(scorecard_rows: Iterable[Row], data_date: dt.date,
              table: str | None = None) -> list[Row]:
    """One scorecard per table for ``data_date`` (latest run per dimension), sorted by table:
    ``{"table_name", "source", "scores": {dimension: float | None}, "overall", "rules",
    "rules_failed"}``."""
    cards: dict[str, Row] = {}
    for row in _latest_scores(_on(scorecard_rows, data_date, table)):
        card = cards.setdefault(row["table_name"], {
            "table_name": row["table_name"], "source": row.get("source"),
            "scores": dict.fromkeys(DIMENSIONS), "overall": None, "rules": 0, "rules_failed": 0})
        score = row.get("score")
        card["scores"][row["dimension"]] = None if score is None else float(score)
        card["rules"] += row.get("rules") or 0
        card["rules_failed"] += row.get("rules_failed") or 0
        card["source"] = card["source"] or row.get("source")
    for card in cards.values():
        card["overall"] = overall_score(card["scores"])
    return [cards[name] for name in sorted(cards)]


def trend_dates(data_date: dt.date, days: int = 14) -> list[dt.date]:
    """The ``days`` dates ending at ``data_date`` (inclusive), oldest first."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    day = _day(data_date)
    return [day - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]


def trend(scorecard_rows: Iterable[Row], data_date: dt.date, days: int = 14,
          table: str | None = None) -> dict[str, list[tuple[dt.date, float | None]]]:
    """Per table with data in the window, its overall score on each of the ``days`` dates
    ending at ``data_date`` (oldest first); a date without data gives None."""
    dates = trend_dates(data_date, days)
    window = set(dates)
    rows = [r for r in scorecard_rows
            if _day(r.get("data_date")) in window and (table is None or r.get("table_name") == table)]
    scores: dict[str, dict[dt.date, dict[str, float | None]]] = {}
    for row in _latest_scores(rows):
        by_date = scores.setdefault(row["table_name"], {})
        score = row.get("score")
        by_date.setdefault(row["data_date"], {})[row["dimension"]] = (
            None if score is None else float(score))
    return {name: [(d, overall_score(scores[name][d]) if d in scores[name] else None)
                   for d in dates]
            for name in sorted(scores)}


# --- HTML ---------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei",
       "Noto Sans CJK SC", sans-serif; margin: 2rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
h3 { font-size: 1rem; margin: 1.5rem 0 .5rem; font-family: ui-monospace, monospace; }
.meta { color: #656d76; font-size: .9rem; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.score { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
.good { background: #dafbe1; color: #116329; }
.fair { background: #fff8c5; color: #7d4e00; }
.poor { background: #ffebe9; color: #a40e26; }
.none { background: #f6f8fa; color: #8c959f; }
.promoted { color: #116329; font-weight: 600; }
.held { color: #a40e26; font-weight: 600; }
.undecided { color: #8c959f; }
.sev-fail { color: #a40e26; font-weight: 600; }
.sev-drop { color: #bc4c00; font-weight: 600; }
.sev-warn { color: #7d4e00; }
code, .observed { font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; }
.empty { padding: 1rem; background: #f6f8fa; border: 1px solid #d0d7de; }
.trend { display: flex; align-items: center; gap: .75rem; color: #656d76; font-size: .85rem; }
svg rect.good { fill: #2da44e; } svg rect.fair { fill: #d4a72c; }
svg rect.poor { fill: #cf222e; } svg rect.none { fill: #d0d7de; }
"""


def _e(value: Any) -> str:
    """``value`` as escaped HTML text ("–" for None)."""
    return "–" if value is None else html.escape(str(value), quote=True)


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _anchor(table_name: str) -> str:
    return "table-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in table_name)


def sparkline(points: Sequence[tuple[dt.date, float | None]], width: int = 8,
              height: int = 32) -> str:
    """An inline SVG bar chart of overall scores (one bar per date, the date and score as its
    tooltip); a date without a score gets a short grey bar."""
    bars = []
    for i, (day, score) in enumerate(points):
        bar = max(2.0, height * (score or 0) / 100) if score is not None else 3.0
        bars.append(
            f'<rect class="{grade(score)}" x="{i * width}" y="{height - bar:.1f}" '
            f'width="{width - 2}" height="{bar:.1f}">'
            f"<title>{_e(day.isoformat())}: {_e(format_score(score))}</title></rect>")
    total = max(len(points), 1) * width
    label = f"overall score, {len(points)} days"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" '
            f'viewBox="0 0 {total} {height}" role="img" aria-label="{_e(label)}">'
            + "".join(bars) + "</svg>")


def _promotion_cell(status: Row | None) -> str:
    if status is None:
        return '<td class="undecided">not decided</td>'
    tip = f' title="{_e(status["message"])}"' if status.get("message") else ""
    if status.get("promotable"):
        return f'<td class="promoted"{tip}>promoted</td>'
    reason = ", ".join(status.get("blocking_rules") or []) or status.get("message") or "no reason given"
    return f'<td class="held"{tip}>held: {_e(reason)}</td>'


def _scorecard_table(cards: list[Row], statuses: dict[str, Row]) -> str:
    head = "".join(f"<th>{_e(d)}</th>" for d in DIMENSIONS)
    lines = [f"<table class=\"scorecard\"><thead><tr><th>table</th><th>source</th>{head}"
             "<th>overall</th><th>rules failed</th><th>promotion</th></tr></thead><tbody>"]
    for card in cards:
        name = card["table_name"]
        cells = "".join(f'<td class="score {grade(s)}">{_e(format_score(s))}</td>'
                        for s in (*(card["scores"][d] for d in DIMENSIONS), card["overall"]))
        lines.append(
            f'<tr><td><a href="#{_e(_anchor(name))}"><code>{_e(name)}</code></a></td>'
            f"<td><code>{_e(card['source'])}</code></td>{cells}"
            f'<td class="num">{_count(card["rules_failed"])} / {_count(card["rules"])}</td>'
            f"{_promotion_cell(statuses.get(name))}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _observed(value: Any) -> str:
    if value is None:
        return "–"
    text = str(value)
    if len(text) > OBSERVED_MAX_CHARS:
        text = text[:OBSERVED_MAX_CHARS] + "…"
    return _e(text)


def _failures_table(results: list[Row]) -> str:
    if not results:
        return "<p>No failed rules.</p>"
    results = sorted(results, key=lambda r: (SEVERITY_ORDER.get(r.get("severity"), 9),
                                             str(r.get("rule"))))
    lines = ["<table class=\"failures\"><thead><tr><th>rule</th><th>dimension</th>"
             "<th>severity</th><th>scope</th><th>expectation</th><th>unexpected / elements</th>"
             "<th>observed value</th></tr></thead><tbody>"]
    for r in results:
        tip = f' title="{_e(r["description"])}"' if r.get("description") else ""
        severity = r.get("severity")
        lines.append(
            f"<tr><td{tip}><code>{_e(r.get('rule'))}</code></td><td>{_e(r.get('dimension'))}</td>"
            f'<td class="sev-{_e(severity)}">{_e(severity)}</td><td>{_e(r.get("scope"))}</td>'
            f"<td><code>{_e(r.get('expectation'))}</code></td>"
            f'<td class="num">{_count(r.get("unexpected_count"))} / {_count(r.get("element_count"))}</td>'
            f'<td class="observed">{_observed(r.get("observed_value"))}</td></tr>')
    lines.append("</tbody></table>")
    return "\n".join(lines)


def render_html(data_date: dt.date, scorecard_rows: Iterable[Row], result_rows: Iterable[Row],
                status_rows: Iterable[Row], table: str | None = None, days: int = 14,
                generated_at: dt.datetime | None = None) -> str:
    """The report for ``data_date`` (optionally one ``table``) as a self-contained HTML5 page:
    scorecard with promotion status, then per table its score trend over ``days`` dates and its
    failed rules. ``generated_at`` defaults to now."""
    day = _day(data_date)
    scorecard_rows = list(scorecard_rows)
    cards = {c["table_name"]: c for c in scorecard(scorecard_rows, day, table)}
    statuses = {s["table_name"]: s
                for s in latest(_on(status_rows, day, table), ("table_name",), "decided_at")}
    failures: dict[str, list[Row]] = {}
    for r in _on(result_rows, day, table):
        if not r.get("success"):
            failures.setdefault(r["table_name"], []).append(r)
    names = sorted(set(cards) | set(statuses) | set(failures))
    for name in names:
        cards.setdefault(name, {"table_name": name, "source": None,
                                "scores": dict.fromkeys(DIMENSIONS), "overall": None,
                                "rules": 0, "rules_failed": 0})
    trends = trend(scorecard_rows, day, days, table)
    generated_at = generated_at or dt.datetime.now().astimezone()

    title = f"Data quality report — {day.isoformat()}"
    scope = f"table <code>{_e(table)}</code>" if table else f"{len(names)} table(s)"
    body = [f"<h1>{_e(title)}</h1>",
            f'<p class="meta">{scope} · generated {_e(generated_at.isoformat(sep=" ", timespec="seconds"))}'
            f" · scores 0–100: ≥{GOOD:g} green, ≥{FAIR:g} amber, lower red, – not measured</p>"]
    if not names:
        what = f"table <code>{_e(table)}</code>" if table else "any table"
        body.append(f'<p class="empty">No data-quality results for {what} on '
                    f"{_e(day.isoformat())}.</p>")
    else:
        body += ["<h2>Scorecard</h2>", _scorecard_table([cards[n] for n in names], statuses),
                 "<h2>Tables</h2>"]
        for name in names:
            points = trends.get(name) or [(d, None) for d in trend_dates(day, days)]
            body += [f'<section id="{_e(_anchor(name))}"><h3>{_e(name)}</h3>',
                     f'<div class="trend">{sparkline(points)}'
                     f"<span>overall score, last {len(points)} day(s)</span></div>",
                     _failures_table(failures.get(name, [])), "</section>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_html(path: Path, html_text: str) -> Path:
    """Write ``html_text`` to ``path`` as UTF-8, creating parent directories; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_text, encoding="utf-8")
    return path
