"""Data quality end to end: a planted defect per dimension is caught by a rule run with Great
Expectations on Spark; warn records, drop quarantines exactly the bad rows (masked), fail holds
the data date back; results, samples and scorecards are stored for passes and failures."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from lakehouse import filters
from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.api import Lakehouse
from lakehouse.demo.identifiers import id_number_check_digit, luhn_check_digit

from .test_near_source_loads import deliver

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ID_1 = "11010519491231002X"
ID_2 = "110105198001010" + "01" + id_number_check_digit("11010519800101001")[-1:]


def account_no(n: int) -> str:
    partial = f"62170000{n:07d}"
    return partial + luhn_check_digit(partial)


def customer(n: int, id_number=ID_1, name="张三", mobile="13800000001"):
    return {"customer_id": f"C{n:010d}", "customer_name": name, "id_number": id_number,
            "mobile": mobile, "branch_id": "B0101", "open_date": date(2020, 1, 2)}


def account(n: int, customer_n=1, balance="100.00", status="A", opened=date(2021, 3, 4)):
    return {"account_id": account_no(n), "customer_id": None if customer_n is None else f"C{customer_n:010d}",
            "product_code": "DEP001", "currency": "CNY", "balance": Decimal(balance),
            "status": status, "open_date": opened}


def results(lh, source, data_date, **where):
    spec = lh.table(source)
    rows = lh.engine.rows(governance.quality_results(lh.root),
                          filters.where(table_name=spec.qualified_name, data_date=data_date))
    return {r["rule"]: r for r in rows if all(r[k] == v for k, v in where.items())}


def load(lh, source, data_date):
    [result] = lh.run(data_date, [source]).results
    assert result.status == "succeeded", result.message
    return result


def with_rules(lh, table: str, text: str) -> Lakehouse:
    """The project reloaded with ``quality_rules/<table>.yaml`` replaced by ``text``."""
    (lh.conf_dir.parent / "quality_rules" / f"{table}.yaml").write_text(text, encoding="utf-8")
    return Lakehouse(lh.conf_dir, engine=lh.engine)


def test_completeness_drop_quarantines_exactly_the_bad_rows_masked_and_loads_the_rest(lakehouse):
    lh = lakehouse
    deliver(lh, "cbs.customer", D1, [customer(1)])
    load(lh, "cbs.customer", D1)
    deliver(lh, "cbs.account", D1, [account(1), account(2, customer_n=None, balance="7.50"),
                                    account(3, balance="12.00")])
    result = load(lh, "cbs.account", D1)
    assert (result.rows_in, result.rows_loaded, result.rows_dropped, result.rows_quarantined) == (3, 2, 1, 1)
    loaded = lh.engine.rows(lh.table("cbs.account"), order_by=["account_id"])
    assert [r["account_id"] for r in loaded] == [account_no(1), account_no(3)]

    found = results(lh, "cbs.account", D1)
    rule = found["customer_id.not_null"]
    assert (rule["dimension"], rule["severity"], rule["success"], rule["unexpected_count"],
            rule["element_count"], rule["rows_dropped"]) == ("completeness", "drop", False, 1, 3, 1)
    assert rule["expectation"] == "expect_column_values_to_not_be_null"
    assert rule["score"] == pytest.approx(100 * 2 / 3, abs=0.01)
    # passes are stored too: the control totals match, with the observed values
    assert found["control.row_count"]["success"] and found["control.row_count"]["observed_value"] == "3"
    assert found["control.amount_total"]["success"]
    assert json.loads(found["control.amount_total"]["observed_value"]) == pytest.approx(119.5)

    held = lh.engine.rows(governance.quarantine(lh.root, "cbs_account"))
    assert [(q["stage"], q["rule"], q["dimension"], q["line"]) for q in held] == [
        ("quality", "customer_id.not_null", "completeness", 3)]  # line 3: after the header
    row = json.loads(held[0]["row_json"])
    assert row["account_id"] == "*" * 12 + account_no(2)[-4:]  # level 3: its standard keeps the last 4
    assert row["balance"] == "****"  # "7.50", level 3
    assert row["currency"] == "CNY" and row["customer_id"] is None  # lower levels as they are
    assert "customer_id.not_null (drop)" in held[0]["reason"]
    assert held[0]["key_hash"] and held[0]["readmitted_run"] is None


def test_timeliness_late_delivery_and_stale_data_are_caught_by_warn_rules(lakehouse):
    lh = lakehouse
    late = datetime(2026, 11, 3, 7, 15, tzinfo=SHANGHAI).timestamp()  # due 2026-11-03 06:00
    path = deliver(lh, "cbs.account", D2, [account(1)])
    os.utime(path, (late, late))
    txn = {"txn_id": "T000000000000001", "account_id": account_no(1), "amount": Decimal("5.00"),
           "direction": "D", "channel": "ATM", "txn_time": datetime(2026, 10, 30, 9, 0)}
    path = deliver(lh, "cbs.transaction", D2, [txn])
    on_time = datetime(2026, 11, 3, 5, 30, tzinfo=SHANGHAI).timestamp()
    os.utime(path, (on_time, on_time))
    loaded = {r.source: r for r in lh.run(D2, ["cbs.account", "cbs.transaction"]).results}
    assert {s: r.status for s, r in loaded.items()} == {"cbs.account": "succeeded", "cbs.transaction": "succeeded"}
    assert loaded["cbs.account"].rows_loaded == 1 and loaded["cbs.account"].promotable  # warn: recorded only

    assert results(lh, "cbs.transaction", D2)["delivery.on_time"]["success"]
    rule = results(lh, "cbs.account", D2)["delivery.on_time"]
    assert (rule["dimension"], rule["success"]) == ("timeliness", False)
    assert json.loads(rule["observed_value"]) == "2026-11-03T07:15:00"
    assert json.loads(rule["arguments"])["max_value"] == "2026-11-03T06:00:00"

    stale = results(lh, "cbs.transaction", D2)["posted_on_data_date"]
    assert (stale["dimension"], stale["success"], stale["expectation"]) == (
        "timeliness", False, "expect_column_max_to_be_between")
    assert json.loads(stale["observed_value"]) == "2026-10-30T09:00:00"
    card = lh.engine.rows(governance.quality_scorecard(lh.root),
                          where(table_name="near_source.cbs_transaction", dimension="timeliness"))
    assert card[0]["rules_failed"] >= 1 and card[0]["score"] < 100


def test_consistency_and_accuracy_rules_across_tables_and_columns(lakehouse):
    lh = lakehouse
    deliver(lh, "cbs.customer", D1, [customer(1), customer(2, id_number=ID_2, name="李四")])
    deliver(lh, "cbs.account", D1, [
        account(1), account(2, customer_n=9),  # no customer 9: orphan
        account(3, opened=date(2026, 11, 5)),  # opened after the data date
        account(4, status="C", balance="5.00"),  # closed with a balance
    ])
    deliver(lh, "ccs.card", D1, [
        {"card_no": account_no(11), "id_number": ID_1, "holder_name": "张三",
         "credit_limit": Decimal("50000.00"), "card_status": "N", "issue_date": date(2022, 5, 6)},
        {"card_no": account_no(12), "id_number": ID_2, "holder_name": "王五",  # not 李四
         "credit_limit": Decimal("20000.00"), "card_status": "N", "issue_date": date(2022, 5, 6)},
    ])
    summary = lh.run(D1, ["ccs.card", "cbs.account", "cbs.customer"])
    assert summary.ok, [r.message for r in summary.failed]
    # the tables reference rules look up are loaded first
    assert [r.source for r in summary.results][0] == "cbs.customer"

    account_rules = results(lh, "cbs.account", D1)
    assert {k: (v["dimension"], v["unexpected_count"]) for k, v in account_rules.items()
            if not v["success"] and k != "delivery.on_time"} == {
        "customer_exists": ("consistency", 1),
        "opened_by_data_date": ("consistency", 1),
        "closed_accounts_have_no_balance": ("accuracy", 1),
    }
    holder = results(lh, "ccs.card", D1)["holder_is_a_customer"]
    assert (holder["success"], holder["unexpected_count"], holder["element_count"]) == (False, 1, 2)
    samples = lh.engine.rows(governance.quality_samples(lh.root), where(rule="holder_is_a_customer"))
    [sample] = [json.loads(s["row_json"]) for s in samples]
    assert sample["holder_name"] == "王*"  # level 3, masked as a name (DS-PTY-0002)
    assert sample["id_number"] == ID_2[:3] + "*" * 11 + ID_2[-4:]
    # table-scope invariants of the zipper table are checked after the load, and pass
    whole = results(lh, "ccs.card", D1, scope="table")
    assert {k: v["success"] for k, v in whole.items()} == {
        "zipper.one_open_row_per_key": True, "zipper.start_before_end": True}


def test_uniqueness_fail_rule_holds_the_date_back_and_validity_is_measured(lakehouse):
    lh = with_rules(lakehouse, "cbs_customer", """
table: cbs_customer
rules:
  - name: one_customer_per_id_number
    dimension: uniqueness
    severity: fail
    description: one customer per person (ID number and name)
    unique: [id_number, customer_name]
""")
    deliver(lh, "cbs.customer", D1, [customer(1), customer(2, id_number=ID_2, name="李四")])
    ok = load(lh, "cbs.customer", D1)
    assert ok.promotable and lh.promotion("cbs.customer", D1)["promotable"]

    bad_id = ID_2[:-1] + ("0" if ID_2[-1] != "0" else "1")  # wrong check digit
    deliver(lh, "cbs.customer", D2, [customer(1), customer(2, id_number=ID_1),  # same person twice
                                     customer(3, id_number=bad_id, name="王五", mobile="12345")])
    held = load(lh, "cbs.customer", D2)
    assert held.rows_loaded == 3  # fail does not stop the load ...
    assert (held.promotable, held.blocking_rules) == (False, ["one_customer_per_id_number"])
    status = lh.promotion("cbs.customer", D2)  # ... it holds the date back from the layers
    assert status["promotable"] is False and "one_customer_per_id_number" in status["message"]

    found = results(lh, "cbs.customer", D2)
    assert (found["one_customer_per_id_number"]["unexpected_count"],
            found["one_customer_per_id_number"]["expectation"]) == (2, "expect_compound_columns_to_be_unique")
    assert (found["id_number.domain"]["dimension"], found["id_number.domain"]["unexpected_count"]) == ("validity", 1)
    assert found["mobile.domain"]["unexpected_count"] == 1
    card = {r["dimension"]: r for r in lh.engine.rows(
        governance.quality_scorecard(lh.root), where(table_name="near_source.cbs_customer", data_date=date(2026, 11, 2)))}
    assert set(card) == {"completeness", "timeliness", "accuracy", "consistency", "uniqueness", "validity"}
    assert card["uniqueness"]["rules_failed"] == 1 and card["uniqueness"]["score"] < 100
    assert card["validity"]["rules_failed"] == 2
    assert card["consistency"]["score"] == 100  # the zipper invariants hold


@pytest.mark.slow  # two loads and a re-admission; its record and lock: the next test
def test_readmit_corrected_rows_for_a_data_date(lakehouse, tmp_path):
    lh = lakehouse
    deliver(lh, "cbs.customer", D1, [customer(1)])
    load(lh, "cbs.customer", D1)
    deliver(lh, "cbs.account", D1, [account(1), account(2, customer_n=None), account(3, customer_n=None)])
    result = load(lh, "cbs.account", D1)
    assert result.rows_dropped == 2

    from lakehouse.demo.delivery_writer import write_delivery
    corrected = write_delivery(lh.contract("cbs.account"), tmp_path / "fix", D1,
                               [account(2, balance="8.00"), account(3, customer_n=None), account(5)],
                               with_control=False)
    outcome = lh.readmit("cbs.account", D1, corrected)
    assert outcome.readmitted == 1
    assert outcome.still_held == ["line 3: customer_id.not_null"]
    assert outcome.not_held == [4]  # account 5 was never held
    rows = lh.engine.rows(lh.table("cbs.account"), order_by=["account_id"])
    assert [(r["account_id"], r["balance"]) for r in rows] == [
        (account_no(1), Decimal("100.00")), (account_no(2), Decimal("8.00"))]
    held = lh.engine.rows(governance.quarantine(lh.root, "cbs_account"), order_by=["line"])
    assert [(q["line"], q["readmitted_run"] is not None) for q in held] == [(3, True), (4, False)]


@pytest.mark.slow  # two dates of two sources; the page itself: tests/unit/test_quality_report.py
def test_quality_report_prints_the_scorecard_and_writes_html_with_the_trend_and_data_docs(lakehouse):
    from rich.console import Console

    from lakehouse.cli.rendering import scorecard_table

    lh = lakehouse
    deliver(lh, "cbs.customer", D1, [customer(1)])
    deliver(lh, "cbs.account", D1, [account(1), account(2, customer_n=None)])
    deliver(lh, "cbs.customer", D2, [customer(1)])
    deliver(lh, "cbs.account", D2, [account(1), account(2, status="Z")])
    assert lh.run(D1, ["cbs.customer", "cbs.account"]).ok and lh.run(D2, ["cbs.customer", "cbs.account"]).ok

    report = lh.quality_report(D2)
    assert [r["table_name"] for r in report.scorecard] == ["near_source.cbs_account", "near_source.cbs_customer"]
    account_card = report.scorecard[0]
    assert account_card["scores"]["validity"] < 100 and account_card["scores"]["uniqueness"] == 100
    assert {r["rule"] for r in report.failed if r["table_name"] == "near_source.cbs_account"} >= {"status.domain"}
    page = report.html.read_text(encoding="utf-8")
    assert report.html.name == "quality_2026-11-02.html"
    assert "near_source.cbs_account" in page and "status.domain" in page
    assert "2026-11-01:" in page and "2026-11-02:" in page  # the trend has both dates
    assert report.data_docs.name == "index.html" and report.data_docs.is_file()
    assert "near_source.cbs_account.new_rows" in report.data_docs.read_text(encoding="utf-8")

    console = Console(width=250, record=True)
    console.print(scorecard_table(report))
    text = console.export_text()
    assert "quality scorecard 2026-11-02" in text and "promoted" in text
    only = lh.quality_report(D2, table="cbs_account")
    assert [r["table_name"] for r in only.scorecard] == ["near_source.cbs_account"]


@pytest.mark.slow  # two loads, a refused and a done re-admission (35-45 s)
def test_readmission_is_one_recorded_load_of_the_date_under_the_table_date_lock(lakehouse, tmp_path):
    from lakehouse.demo.delivery_writer import write_delivery
    from lakehouse.layers.runner import LayerBuild
    from lakehouse.zones.locks import TableBusy, table_date_lock

    lh = lakehouse
    deliver(lh, "cbs.customer", D1, [customer(1)])
    deliver(lh, "cbs.account", D1, [account(1), account(2, customer_n=None), account(3, customer_n=None)])
    assert lh.run(D1, ["cbs.customer", "cbs.account"]).ok  # the account's references read the customers
    spec, log = lh.table("cbs.account"), governance.load_log(lh.root)
    [delivered] = lh.engine.rows(log, where(source="cbs.account", data_date=D1))
    before = lh.engine.version(spec)
    corrected = write_delivery(lh.contract("cbs.account"), tmp_path / "fix", D1,
                               [account(2, balance="8.00"), account(3, customer_n=None)], with_control=False)

    # a run holding the table for the date: the re-admission waits (transient), writes nothing
    with table_date_lock(lh.root, spec.qualified_name, D1, "another-run"):
        with pytest.raises(TableBusy):
            lh.readmit("cbs.account", D1, corrected)
    assert lh.engine.version(spec) == before

    outcome = lh.readmit("cbs.account", D1, corrected)
    assert (outcome.readmitted, outcome.still_held) == (1, ["line 3: customer_id.not_null"])
    assert lh.engine.version(spec) == before + 1 == outcome.table_version  # one commit

    [row] = lh.engine.rows(log, where(run_id=outcome.run_id))
    assert (row["source"], row["data_date"], row["status"], row["table_version"]) == (
        "cbs.account", D1, "succeeded", outcome.table_version)
    assert row["file_name"] == corrected.name and row["message"].startswith("re-admission")
    # the corrected extract of the date: accounts 1 and 2 loaded, account 3 still held
    assert (row["rows_in"], row["rows_loaded"], row["rows_quarantined"]) == (3, 2, 1)
    assert row["finished_at"] > delivered["finished_at"]

    found = results(lh, "cbs.account", D1, run_id=outcome.run_id)
    assert found["customer_id.not_null"]["element_count"] == 3
    assert found["customer_id.not_null"]["unexpected_count"] == 1
    card = lh.engine.rows(governance.quality_scorecard(lh.root), where(run_id=outcome.run_id))
    assert {c["dimension"] for c in card} >= {"completeness", "validity"}
    status = lh.promotion("cbs.account", D1)
    assert (status["run_id"], status["promotable"]) == (outcome.run_id, True)
    held = lh.engine.rows(governance.quarantine(lh.root, "cbs_account"), order_by=["line"])
    assert [(q["line"], q["readmitted_run"]) for q in held] == [(3, outcome.run_id), (4, None)]

    # the layer runner sees the table ready for the date (and models reading it see its new
    # version, so they rebuild: tests/integration/test_governance_store.py)
    build = LayerBuild(lh.engine, lh.project, "check", D1, skip_current=True)
    assert build._source_ready("cbs_account") == (True, "")

    # rerunning the delivery the re-admission corrected does not load it again (nor undo it)
    [rerun] = lh.run(D1, ["cbs.account"]).results
    assert rerun.unchanged and lh.engine.version(spec) == outcome.table_version
