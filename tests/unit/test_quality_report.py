"""The data-quality report: latest run wins, overall scores, trends and the HTML page (no Spark)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from lakehouse.quality import report

DAY = dt.date(2024, 5, 31)
ACCOUNT, CUSTOMER = "near_source.cbs_account", "near_source.cbs_customer"


def score(table=ACCOUNT, dimension="completeness", value=100.0, day=DAY, at=None,
          rules=1, failed=0, run="r1"):
    return {"table_name": table, "source": "cbs." + table.rsplit("_", 1)[-1], "data_date": day,
            "dimension": dimension, "score": value, "rules": rules, "rules_failed": failed,
            "run_id": run, "scored_at": at or dt.datetime.combine(day, dt.time(6))}


def result(rule="customer_id.not_null", table=ACCOUNT, severity="warn", observed=None,
           description=None):
    return {"table_name": table, "data_date": DAY, "rule": rule, "dimension": "completeness",
            "severity": severity, "scope": "new_rows",
            "expectation": "expect_column_values_to_not_be_null", "success": False,
            "element_count": 1000, "unexpected_count": 3, "observed_value": observed,
            "description": description}


def status(table=ACCOUNT, promotable=True, blocking=(), at=None, message=None):
    return {"table_name": table, "data_date": DAY, "promotable": promotable,
            "blocking_rules": list(blocking), "message": message,
            "decided_at": at or dt.datetime.combine(DAY, dt.time(7))}


def page(scores=(), results=(), statuses=(), **kwargs):
    return report.render_html(DAY, list(scores), list(results), list(statuses),
                              generated_at=dt.datetime(2024, 6, 1, 8), **kwargs)


def test_latest_keeps_the_greatest_order_value_per_key():
    rows = [{"k": "a", "t": 2, "v": "new"}, {"k": "a", "t": 1, "v": "old"}, {"k": "b", "t": 1, "v": "b"}]
    assert [r["v"] for r in report.latest(rows, ("k",), "t")] == ["new", "b"]


def test_latest_run_wins_in_the_scorecard():
    early, late = dt.datetime(2024, 6, 1, 6), dt.datetime(2024, 6, 1, 9)
    rows = [score(value=50.0, at=late, failed=1, run="rerun"), score(value=10.0, at=early, failed=1)]
    [card] = report.scorecard(rows, DAY)
    assert card["scores"]["completeness"] == 50.0
    assert card["rules"] == 1 and card["rules_failed"] == 1


def test_overall_is_the_mean_of_measured_dimensions():
    rows = [score(dimension="completeness", value=100.0), score(dimension="validity", value=80.0),
            score(dimension="accuracy", value=None, rules=0), score(dimension="uniqueness", value=90.0,
                                                                     rules=2, failed=1)]
    [card] = report.scorecard(rows, DAY)
    assert card["overall"] == pytest.approx(90.0)
    assert card["scores"]["accuracy"] is None and card["scores"]["timeliness"] is None
    assert list(card["scores"]) == list(report.DIMENSIONS)
    assert (card["rules"], card["rules_failed"]) == (4, 1)


def test_overall_is_none_when_nothing_was_measured():
    [card] = report.scorecard([score(value=None, rules=0)], DAY)
    assert card["overall"] is None


def test_scorecard_keeps_only_the_date_sorts_and_filters_tables():
    rows = [score(table=CUSTOMER), score(table=ACCOUNT), score(table=ACCOUNT, day=DAY - dt.timedelta(1))]
    assert [c["table_name"] for c in report.scorecard(rows, DAY)] == [ACCOUNT, CUSTOMER]
    assert [c["table_name"] for c in report.scorecard(rows, DAY, table=CUSTOMER)] == [CUSTOMER]
    assert report.scorecard(rows, DAY + dt.timedelta(1)) == []


def test_trend_fills_missing_dates_and_respects_days():
    two_ago = DAY - dt.timedelta(2)
    rows = [score(value=90.0), score(value=70.0, day=two_ago),
            score(value=10.0, day=DAY - dt.timedelta(5)),   # outside a 3-day window
            score(value=99.0, day=DAY + dt.timedelta(1))]   # after the report date
    trend = report.trend(rows, DAY, days=3)
    assert trend == {ACCOUNT: [(two_ago, 70.0), (DAY - dt.timedelta(1), None), (DAY, 90.0)]}
    assert len(report.trend(rows, DAY)[ACCOUNT]) == 14


def test_trend_uses_the_latest_run_and_the_table_filter():
    rows = [score(value=40.0, at=dt.datetime(2024, 6, 1, 6)), score(value=60.0, at=dt.datetime(2024, 6, 1, 9)),
            score(table=CUSTOMER, value=100.0)]
    assert report.trend(rows, DAY, days=1, table=ACCOUNT) == {ACCOUNT: [(DAY, 60.0)]}


def test_trend_rejects_an_empty_window():
    with pytest.raises(ValueError):
        report.trend([], DAY, days=0)


@pytest.mark.parametrize(("value", "grade"), [(100.0, "good"), (95.0, "good"), (94.96, "good"),
                                              (94.9, "fair"), (80.0, "fair"), (79.9, "poor"),
                                              (0.0, "poor"), (None, "none")])
def test_grades_follow_the_thresholds(value, grade):
    assert report.grade(value) == grade


def test_html_colours_cells_by_threshold_and_formats_one_decimal():
    text = page([score(dimension="completeness", value=96.0), score(dimension="validity", value=85.0),
                 score(dimension="accuracy", value=12.0)])
    assert '<td class="score good">96.0</td>' in text
    assert '<td class="score fair">85.0</td>' in text
    assert '<td class="score poor">12.0</td>' in text
    assert '<td class="score none">–</td>' in text          # timeliness: not measured


def test_html_escapes_rule_names_and_observed_values():
    text = page([score()], [result(rule="<script>alert(1)</script>", observed='{"x": "<b>"}',
                                   description='say "hi" <now>')])
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;" in text and "<b>" not in text
    assert 'title="say &quot;hi&quot; &lt;now&gt;"' in text


def test_html_shows_held_with_blocking_rules_and_promoted():
    text = page([score(), score(table=CUSTOMER)],
                statuses=[status(promotable=True, at=dt.datetime(2024, 6, 1, 6)),
                          status(promotable=False, blocking=["keys.unique", "control.row_count"],
                                 at=dt.datetime(2024, 6, 1, 9)),      # the latest decision wins
                          status(table=CUSTOMER, promotable=True)])
    assert "held: keys.unique, control.row_count" in text
    assert re.search(r'<td class="promoted"[^>]*>promoted</td>', text)
    assert text.count("promoted</td>") == 1


def test_html_lists_failed_rules_under_their_table_and_a_trend_svg():
    text = page([score(), score(day=DAY - dt.timedelta(1), value=50.0), score(table=CUSTOMER)],
                [result(rule="amount.domain", severity="fail"), result(rule="x.ok") | {"success": True}])
    account = text.split(f'<section id="table-{ACCOUNT}">')[1].split("</section>")[0]
    assert "amount.domain" in account and "3 / 1,000" in account and "x.ok" not in text
    assert account.count("<rect") == 14
    assert f"<title>{DAY - dt.timedelta(1)}: 50.0</title>" in account
    customer = text.split(f'<section id="table-{CUSTOMER}">')[1].split("</section>")[0]
    assert "No failed rules." in customer


def test_html_is_a_complete_utf8_page_with_the_title():
    text = page([score()], [result(description="客户号不能为空")])
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in text
    assert "<title>Data quality report — 2024-05-31</title>" in text
    assert "客户号不能为空" in text
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")


def test_html_says_when_there_is_no_data():
    text = page([score(day=DAY - dt.timedelta(1))])
    assert "No data-quality results for any table on 2024-05-31" in text
    assert "<table" not in text
    filtered = page([score()], table=CUSTOMER)
    assert f"No data-quality results for table <code>{CUSTOMER}</code>" in filtered


def test_html_table_filter_keeps_one_table():
    text = page([score(), score(table=CUSTOMER)], [result(table=CUSTOMER, rule="only.customer"),
                                                  result(rule="only.account")], table=CUSTOMER)
    assert "only.customer" in text and "only.account" not in text and ACCOUNT not in text


def test_write_html_creates_directories_and_writes_utf8(tmp_path):
    path = report.write_html(tmp_path / "a" / "b" / "report.html", "<p>客户</p>")
    assert path.read_bytes() == "<p>客户</p>".encode()


@pytest.mark.parametrize(("value", "colour"), [(94.96, "green"), (94.9, "yellow"), (79.9, "red")])
def test_terminal_scores_use_the_same_bands_as_the_html_report(value, colour):
    from lakehouse.cli.rendering import _score

    assert _score(value) == f"[{colour}]{report.format_score(value)}[/{colour}]"
