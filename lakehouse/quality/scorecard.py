"""Scores: a rule's 0-100 from its result, a dimension's as the mean of its rules' scores."""

from __future__ import annotations

from lakehouse.config.quality_rules import DIMENSIONS, QualityRule

GOOD, FAIR = 95.0, 80.0
"""The score bands: at or above ``GOOD`` is green, at or above ``FAIR`` amber, lower red."""


def rule_score(rule: QualityRule, success: bool, element_count: int | None,
               unexpected_count: int | None, error: str | None = None) -> float:
    """The share of checked rows passing a row rule, or 100/0 for a batch-level rule."""
    if error:
        return 0.0
    if rule.row_level and element_count is not None and unexpected_count is not None:
        return 100.0 if element_count == 0 else round(100.0 * (1 - unexpected_count / element_count), 4)
    return 100.0 if success else 0.0


def dimension_scores(scored: list[tuple[QualityRule, float, bool]]) -> dict[str, dict]:
    """Per dimension: score (mean of its rules, None if none measures it), rules and failed."""
    found: dict[str, dict] = {}
    for dimension in DIMENSIONS:
        mine = [(score, success) for rule, score, success in scored if rule.dimension == dimension]
        found[dimension] = {
            "score": round(sum(s for s, _ in mine) / len(mine), 2) if mine else None,
            "rules": len(mine),
            "rules_failed": sum(1 for _, ok in mine if not ok),
        }
    return found


def describe(evidence: dict) -> str:
    """The admission's quality evidence, one line per dimension, for people."""
    if "scores" not in evidence:
        return "; ".join(f"{k}: {v}" for k, v in evidence.items())
    lines = [f"{evidence['rows_in']} rows in, {evidence['rows_unparseable']} unparseable, "
             f"{evidence['rules']} rules (Great Expectations {evidence['ge_version']})"]
    failed = evidence.get("failed_rules", [])
    for dimension in DIMENSIONS:
        score = evidence["scores"].get(dimension)
        mine = [f for f in failed if f["dimension"] == dimension]
        text = "not measured" if score is None else f"{score:.1f}"
        if mine:
            text += "; failed: " + ", ".join(
                f"{f['rule']} ({f['severity']}"
                + (f", {f['unexpected']} of {f['checked']} rows" if f.get("checked") is not None else "")
                + ")" for f in mine)
        lines.append(f"{dimension}: {text}")
    return "\n".join(lines)


def grade(score: float | None) -> str:
    """The colour class of a score: ``good`` (≥95), ``fair`` (≥80), ``poor`` or ``none``.
    Judged on the score as shown (one decimal), so colour and text agree."""
    if score is None:
        return "none"
    shown = round(score, 1)
    return "good" if shown >= GOOD else "fair" if shown >= FAIR else "poor"


def format_score(score: float | None) -> str:
    """A score with one decimal, or "–" when not measured."""
    return "–" if score is None else f"{score:.1f}"
