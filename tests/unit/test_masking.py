"""Masking by data standard: each style on hand-picked values, the rule of a column, and masking
settings in standards.yaml checked with located errors (Python and Spark SQL agreement is an
integration test)."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.config import Masking, load_project, validate_project
from lakehouse.errors import Problem
from lakehouse.governance.records import ProblemRecord
from lakehouse.security.masking import (
    DEFAULT_RULE, NAME_RULE, MaskRule, MaskRuleError, as_text, mask_row, mask_rule_for, mask_sql,
    mask_value, masked_attributes, masked_columns)

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
CARD = MaskRule.partial(6, 4)
ACCOUNT = MaskRule.partial(0, 4)
EMAIL, FULL = MaskRule.email(), MaskRule.full()


def test_the_default_rule_keeps_first_3_and_last_4_of_text_of_8_or_more():
    assert DEFAULT_RULE.apply("6217000000000001") == "621*********0001"
    assert DEFAULT_RULE.apply("12345678") == "123*5678"
    assert DEFAULT_RULE.apply("1234567") == "*******"
    assert DEFAULT_RULE.apply("") == ""
    assert mask_value("张三") == "**" and mask_value(None) is None


def test_partial_rules_on_cards_ids_mobiles_and_accounts():
    assert CARD.apply("6228480402564890") == "622848******4890"  # 16 digits
    assert CARD.apply("6228480402564890018") == "622848*********0018"  # 19 digits
    assert CARD.min_length == 14 and CARD.apply("6228480402564") == "*" * 13
    id_rule = MaskRule.partial(3, 4)
    assert id_rule.apply("11010519491231002X") == "110***********002X"
    assert id_rule.apply("110105491231002") == "110********1002"  # 15-character (1985) number
    assert id_rule.apply("13812341234") == "138****1234"
    assert id_rule.apply("1381234123") == "**********"  # too short to show 7 of it
    assert ACCOUNT.apply("6222020200112233445") == "***************3445"
    assert ACCOUNT.apply("1234567") == "*******"


def test_name_email_and_full_styles():
    assert NAME_RULE.apply("张三") == "张*"
    assert NAME_RULE.apply("欧阳娜娜") == "欧***"
    assert NAME_RULE.apply("张") == "*"  # a one-character value is never shown whole
    assert NAME_RULE.apply("𠀋三") == "𠀋*"  # characters, not bytes or UTF-16 units
    assert EMAIL.apply("zhang.san@bank.cn") == "z***@bank.cn"
    assert EMAIL.apply("z@bank.cn") == "***@bank.cn"
    assert EMAIL.apply("a@b@bank.cn") == "a***@bank.cn"  # the domain follows the last @
    assert EMAIL.apply("no-at-sign") == "****"
    assert FULL.apply("张三") == FULL.apply("6228480402564890018") == FULL.apply(Decimal("7.50")) == "****"
    assert FULL.apply(None) is EMAIL.apply(None) is NAME_RULE.apply(None) is None


def test_values_are_masked_as_their_text():
    assert as_text(date(2026, 11, 25)) == "2026-11-25"
    assert as_text(datetime(2026, 11, 25, 9, 5)) == "2026-11-25 09:05:00"
    assert as_text(datetime(2026, 11, 25, 9, 5, 0, 120000)) == "2026-11-25 09:05:00.12"
    assert as_text(Decimal("12345.60")) == "12345.60" and as_text(Decimal("1E+3")) == "1000"
    assert as_text(True) == "true" and as_text(1234567890) == "1234567890"
    assert DEFAULT_RULE.apply(date(2026, 11, 25)) == "202***1-25"
    assert DEFAULT_RULE.apply(Decimal("1234567.89")) == "123***7.89"
    assert DEFAULT_RULE.apply(Decimal("7.50")) == "****"
    assert ACCOUNT.apply(62220202001122334) == "*************2334"


def test_mask_rules_refuse_to_show_a_value_whole():
    with pytest.raises(MaskRuleError, match="keeps some characters"):
        MaskRule.partial(0, 0)
    with pytest.raises(MaskRuleError, match="min_length 10 would show a value of 10 characters whole"):
        MaskRule.partial(6, 4, min_length=10)
    with pytest.raises(MaskRuleError, match="min_length 0"):
        MaskRule("partial", 3, 4)  # built directly, without partial's default


def test_sql_is_one_expression_of_the_rule():
    sql = CARD.sql("`card_no`")
    assert sql.startswith("CASE WHEN CAST(`card_no` AS STRING) IS NULL THEN NULL WHEN char_length(")
    assert ">= 14 THEN" in sql and "substr(CAST(`card_no` AS STRING), -4)" in sql
    assert "substr(CAST(`a` AS STRING), -0)" not in ACCOUNT.sql("`a`")  # -0 would keep it all
    assert mask_sql("`x`") == DEFAULT_RULE.sql("`x`") and mask_sql("`x`", FULL) == FULL.sql("`x`")


def test_the_rule_of_a_column_is_its_standards_or_the_default():
    project = load_project(REPO_CONF)
    customer, account, card = (project.sources[s] for s in ("cbs.customer", "cbs.account", "ccs.card"))
    assert mask_rule_for(project, customer.attribute("customer_name")) == NAME_RULE
    assert mask_rule_for(project, customer.attribute("id_number")) == MaskRule.partial(3, 4)
    assert mask_rule_for(project.standards, customer.attribute("mobile")) == MaskRule.partial(3, 4)
    assert mask_rule_for(project, account.attribute("account_id")) == ACCOUNT
    assert mask_rule_for(project, card.attribute("card_no")) == CARD
    assert mask_rule_for(project, account.attribute("balance")) == DEFAULT_RULE  # no masking declared
    assert mask_rule_for({}, card.attribute("card_no")) == DEFAULT_RULE

    masked = masked_attributes(project, customer.attributes)
    assert masked == {"customer_name": NAME_RULE, "id_number": MaskRule.partial(3, 4),
                      "mobile": MaskRule.partial(3, 4)}  # level 3 and above only
    assert set(masked) == masked_columns({a.name: a.security_level for a in customer.attributes})
    row = {"customer_name": "张三", "id_number": "11010519491231002X", "mobile": "13812341234",
           "branch_id": "B0001"}
    assert mask_row(row, masked) == {"customer_name": "张*", "id_number": "110***********002X",
                                     "mobile": "138****1234", "branch_id": "B0001"}
    assert mask_row(row, {"mobile"}) == {**row, "mobile": "138****1234"}  # names: the default rule


def test_problem_values_are_masked_by_their_columns_rule():
    problems = [Problem("duplicate key", "a.csv", 3, column="account_id", value="6222020200112233445"),
                Problem("bad name", "c.csv", 4, key="customer_name", value="欧阳娜娜")]
    masked = {"account_id": ACCOUNT, "customer_name": NAME_RULE}
    assert [ProblemRecord.of(p, masked).value for p in problems] == ["***************3445", "欧***"]
    assert ProblemRecord.of(problems[0], {"account_id"}).value == "622************3445"


def test_the_keys_of_a_model_are_masked_by_their_level_and_the_masking_they_derive():
    from lakehouse.security.column_levels import key_masks

    project = load_project(REPO_CONF)
    assert key_masks(project, project.models["pty_party"]) == {}  # a keyed pseudonym, level 2
    assert key_masks(project, project.models["agt_agreement"]) == {"agreement_id": CARD}
    assert key_masks(project, project.models["prd_product"]) == {}  # level 1: shown


@pytest.fixture
def conf(tmp_path: Path, monkeypatch) -> Path:
    for name in ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(REPO_CONF, tmp_path / "conf")
    return tmp_path / "conf"


def test_invalid_masking_settings_are_reported_with_file_line_key_and_fix(conf):
    standards = conf / "standards.yaml"
    text = standards.read_text(encoding="utf-8")
    for old, new in [
        ("masking: {style: name}", "masking: {style: name, keep_first: 2}"),
        ("masking: {keep_first: 3, keep_last: 4}  # 138",
         "masking: {keep_first: 3, keep_last: 4, min_length: 7}  # 138"),
        ("masking: {keep_last: 4}", "masking: {keep_last: 0}"),
        ("masking: {keep_first: 6, keep_last: 4}", "masking: {keep_frist: 6, keep_last: 4}"),
        ("    pi_category: C2\n  - id: DS-AGT-0103",
         "    pi_category: C2\n    masking: {style: mask}\n  - id: DS-AGT-0103"),
        ("    pi_category: C2\n  - id: DS-AGT-0202",
         "    pi_category: C2\n    masking: {keep_first: -1, keep_last: 4}\n  - id: DS-AGT-0202"),
    ]:
        assert old in text, old
        text = text.replace(old, new, 1)
    standards.write_text(text, encoding="utf-8")

    found = {(Path(p.file).name, p.line, p.key): (p.message, p.fix) for p in validate_project(conf)}
    assert found == {
        ("standards.yaml", 29, "standards[1].masking"): (
            "keep_first applies to style partial, not name", "remove it, or set style: partial"),
        ("standards.yaml", 52, "standards[3].masking"): (
            "min_length 7 would show a value of 7 characters whole (keep_first 3 + keep_last 4)",
            "raise min_length above 7, or leave it out (default 11)"),
        ("standards.yaml", 95, "standards[8].masking"): (
            "a partial mask keeps some characters, not keep_first 0 and keep_last 0",
            "set keep_first and/or keep_last above 0, or use style: full"),
        ("standards.yaml", 129, "standards[12].masking.keep_frist"): (
            "unknown key 'keep_frist'",
            "remove it or use one of: style, keep_first, keep_last, min_length (did you mean 'keep_first'?)"),
        ("standards.yaml", 138, "standards[13].masking.style"): (
            "style must be one of: partial, name, email, full", "use one of: partial, name, email, full"),
        ("standards.yaml", 237, "standards[25].masking.keep_first"): (
            "keep_first must be at least 0", "use a whole number of 0 or more"),
    }


def test_a_masking_model_gives_its_rule():
    assert Masking(style="name").rule == NAME_RULE
    assert Masking(style="email").rule == EMAIL and Masking(style="full").rule == FULL
    assert Masking(keep_first=6, keep_last=4).rule == CARD
    assert Masking(keep_last=4, min_length=5).rule == MaskRule.partial(0, 4, min_length=5)


def test_a_model_column_of_two_inputs_of_one_level_takes_the_same_masking_whatever_the_order(
        monkeypatch):
    """The input a column takes its level and masking from does not depend on the order sqlglot
    traces its inputs in (which varies with the process's hash seed)."""
    from lakehouse.layers import sql_lineage
    from lakehouse.security import column_levels

    sql = "SELECT COALESCE(c.mobile, a.phone) AS contact FROM cust c JOIN acct a ON c.id = a.id"
    inputs = {"acct": {"id": 2, "phone": 3}, "cust": {"id": 2, "mobile": 3}}
    traced = sql_lineage.traced_sources
    found = []
    for order in (lambda s: s, lambda s: s[::-1]):
        def in_order(*args, order=order):
            sources, untraced = traced(*args)
            return order(sources), untraced
        monkeypatch.setattr(sql_lineage, "traced_sources", in_order)
        column_levels._derived.cache_clear()
        found.append(dict((c, (level, source)) for c, level, source in
                          column_levels._derived(sql, json.dumps(inputs, sort_keys=True))))
    column_levels._derived.cache_clear()
    assert found[0]["contact"] == found[1]["contact"] == (3, ("acct", "phone"))
