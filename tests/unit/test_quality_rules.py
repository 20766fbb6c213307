"""Quality rules without Spark: the rule files of the repo, located errors in bad ones, rules
derived from the contract and standards, the SQL conditions, scores and masking."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest

from lakehouse.config import load_project, validate_project
from lakehouse.config.quality_rules import DIMENSIONS, parse_rule
from lakehouse.security.masking import mask_row, mask_value
from lakehouse.config import derived_rules as derived
from lakehouse.quality.assessment import table_rules
from lakehouse.quality.rule_sql import fails_sql, passes_sql
from lakehouse.quality.scorecard import dimension_scores, rule_score

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_dir(tmp_path, monkeypatch) -> Path:
    for name in ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    shutil.copytree(REPO / "quality_rules", tmp_path / "quality_rules")
    shutil.copytree(REPO / "layers", tmp_path / "layers")  # model tables have rule files too
    return tmp_path


def write_rules(project_dir: Path, name: str, text: str) -> Path:
    path = project_dir / "quality_rules" / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_repository_rules_load_and_merge_with_the_derived_ones():
    project = load_project(REPO / "conf")
    assert set(project.quality_rules) == {"cbs_account", "cbs_transaction", "ccs_card", "ccs_card_txn",
                                          "lns_loan", "lns_repayment_schedule", "mart_risk_warning"}
    account = {r.name: r for r in table_rules(project, project.sources["cbs.account"])}
    # derived: keys complete and unique, required columns complete, domains and lengths valid
    assert (account["account_id.not_null"].severity, account["keys.unique"].unique) == ("fail", ["account_id"])
    assert account["customer_id.not_null"].severity == "drop"  # changed under derived: in the file
    assert account["account_id.domain"].valid.check == "luhn"
    assert account["currency.domain"].in_set.values == ["CNY", "USD", "EUR", "HKD", "JPY", "GBP"]
    assert account["open_date.domain"].between.min == dt.date(1990, 1, 1)
    assert account["customer_exists"].origin == "declared" and account["keys.unique"].origin == "derived"
    card = {r.name: r for r in table_rules(project, project.sources["ccs.card"])}
    assert (card["zipper.one_open_row_per_key"].scope, card["zipper.one_open_row_per_key"].where) == (
        "table", "end_dt = DATE'9999-12-31'")
    dimensions = {r.dimension for c in project.sources.values() for r in table_rules(project, c)}
    rules = derived.delivery_rules(project.sources["cbs.account"], 10, 1, 99.5)
    assert [(r.name, r.dimension) for r in rules] == [
        ("control.row_count", "accuracy"), ("control.amount_total", "accuracy"),
        ("delivery.on_time", "timeliness")]
    assert rules[0].row_count.min == rules[0].row_count.max == 9  # 10 declared, 1 unparseable
    assert dimensions | {r.dimension for r in rules} == set(DIMENSIONS)


def test_a_broken_rule_file_reports_every_problem_with_file_line_key_and_fix(project_dir):
    path = write_rules(project_dir, "cbs_account.yaml", """
        table: cbs_account
        rules:
          - name: balance_not_negative
            dimension: validty
            between: {column: balanse, min: 0}
          - name: two_checks
            dimension: validity
            not_null: status
            unique: [account_id]
          - name: drop_aggregate
            dimension: accuracy
            severity: drop
            row_count: {min: 1}
          - name: orphan
            dimension: consistency
            reference: {table: cbs_clients, columns: {customer_id: customer_id}}
          - name: keys.unique
            dimension: uniqueness
            unique: [account_id]
        derived:
          customer_id.notnull: {severity: drop}
    """)
    problems = validate_project(project_dir / "conf")
    rendered = [p.render() for p in problems]
    where = {(p.line, p.key): p for p in problems}
    assert all(p.file == str(path) for p in problems), rendered
    assert "validty" in str(where[(4, "rules[0].dimension")].value)
    assert "completeness" in where[(4, "rules[0].dimension")].render()
    assert where[(5, "rules[0].between.column")].message == "column 'balanse' is not a column of cbs_account"
    assert "(did you mean 'balance'?)" in where[(5, "rules[0].between.column")].fix
    assert where[(6, "rules[1]")].message == "a rule has exactly one check, not 2 (not_null, unique)"
    assert where[(10, "rules[2]")].message.startswith("severity drop needs a row check on the new rows")
    assert where[(16, "rules[3].reference.table")].message == "table 'cbs_clients' is not a table of this project"
    assert where[(17, "rules[4].name")].message == "'keys.unique' is a derived rule's name"
    assert where[(21, "derived['customer_id.notnull']")].message == "no derived rule 'customer_id.notnull' for cbs_account"
    assert "(did you mean 'customer_id.not_null'?)" in where[(21, "derived['customer_id.notnull']")].fix


def test_rule_file_must_be_named_after_a_known_table_and_be_valid_yaml(project_dir):
    write_rules(project_dir, "accounts.yaml", "table: cbs_account\n")
    write_rules(project_dir, "cbs_card.yaml", "table: cbs_card\n")
    write_rules(project_dir, "ccs_card.yaml", "table: ccs_card\nrules: [\n")
    problems = {Path(p.file).name: p for p in validate_project(project_dir / "conf")}
    assert problems["accounts.yaml"].message == "the rules of cbs_account must be in cbs_account.yaml, not accounts.yaml"
    assert problems["cbs_card.yaml"].message == "table 'cbs_card' is not a table of this project"
    assert "(did you mean 'ccs_card'?)" in problems["cbs_card.yaml"].fix
    assert problems["ccs_card.yaml"].message.startswith("YAML syntax error")


def test_sql_conditions_of_row_rules():
    not_null = parse_rule(name="a", dimension="completeness", not_null="customer_id")
    assert passes_sql(not_null) == "`customer_id` IS NOT NULL"
    codes = parse_rule(name="b", dimension="validity", in_set={"column": "status", "values": ["A", 1]},
                        where="balance > 0")
    assert passes_sql(codes) == ("(NOT coalesce((balance > 0), FALSE) OR (`status` IS NULL OR "
                                 "(CAST(`status` AS STRING) IN ('A', '1'))))")
    unique = parse_rule(name="c", dimension="uniqueness", unique=["a", "b"])
    assert "count(1) OVER (PARTITION BY `a`, `b`) = 1" in passes_sql(unique)
    assert fails_sql(not_null) == "NOT coalesce(`customer_id` IS NOT NULL, TRUE)"
    with pytest.raises(ValueError, match="not a row-level check"):
        passes_sql(parse_rule(name="d", dimension="accuracy", row_count={"min": 1}))


def test_scores_per_rule_and_dimension():
    row = parse_rule(name="a", dimension="validity", pattern={"column": "x", "regex": "[A-Z]"})
    batch = parse_rule(name="b", dimension="timeliness", freshness={"column": "t"})
    assert rule_score(row, False, 200, 50) == 75.0
    assert rule_score(row, True, 0, 0) == 100.0
    assert rule_score(batch, False, None, None) == 0.0
    assert rule_score(row, True, 10, 0, error="column missing") == 0.0
    scores = dimension_scores([(row, 75.0, False), (row, 100.0, True), (batch, 100.0, True)])
    assert scores["validity"] == {"score": 87.5, "rules": 2, "rules_failed": 1}
    assert scores["timeliness"] == {"score": 100.0, "rules": 1, "rules_failed": 0}
    assert scores["consistency"] == {"score": None, "rules": 0, "rules_failed": 0}


def test_masking_keeps_the_ends_of_long_values_only():
    assert mask_value("6217000000000001") == "621*********0001"
    assert mask_value("11010519491231002X") == "110***********002X"
    assert mask_value("张三") == "**" and mask_value(None) is None
    assert mask_row({"card_no": "6217000000000001", "status": "A"}, {"card_no"}) == {
        "card_no": "621*********0001", "status": "A"}


def test_a_rule_is_the_member_of_its_check_kind_with_only_that_check():
    from lakehouse.config.quality_rules import BetweenRule, RowCountRule, RuleFile

    between = parse_rule(name="a", dimension="validity", between={"column": "x", "min": 0})
    assert isinstance(between, BetweenRule) and between.kind == "between" and between.row_level
    assert between.check.min == 0 and between.columns() == ["x"]
    assert not hasattr(between, "not_null")
    count = parse_rule({"name": "b", "dimension": "accuracy", "row_count": {"min": 1}})
    assert isinstance(count, RowCountRule) and not count.row_level and count.columns() == []
    parsed = RuleFile.model_validate({"table": "t", "rules": [
        {"name": "a", "dimension": "completeness", "not_null": "x"},
        {"name": "b", "dimension": "uniqueness", "unique": ["x", "y"]}]})
    assert [type(r).__name__ for r in parsed.rules] == ["NotNullRule", "UniqueRule"]


def test_rule_errors_are_located_without_the_union_tag(project_dir):
    path = write_rules(project_dir, "cbs_account.yaml", """
        table: cbs_account
        rules:
          - name: unknown_key
            dimension: validity
            not_null: status
            bogus: 1
          - name: bad_bound
            dimension: validity
            between: {column: balance, minimum: 0}
          - name: late
            dimension: timeliness
            scope: table
            arrives_by: {at: "09:00"}
          - just text
    """)
    problems = validate_project(project_dir / "conf")
    where = {(p.line, p.key): p for p in problems}
    assert all(p.file == str(path) for p in problems), [p.render() for p in problems]
    unknown = where[(6, "rules[0].bogus")]
    assert unknown.message == "unknown key 'bogus'"
    # only the keys of this kind of rule are offered
    assert "not_null" in unknown.fix and "between" not in unknown.fix
    assert where[(9, "rules[1].between.minimum")].message == "unknown key 'minimum'"
    assert where[(10, "rules[2]")].message == "arrives_by judges a delivery, not the whole table"
    assert where[(14, "rules[3]")].message == "a rule must be a mapping of keys to values"
