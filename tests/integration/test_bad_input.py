"""Bad deliveries: a located error, nothing loaded, the table keeps its Delta version.

One project is shared by the module: each test delivers a broken file for D2 on top of a good
load of D1 and checks the error text, the load log and that the target table did not move.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from datetime import date
from decimal import Decimal

import pytest

from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.demo.delivery_writer import write_control, write_delivery
from lakehouse.demo.identifiers import make_card_number, make_id_number
from lakehouse.security.access import AccessRefused
from lakehouse.security.masking import masked_attributes

from .test_near_source_loads import account, customer, txn

REPO_CONF = os.path.join(os.path.dirname(__file__), "..", "..", "conf")
D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


@pytest.fixture(scope="module")
def lh(tmp_path_factory, engine, registered_root):
    """The repo's contracts (no quality rule files), registered, with one good date loaded."""
    from lakehouse.api import Lakehouse

    base = tmp_path_factory.mktemp("bad_input")
    shutil.copytree(REPO_CONF, base / "conf")
    shutil.copytree(registered_root, base / "lakehouse")
    lakehouse = Lakehouse(base / "conf", engine=engine, root=base / "lakehouse", landing=base / "landing")
    for source, records in (("cbs.account", [account("A1"), account("A2")]),
                            ("cbs.customer", [customer("C1"), customer("C2")]),
                            ("cbs.transaction", [txn("T1")])):
        write_delivery(lakehouse.contract(source), lakehouse.settings.landing, D1, records)
        assert lakehouse.run(D1, [source]).ok
    return lakehouse


def data_path(lh, source, data_date=D2):
    contract = lh.contract(source)
    return lh.settings.landing + "/" + contract.delivery.data_path(data_date)


def failed_load(lh, source, data_date=D2, file=None):
    """Run the load, assert it failed and left the table alone; return the message."""
    spec = lh.table(source)
    before = lh.engine.version(spec)
    summary = lh.run(data_date, [source], file)
    result = summary.results[0]
    assert result.status == "failed"
    assert lh.engine.version(spec) == before
    log = lh.engine.rows(governance.load_log(lh.root), where(run_id=summary.run_id))
    assert [(r["status"], r["message"]) for r in log] == [("failed", result.message)]
    return result.message


def write_file(path, data: bytes, control_rows: int | None = None, lh=None, source=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    if control_rows is not None:
        write_control(lh.contract(source), lh.settings.landing, D2, [],
                      row_count=control_rows, amount_total=Decimal("0"))


def test_missing_file(lh):
    message = failed_load(lh, "cbs.account", date(2026, 11, 20))
    assert "delivery for cbs.account on 2026-11-20 is missing" in message
    assert "account_20261120.csv: file not found" in message
    assert "wait for the source system to deliver it" in message


def test_empty_file(lh):
    path = data_path(lh, "cbs.account")
    write_file(path, b"", 0, lh, "cbs.account")
    message = failed_load(lh, "cbs.account")
    assert f"delivery {path} is empty" in message


def test_header_that_does_not_match_the_contract(lh):
    path = data_path(lh, "cbs.account")
    header = b"account_id,customer_id,product_code,currency,balance,status,open_date,branch\n"
    write_file(path, header + b"A1,C1,DEP001,CNY,1.00,A,2021-01-01,B01\n", 1, lh, "cbs.account")
    message = failed_load(lh, "cbs.account")
    assert f"{path}, line 1, column 8: column 'branch' is not in the contract (schema drift)" \
        in message
    assert "declare 'branch' in" in message


def test_undecodable_bytes(lh):
    path = data_path(lh, "cbs.customer")
    good = "customer_id|customer_name|id_number|mobile|branch_id|open_date\n"
    bad = "C1|张三|11010519491231002X|13800000001|B0101|2020-01-02\n".encode("gbk")
    write_file(path, good.encode() + bad, 1, lh, "cbs.customer")
    message = failed_load(lh, "cbs.customer")
    assert f"delivery {path} is not valid utf-8 (1 lines affected)" in message
    assert f"{path}, line 2, column 4: bytes 0xD5 are not valid utf-8" in message
    assert "declare the encoding it really has" in message


def test_control_file_row_count_and_amount_mismatch(lh):
    records = [account("A1", "10.00"), account("A2", "20.00")]
    write_delivery(lh.contract("cbs.account"), lh.settings.landing, D2, records, with_control=False)
    write_control(lh.contract("cbs.account"), lh.settings.landing, D2, records,
                  row_count=3, amount_total=Decimal("31.00"))
    message = failed_load(lh, "cbs.account")
    assert "control file declares 3 rows, the file has 2" in message
    assert "control file declares amount total 31.00, the file sums to 30.00" in message


def test_duplicate_and_null_keys(lh):
    records = [account("A1"), account("A2"), account("A1", "3.00"), account(None)]
    write_delivery(lh.contract("cbs.account"), lh.settings.landing, D2, records)
    message = failed_load(lh, "cbs.account")
    path = data_path(lh, "cbs.account")
    assert f"{path}, line 5, column account_id: key column account_id is empty" in message
    assert "duplicate key (account_id) = '**' on lines 2, 4" in message  # level 3: masked
    assert message.startswith(f"delivery {path} for cbs.account on 2026-11-02 was refused "
                              "admission: quality check failed")
    [quality] = lh.engine.rows(governance.admission_log(lh.root),
                               where(source="cbs.account", data_date=date(2026, 11, 2),
                                     check_name="quality", decision="rejected"),
                               order_by=["decided_at"])[-1:]
    evidence = json.loads(quality["evidence"])
    failed = {f["rule"]: (f["dimension"], f["unexpected"]) for f in evidence["failed_rules"]}
    assert failed["keys.unique"] == ("uniqueness", 2)  # both rows of key A1
    located = {(p["line"], p["key"]) for p in quality["problems"]}  # stored structured
    assert {(5, "account_id"), (4, "account_id")} <= located
    assert failed["account_id.not_null"] == ("completeness", 1)


def test_date_in_path_is_not_the_run_date(lh):
    write_delivery(lh.contract("cbs.account"), lh.settings.landing, D1, [account("A1")])
    message = failed_load(lh, "cbs.account", D2, file=data_path(lh, "cbs.account", D1))
    assert "is for data date 2026-11-01, not 2026-11-02" in message
    assert "run with --date 2026-11-01" in message


def test_control_file_for_another_date(lh):
    records = [account("A1")]
    write_delivery(lh.contract("cbs.account"), lh.settings.landing, D2, records)
    control = lh.settings.landing + "/cbs/20261102/account_20261102.ctl"
    with open(control, "w") as handle:
        handle.write("data_date=20261101\nrow_count=1\namount_total=100.00\n")
    message = failed_load(lh, "cbs.account")
    assert "control file is for data date 2026-11-01, the run is for 2026-11-02" in message


def test_malformed_control_file_is_a_failed_quality_check(lh):
    write_delivery(lh.contract("cbs.account"), lh.settings.landing, D2, [account("A1")])
    control = lh.settings.landing + "/cbs/20261102/account_20261102.ctl"
    with open(control, "w") as handle:
        handle.write("data_date=20261102\nrow_count=one\n")
    message = failed_load(lh, "cbs.account")
    assert "refused admission: quality check failed" in message
    assert f"control file {control} is malformed" in message
    assert f"{control}, line 2: row_count is not a whole number" in message


def test_malformed_rows_are_quarantined_and_counted(lh):
    path = data_path(lh, "cbs.transaction")
    lines = [
        b'{"txn_id": "T10", "account_id": "A1", "txn_time": "2026-11-02 10:00:00", '
        b'"amount": "5.00", "direction": "D", "channel": "ATM"}',
        b'{"txn_id": "T11", "account_id": "A1", "txn_time": "not a time", '
        b'"amount": "1.00", "direction": "D", "channel": "ATM"}',
        b'{"txn_id": "T12", "account_id": "A1", "amount": 2.5',
        b'{"txn_id": "T13", "account_id": "A1", "txn_time": "2026-11-02 11:00:00", '
        b'"amount": "3.005", "direction": "C", "channel": "MOB"}',
    ]
    write_file(path, b"\n".join(lines) + b"\n")
    write_control(lh.contract("cbs.transaction"), lh.settings.landing, D2, [],
                  row_count=4, amount_total=Decimal("11.505"))
    summary = lh.run(D2, ["cbs.transaction"])
    result = summary.results[0]
    assert result.status == "succeeded", result.message
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)
    quarantined = lh.engine.rows(governance.quarantine(lh.root, "cbs_transaction"),
                                 where(run_id=summary.run_id), order_by=["line"])
    assert [(q["line"], q["reason"]) for q in quarantined] == [
        (2, "column 3 (txn_time): 'not a time' is not a timestamp in format %Y-%m-%d %H:%M:%S"),
        (3, "malformed JSON at column 52: Expecting ',' delimiter"),
        (4, "column 4 (amount): '*****' has 3 decimal places, at most 2 allowed"),  # level 3
    ]
    assert quarantined[0]["raw_line"] == ('{"txn_id": "T11", "account_id": "**", "txn_time": '
                                          '"not a time", "amount": "****", "direction": "D", '
                                          '"channel": "ATM"}')
    assert quarantined[1]["raw_line"] is None and quarantined[1]["sealed_line"]  # broken JSON
    log = lh.engine.rows(governance.load_log(lh.root), where(run_id=summary.run_id))
    assert [(r["rows_in"], r["rows_loaded"], r["rows_quarantined"]) for r in log] == [(4, 1, 3)]
    rows = lh.engine.rows(lh.table("cbs.transaction"), where(data_date=D2))
    assert [r["txn_id"] for r in rows] == ["T10"]


def test_wrong_field_count_in_zipper_extract_refuses_the_whole_file(lh):
    path = data_path(lh, "cbs.customer")
    text = ("customer_id|customer_name|id_number|mobile|branch_id|open_date\n"
            "C1|张三|11010519491231002X|13800000001|B0101|2020-01-02\n"
            "C2|李四|11010519491231002X|13800000002|B0101\n")
    write_file(path, text.encode(), 2, lh, "cbs.customer")
    message = failed_load(lh, "cbs.customer")
    assert f"{path}, line 3: rejected row has no readable key (has 5 fields, expected 6)" in message


def test_zipper_row_with_bad_value_keeps_previous_version_of_its_key(lh):
    records = [customer("C1", "13911112222"), customer("C2")]
    write_delivery(lh.contract("cbs.customer"), lh.settings.landing, D2, records)
    path = data_path(lh, "cbs.customer")
    text = open(path, encoding="utf-8").read().replace("C2|张三|11010519491231002X|13800000001|"
                                                       "B0101|2020-01-02", "C2|张三|11010519491231002X|"
                                                       "13800000001|B0101|2020-13-45")
    write_file(path, text.encode())
    summary = lh.run(D2, ["cbs.customer"])
    result = summary.results[0]
    assert result.status == "succeeded", result.message
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    rows = lh.engine.rows(lh.table("cbs.customer"), order_by=["customer_id", "start_dt"])
    assert [(r["customer_id"], r["mobile"], str(r["start_dt"]), str(r["end_dt"])) for r in rows] == [
        ("C1", "13800000001", "2026-11-01", "2026-11-02"),
        ("C1", "13911112222", "2026-11-02", "9999-12-31"),
        ("C2", "13800000001", "2026-11-01", "9999-12-31"),  # not closed: its row was quarantined
    ]


def test_snapshot_rows_with_wrong_field_count_are_quarantined_and_the_rest_loaded(lh):
    path = data_path(lh, "cbs.account")
    text = ("account_id,customer_id,product_code,currency,balance,status,open_date\n"
            "A1,C1,DEP001,CNY,1.00,A,2021-01-01\n"
            "A2,C1,DEP001,CNY,2.00,A\n"
            "A3,C1,DEP001,CNY,3.00,A,2021-01-01,extra\n"
            "A4,C1,DEP001,CNY,4.00,A,2021-01-01\n")
    write_file(path, text.encode(), 4, lh, "cbs.account")
    summary = lh.run(D2, ["cbs.account"])
    result = summary.results[0]
    assert result.status == "succeeded", result.message
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    quarantined = lh.engine.rows(governance.quarantine(lh.root, "cbs_account"),
                                 where(run_id=summary.run_id), order_by=["line"])
    assert [(q["line"], q["reason"], q["raw_line"], bool(q["sealed_line"])) for q in quarantined] == [
        (3, "has 6 fields, expected 7", None, True),  # its fields cannot be found to mask them
        (4, "has 8 fields, expected 7", None, True),
    ]
    rows = lh.engine.rows(lh.table("cbs.account"), where(data_date=D2),
                          order_by=["account_id"])
    assert [r["account_id"] for r in rows] == ["A1", "A4"]


def test_an_amount_total_that_cannot_be_reconciled_is_recorded_as_not_measured(lh):
    path = data_path(lh, "cbs.transaction")
    lines = [
        b'{"txn_id": "T20", "account_id": "A1", "txn_time": "2026-11-02 10:00:00", '
        b'"amount": "5.00", "direction": "D", "channel": "ATM"}',
        b'{"txn_id": "T21", "account_id": "A1", "amount": 2.5',  # broken: its amount is unknown
    ]
    write_file(path, b"\n".join(lines) + b"\n")
    write_control(lh.contract("cbs.transaction"), lh.settings.landing, D2, [],
                  row_count=2, amount_total=Decimal("999.00"))  # wrong, and undecidable here
    summary = lh.run(D2, ["cbs.transaction"])
    [result] = summary.results
    assert result.status == "succeeded", result.message
    assert result.promotable is False and "control.amount_total" in result.blocking_rules
    [measured] = lh.engine.rows(governance.quality_results(lh.root),
                                where(run_id=summary.run_id, rule="control.amount_total"))
    assert measured["success"] is False and measured["expectation"] == "not measured"
    assert "1 rejected row(s) have no readable amount" in measured["error"]
    assert "redeliver the file with those rows corrected" in measured["error"]


def test_every_attempt_has_a_load_record_whose_counts_add_up(lh):
    source = "cbs.account"
    records = [account("A7", "10.00"), account("A8", "20.00")]
    write_delivery(lh.contract(source), lh.settings.landing, D2, records, with_control=False)
    write_control(lh.contract(source), lh.settings.landing, D2, records, row_count=3,
                  amount_total=Decimal("30.00"))
    refused = lh.run(D2, [source])  # the control file disagrees: the whole file is refused
    write_control(lh.contract(source), lh.settings.landing, D2, records, row_count=2,
                  amount_total=Decimal("30.00"))
    loaded = lh.run(D2, [source])
    again = lh.run(D2, [source])  # the very same file: nothing to do
    assert again.results[0].unchanged and again.results[0].status == "succeeded"
    runs = [refused.run_id, loaded.run_id, again.run_id]
    log = {r["run_id"]: r for r in lh.engine.rows(governance.load_log(lh.root),
                                                  where(source=source, data_date=D2))
           if r["run_id"] in runs}
    assert [(log[r]["status"], log[r]["operation"]) for r in runs] == [
        ("failed", "delivery"), ("succeeded", "delivery"), ("succeeded", "unchanged")]
    assert [(log[r]["rows_in"], log[r]["rows_loaded"], log[r]["rows_quarantined"],
             log[r]["rows_refused"]) for r in runs] == [(2, 0, 0, 2), (2, 2, 0, 0), (0, 0, 0, 0)]
    for row in log.values():
        assert row["rows_in"] == row["rows_loaded"] + row["rows_quarantined"] + row["rows_refused"]


def test_a_delivery_without_its_control_file_is_landed_then_refused(lh):
    source = "cbs.account"
    day = date(2026, 11, 9)
    write_delivery(lh.contract(source), lh.settings.landing, day, [account("A9")],
                   with_control=False)
    message = failed_load(lh, source, day)
    assert "control file for cbs.account on 2026-11-09 is missing" in message
    landed = lh.engine.rows(governance.raw_manifest(lh.root), where(source=source, data_date=day))
    assert [(r["file_name"], r["role"]) for r in landed] == [("account_20261109.csv", "data")]


# -- nothing sensitive leaks around the side (issue #15 point 5) ---------------------------------

def governance_text(lh, run_id: str) -> str:
    """Every load log and admission log record of run ``run_id``, as text."""
    return repr([lh.engine.rows(table(lh.root), where(run_id=run_id))
                 for table in (governance.load_log, governance.admission_log)])


def test_a_rejected_line_is_kept_masked_or_sealed_and_opened_for_a_cleared_reader_only(lh, caplog):
    caplog.set_level(logging.INFO)
    rng = random.Random(15)
    card, id_number = make_card_number(rng), make_id_number(rng, date(1980, 5, 6), True)
    source = "ccs.card_txn"
    lines = ["txn_id,card_no,txn_time,amount,direction,merchant_name,mcc",
             f"T1,{make_card_number(rng)},2026-11-02 09:00:00,10.00,D,Shop,5411",
             f"T2,{card},not a time,12.50,D,Shop,5411",  # a bad value: its fields are known
             f"T3,{card},{id_number},2026-11-02 10:00:00,1.00,D,Shop,5411"]  # a field too many
    write_file(data_path(lh, source), "\n".join(lines).encode("gbk") + b"\n", 3, lh, source)
    summary = lh.run(D2, [source])
    [result] = summary.results
    assert result.status == "succeeded" and result.rows_quarantined == 2, result.message

    shown_card = masked_attributes(lh.project, lh.contract(source).attributes)["card_no"].apply(card)
    held = lh.engine.rows(governance.quarantine(lh.root, "ccs_card_txn"), order_by=["line"])
    assert [(q["line"], q["raw_line"], bool(q["sealed_line"])) for q in held] == [
        (3, f"T2,{shown_card},not a time,*****,D,****,5411", False),
        (4, None, True)]
    for text in (repr(held), governance_text(lh, summary.run_id), result.message, caplog.text):
        assert card not in text and id_number not in text

    steward, engineer = lh.as_principal("wang.fang"), lh.as_principal("local.dev")
    assert [r["raw_line"] for r in steward.quarantined(source, D2)] == [held[0]["raw_line"], lines[3]]
    assert [(r["raw_line"], r["sealed"]) for r in engineer.quarantined(source, D2)] == [
        (held[0]["raw_line"], False), (None, True)]  # level 4 in clear is above a data engineer
    with pytest.raises(AccessRefused, match="chen.jie may not query governance.quarantine_ccs_card_txn"):
        lh.as_principal("chen.jie").quarantined(source, D2)  # no role covers the governance zone
    audited = lh.engine.rows(governance.access_audit(lh.root), where(operation="quarantine"),
                             order_by=["seq"])
    assert [(a["principal"], a["result"], a["rows_returned"]) for a in audited[-3:]] == [
        ("wang.fang", "allowed", 2), ("local.dev", "masked", 2), ("chen.jie", "refused", None)]
    assert "governance.quarantine_ccs_card_txn.sealed_line:4" in audited[-1]["objects"]


def test_a_duplicated_card_number_is_named_masked_in_the_error_and_the_logs(lh, caplog):
    caplog.set_level(logging.INFO)
    card = make_card_number(random.Random(16), length=19)
    source = "ccs.card"
    record = {"card_no": card, "id_number": "11010519491231002X", "holder_name": "张三",
              "credit_limit": Decimal("5000.00"), "card_status": "A", "issue_date": date(2020, 1, 2)}
    write_delivery(lh.contract(source), lh.settings.landing, D2, [record, {**record}])
    message = failed_load(lh, source)
    shown_card = masked_attributes(lh.project, lh.contract(source).attributes)["card_no"].apply(card)
    assert f"line 2, column card_no: duplicate key (card_no) = '{shown_card}' on lines 1, 2" in message
    [run_id] = {r["run_id"] for r in lh.engine.rows(governance.load_log(lh.root),
                                                    where(source=source, data_date=D2))}
    logged = governance_text(lh, run_id)
    assert shown_card in logged
    for text in (message, logged, caplog.text):
        assert card not in text
