"""Quality on model tables, end to end with Spark, Delta and Great Expectations: a model's rules
(derived from its keys and declared columns, declared in quality_rules/<model>.yaml) run on the
rows it built; results, masked samples, scorecard and promotion status are kept as for a
near-source table; a model that fails promotion holds the models reading it, in the same build
and in later ones; a drop rule quarantines the failing rows of a model, masked."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from lakehouse import filters
from lakehouse.api import Lakehouse
from lakehouse.governance import tables as governance

from .test_near_source_loads import deliver
from .test_quality import ID_1, ID_2, account, customer

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)
DIMENSIONS = {"completeness", "timeliness", "accuracy", "consistency", "uniqueness", "validity"}

MODELS = {
    "integrated/pty_holder.yaml": """
name: pty_holder
layer: integrated
description: account holders (test model)
load_type: zipper
keys: [customer_id]
inputs:
  cbs_customer: current
columns:
  id_number: {description: resident ID number, nullable: false, standard: DS-PTY-0003}
  branch_id: {description: home branch, values: [B0101, B0102]}
sql: |
  SELECT customer_id, customer_name, id_number, mobile, branch_id FROM cbs_customer
""",
    "common/com_holder_balance.yaml": """
name: com_holder_balance
layer: common
description: deposits per holder (test model)
load_type: snapshot
keys: [customer_id]
inputs:
  pty_holder: current
  cbs_account: current
sql: |
  SELECT h.customer_id, CAST(coalesce(sum(a.balance), 0) AS decimal(20,2)) AS balance
  FROM pty_holder h LEFT JOIN cbs_account a ON a.customer_id = h.customer_id
  GROUP BY h.customer_id
""",
    "mart/mart_holder_rank.yaml": """
name: mart_holder_rank
layer: mart
description: holders ranked by deposits (test model)
load_type: snapshot
keys: [customer_id]
inputs:
  com_holder_balance: current
sql: |
  SELECT customer_id, rank() OVER (ORDER BY balance DESC) AS balance_rank FROM com_holder_balance
""",
}


def with_models(lh, rules: dict[str, str]) -> Lakehouse:
    """The project reloaded with the three test models above and the rule files ``rules``
    (model name -> text) in place of the repo's layers and model rule files. The demo's data
    services read the demo's marts, which these models replace, so they go too."""
    project = lh.conf_dir.parent
    shutil.rmtree(project / "layers")
    (lh.conf_dir / "services.yaml").unlink(missing_ok=True)
    for path, text in MODELS.items():
        (project / "layers" / path).parent.mkdir(parents=True, exist_ok=True)
        (project / "layers" / path).write_text(text, encoding="utf-8")
    for stale in lh.project.models:
        (project / "quality_rules" / f"{stale}.yaml").unlink(missing_ok=True)
    for name, text in rules.items():
        (project / "quality_rules" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return Lakehouse(lh.conf_dir, engine=lh.engine)


def load_sources(lh, customers, accounts, data_date=D1):
    deliver(lh, "cbs.customer", data_date, customers)
    deliver(lh, "cbs.account", data_date, accounts)
    summary = lh.run(data_date, ["cbs.customer", "cbs.account"])
    assert summary.ok and all(r.promotable for r in summary.results), summary.results


def rows_of(lh, table, record_table, data_date=D1):
    return lh.engine.rows(record_table(lh.root), filters.where(table_name=table, data_date=data_date))


@pytest.mark.slow  # 21 s: keeps `make test` under 10 minutes on 2 cores; CI runs it in the slow tier
def test_a_model_failing_a_declared_fail_rule_is_measured_and_holds_its_downstream_models(lakehouse):
    lh = with_models(lakehouse, {"pty_holder": """
table: pty_holder
rules:
  - name: not_the_test_person
    dimension: accuracy
    severity: fail
    description: the person named 李四 must not be a holder (planted)
    sql: customer_name <> '李四'
"""})
    load_sources(lh, [customer(1), customer(2, id_number=ID_2, name="李四", mobile="13900000002")],
                 [account(1), account(2, customer_n=2, balance="5.00")])

    summary = lh.build_layers(D1)
    by_model = {r.model: r for r in summary.results}
    holder = by_model["pty_holder"]
    assert (holder.status, holder.rows, holder.promotable, holder.blocking_rules) == (
        "succeeded", 2, False, ["not_the_test_person"])
    assert holder.held and lh.engine.count(_spec(lh, "pty_holder")) == 2  # written, but held

    balance, rank = by_model["com_holder_balance"], by_model["mart_holder_rank"]
    assert (balance.status, balance.blocked_by) == ("skipped", ["pty_holder"])
    assert balance.reason.startswith("integrated.pty_holder for 2026-11-01 held by quality rule(s) "
                                     "of severity fail: not_the_test_person")
    assert "quality_rules/pty_holder.yaml" in balance.reason
    assert (rank.status, rank.blocked_by) == ("skipped", ["com_holder_balance"])
    assert not lh.engine.table_exists(_spec(lh, "com_holder_balance"))

    # measured like a near-source table: every rule's result, masked samples, scorecard, status
    results = {r["rule"]: r for r in rows_of(lh, "integrated.pty_holder", governance.quality_results)}
    assert set(results) == {"customer_id.not_null", "id_number.not_null", "keys.unique",
                            "id_number.domain", "id_number.length", "branch_id.domain",
                            "not_the_test_person", "zipper.one_open_row_per_key",
                            "zipper.start_before_end"}
    failed = results["not_the_test_person"]
    assert (failed["success"], failed["origin"], failed["unexpected_count"], failed["element_count"],
            failed["source"]) == (False, "declared", 1, 2, None)
    assert results["id_number.domain"]["origin"] == "derived" and results["id_number.domain"]["success"]
    assert results["zipper.start_before_end"]["scope"] == "table"
    [sample] = rows_of(lh, "integrated.pty_holder", governance.quality_samples)
    shown = json.loads(sample["row_json"])
    assert sample["rule"] == "not_the_test_person" and shown["customer_name"] == "李*"
    assert ID_2 not in sample["row_json"] and "13900000002" not in sample["row_json"]
    card = {r["dimension"]: r for r in rows_of(lh, "integrated.pty_holder", governance.quality_scorecard)}
    assert set(card) == DIMENSIONS and card["accuracy"]["rules_failed"] == 1
    assert card["accuracy"]["score"] == 50.0 and card["timeliness"]["score"] is None
    status = lh.promotion("pty_holder", D1)
    assert (status["promotable"], status["blocking_rules"]) == (False, ["not_the_test_person"])

    # a later build finds the hold in the governance tables
    later = lh.build_layers(D1, ["com_holder_balance"])
    [again] = later.results
    assert again.status == "skipped" and "held by quality rule(s) of severity fail: " \
        "not_the_test_person" in again.reason

    # the quality report shows the model table
    report = lh.quality_report(D1)
    assert "integrated.pty_holder" in {c["table_name"] for c in report.scorecard}
    only = lh.quality_report(D1, table="pty_holder")
    assert [c["table_name"] for c in only.scorecard] == ["integrated.pty_holder"]


@pytest.mark.slow  # 42 s: keeps the developer's loop under 10 minutes; CI runs it in the slow tier
def test_a_passing_model_is_promoted_scored_on_all_six_dimensions_and_a_drop_rule_quarantines_masked(lakehouse):
    lh = with_models(lakehouse, {
        "pty_holder": """
table: pty_holder
derived:
  id_number.domain: {severity: drop}   # a holder with an invalid ID number is not modelled
""",
        "com_holder_balance": """
table: com_holder_balance
rules:
  - name: holder_exists
    dimension: consistency
    severity: fail
    reference: {table: pty_holder, columns: {customer_id: customer_id}}
  - name: balance_not_negative
    dimension: validity
    severity: fail
    between: {column: balance, min: 0}
  - name: some_holders
    dimension: timeliness
    row_count: {min: 1}
  - name: balances_add_up
    dimension: accuracy
    sql: balance < 1000000
"""})
    accounts = [account(1), account(2, customer_n=2, balance="5.00")]
    load_sources(lh, [customer(1, id_number=ID_2), customer(2, name="王五")], accounts)
    summary = lh.build_layers(D1)
    assert summary.ok and [(r.status, r.promotable) for r in summary.results] == [("succeeded", True)] * 3
    card = {r["dimension"]: r for r in rows_of(lh, "common.com_holder_balance", governance.quality_scorecard)}
    assert set(card) == DIMENSIONS
    assert {d: c["score"] for d, c in card.items()} == {d: 100.0 for d in DIMENSIONS}
    assert all(c["rules"] >= 1 and c["rules_failed"] == 0 for c in card.values())
    status = lh.promotion("com_holder_balance", D1)
    assert status["promotable"] is True and status["blocking_rules"] == []

    # D2: customer 2's ID number arrives broken; the drop rule quarantines the model's row,
    # masked, and the holder's version of D1 stays open (a dropped key is not closed)
    bad_id = ID_1[:-1] + ("0" if ID_1[-1] != "0" else "1")  # wrong check digit
    load_sources(lh, [customer(1, id_number=ID_2), customer(2, id_number=bad_id, name="王五")], accounts, D2)
    later = lh.build_layers(D2)
    holder = later.results[0]
    assert (holder.model, holder.rows, holder.rows_dropped, holder.promotable) == ("pty_holder", 1, 1, True)
    [held] = lh.engine.rows(governance.quarantine(lh.root, "pty_holder"))
    assert (held["rule"], held["table_name"], held["data_date"], held["line"], held["source"]) == (
        "id_number.domain", "integrated.pty_holder", D2, None, None)
    assert bad_id not in held["row_json"] and "王五" not in held["row_json"]
    assert json.loads(held["row_json"])["customer_name"] == "王*"
    open_rows = lh.engine.rows(_spec(lh, "pty_holder"), filters.where(end_dt=date(9999, 12, 31)))
    assert {r["customer_id"]: r["id_number"] for r in open_rows} == {"C0000000001": ID_2, "C0000000002": ID_1}
    assert later.ok and all(r.promotable for r in later.results)


def _spec(lh, model):
    from lakehouse.layers.model_tables import model_spec

    return model_spec(lh.project, lh.project.models[model])
