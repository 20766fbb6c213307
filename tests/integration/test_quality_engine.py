"""The Great Expectations adapter on Spark: every row rule counts exactly the rows its SQL
condition fails (the rows a drop rule quarantines), with or without ``where``; batch rules
report observed values; the suite is bundled into few Spark jobs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lakehouse.config.quality_rules import QualityRule, parse_rule
from lakehouse.demo.identifiers import luhn_check_digit
from lakehouse.engine import Batch
from lakehouse.quality import ge_adapter
from lakehouse.quality.rule_sql import fails_sql

D = dt.date(2026, 11, 1)
ACC1 = "621700000000001" + luhn_check_digit("621700000000001")
ACC2 = "621700000000002" + luhn_check_digit("621700000000002")
ROWS = [  # account, customer, status, balance, opened, id_number, mobile
    (ACC1, "C0000000001", "A", Decimal("10.00"), dt.date(2020, 1, 1), "11010519491231002X", "13800000001"),
    (ACC2, "C0000000002", "X", Decimal("-1.00"), dt.date(1980, 1, 1), "110105194912310021", "12345"),
    (ACC1, None, "C", Decimal("5.00"), dt.date(2027, 1, 1), None, None),
    ("621700000000000X", "C0000000004", None, None, None, "11010519491231002X", "13800000001"),
    (None, "C00000000005", "A", Decimal("0.00"), dt.date(2021, 5, 5), "11010519491231002X", "19900000000"),
]
SCHEMA = ("account_id string, customer_id string, status string, balance decimal(18,2), "
          "open_date date, id_number string, mobile string")


def rule(name, dimension="validity", **check) -> QualityRule:
    return parse_rule(name=name, dimension=dimension, **check)


RULES = [
    rule("customer_id.not_null", "completeness", not_null="customer_id"),
    rule("account.unique", "uniqueness", unique=["account_id"]),
    rule("account_status.unique", "uniqueness", unique=["account_id", "status"]),
    rule("status.codes", in_set={"column": "status", "values": ["A", "C"]}),
    rule("customer_id.pattern", pattern={"column": "customer_id", "regex": "C[0-9]{10}"}),
    rule("balance.range", between={"column": "balance", "min": 0, "max": 1000}),
    rule("opened.range", between={"column": "open_date", "min": dt.date(1990, 1, 1)}),
    rule("id_number.valid", valid={"column": "id_number", "check": "gb11643"}),
    rule("account.luhn", valid={"column": "account_id", "check": "luhn"}),
    rule("mobile.valid", valid={"column": "mobile", "check": "cn_mobile"}),
    rule("customer_id.length", max_length={"column": "customer_id", "max": 11}),
    rule("closed_without_balance", "accuracy", sql="status <> 'C' OR balance = 0"),
    rule("opened_before_date", "consistency", sql="open_date <= DATE'2026-11-01'", where="status = 'C'"),
    rule("rows", "completeness", row_count={"min": 5, "max": 5}),
    rule("balance.total", "accuracy", sum_equals={"column": "balance", "total": 14.0}),
    rule("fresh", "timeliness", freshness={"column": "open_date", "max_lag_days": 0}),
]


def test_every_row_rule_counts_exactly_the_rows_its_condition_fails(engine):
    frame = engine.spark.createDataFrame(ROWS, SCHEMA)
    batch = Batch(frame)
    sc = engine.spark.sparkContext
    sc.setJobGroup("quality-suite", "one suite")
    with engine.validating():
        validation = ge_adapter.validate(batch, "test.equivalence", RULES, D)
    jobs = len(sc.statusTracker().getJobIdsForGroup("quality-suite"))
    sc.setJobGroup("other", "")
    outcomes = {o.rule: o for o in validation.outcomes}
    assert [o.rule for o in validation.outcomes] == [r.name for r in RULES]
    assert all(o.error is None for o in outcomes.values()), [o.error for o in outcomes.values()]
    expected = {r.name: frame.selectExpr(f"{fails_sql(r)} AS f").filter("f").count()
                for r in RULES if r.row_level}
    assert {name: outcomes[name].unexpected_count for name in expected} == expected
    assert expected == {
        "customer_id.not_null": 1, "account.unique": 2, "account_status.unique": 0,
        "status.codes": 1, "customer_id.pattern": 1, "balance.range": 1, "opened.range": 1,
        "id_number.valid": 1, "account.luhn": 1, "mobile.valid": 1, "customer_id.length": 1,
        "closed_without_balance": 1, "opened_before_date": 1}
    # built-in expectations where they mean the same as our condition, ours where none exists
    assert outcomes["status.codes"].expectation == "expect_column_values_to_be_in_set"
    assert outcomes["balance.range"].expectation == "expect_column_values_to_be_between"
    assert outcomes["id_number.valid"].expectation == "expect_column_values_to_satisfy_sql"
    # batch rules: observed values
    assert (outcomes["rows"].success, outcomes["rows"].observed_value) == (True, 5)
    assert outcomes["balance.total"].success and outcomes["balance.total"].observed_value == 14.0
    assert (outcomes["fresh"].success, outcomes["fresh"].observed_value) == (True, "2027-01-01")
    samples = engine.failing_samples(batch, {r.name: fails_sql(r) for r in RULES if r.row_level}, 1)
    assert {s["_rule"]: s["account_id"] for s in samples}["account.luhn"] == "621700000000000X"
    # 16 rules, few Spark jobs: GE bundles the aggregates of the shared batch domain (the
    # uniqueness windows and the where-filtered rule need their own)
    assert jobs <= 10, jobs
