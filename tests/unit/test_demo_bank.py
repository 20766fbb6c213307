"""The demo bank's daily extracts (no Spark)."""

import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.config import load_project
from lakehouse.demo import (
    KEYS,
    SCHEMAS,
    DemoBank,
    is_luhn_valid,
    is_valid_id_number,
    is_valid_mobile,
)
from lakehouse.demo.bank import BRANCHES

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"

START = date(2026, 11, 1)


def _cents(value: Decimal) -> int:
    assert isinstance(value, Decimal) and value.as_tuple().exponent == -2, value
    return int(value * 100)


@pytest.fixture(scope="module")
def month():
    """30 days of a 2,000-customer bank."""
    return list(DemoBank(2_000, seed=11).days(START, 30))


def test_same_seed_same_extracts_other_seed_differs():
    a = list(DemoBank(300, seed=5).days(START, 3))
    b = list(DemoBank(300, seed=5).days(START, 3))
    c = list(DemoBank(300, seed=6).days(START, 3))
    assert a == b
    assert a != c


def test_extracts_for_a_date_do_not_depend_on_skipped_dates():
    stepped = DemoBank(300, seed=5)
    for _ in stepped.days(START, 4):
        pass
    jumped = DemoBank(300, seed=5)
    day = START + timedelta(days=3)
    assert jumped.extracts(day) == stepped.extracts(day)
    assert jumped.next_date == day + timedelta(days=1)


def test_dates_must_go_forward():
    bank = DemoBank(50)
    bank.extracts(START + timedelta(days=1))
    with pytest.raises(ValueError, match="create a new DemoBank"):
        bank.extracts(START)


def test_fields_and_types_match_the_schemas(month):
    for day, extracts in month[:3]:
        assert set(extracts) == set(SCHEMAS)
        for entity, records in extracts.items():
            fields = SCHEMAS[entity]
            for record in records:
                assert list(record) == list(fields), entity
                for name, kind in fields.items():
                    assert type(record[name]) is kind, (entity, name, record[name])
        for txn in extracts["cbs.transaction"]:
            assert txn["txn_time"].date() == day


def test_keys_unique_per_extract_and_transactions_unique_across_days(month):
    seen_txn_ids = set()
    for _, extracts in month:
        for entity, key in KEYS.items():
            keys = [tuple(r[k] for k in key) for r in extracts[entity]]
            assert len(keys) == len(set(keys)), entity
        ids = [r["id_number"] for r in extracts["cbs.customer"]]
        assert len(ids) == len(set(ids))
        txn_ids = {t["txn_id"] for t in extracts["cbs.transaction"]}
        assert not txn_ids & seen_txn_ids
        seen_txn_ids |= txn_ids


def test_identifiers_and_values_are_valid(month):
    _, extracts = month[-1]
    for c in extracts["cbs.customer"]:
        cid = c["customer_id"]
        assert cid[0] == "C" and len(cid) == 11 and cid[1:].isdigit()
        assert is_valid_id_number(c["id_number"]) and is_valid_mobile(c["mobile"])
        assert c["branch_id"].startswith("B") and c["open_date"] <= month[-1][0]
    for a in extracts["cbs.account"]:
        assert len(a["account_id"]) == 16 and a["account_id"].isdigit()
        assert a["product_code"] in {"DEP001", "DEP002", "DEP003"}
        assert a["currency"] in {"CNY", "USD"} and a["status"] in {"A", "C"}
        assert _cents(a["balance"]) >= 0
    per_customer = Counter(a["customer_id"] for a in extracts["cbs.account"])
    assert set(per_customer.values()) <= {1, 2, 3}
    for card in extracts["ccs.card"]:
        assert len(card["card_no"]) == 16 and is_luhn_valid(card["card_no"])
        assert card["card_status"] in {"N", "F", "C"}
        assert 5_000_00 <= _cents(card["credit_limit"]) <= 200_000_00
        assert 1 <= len(card["holder_name"]) <= 5
    for t in extracts["cbs.transaction"]:
        assert _cents(t["amount"]) > 0
        assert t["direction"] in {"D", "C"} and t["channel"] in {"ATM", "MOB", "CNT", "WEB"}
    currencies = Counter(a["currency"] for a in extracts["cbs.account"])
    assert currencies["CNY"] > 5 * currencies["USD"] > 0


def test_balances_reconcile_with_transactions(month):
    for (_, before), (_, after) in zip(month[:3], month[1:4]):
        previous = {a["account_id"]: _cents(a["balance"]) for a in before["cbs.account"]}
        current = {a["account_id"]: _cents(a["balance"]) for a in after["cbs.account"]}
        expected = {aid: previous.get(aid, 0) for aid in current}
        for t in sorted(after["cbs.transaction"], key=lambda t: t["txn_time"]):
            assert t["account_id"] in current
            signed = _cents(t["amount"]) if t["direction"] == "C" else -_cents(t["amount"])
            expected[t["account_id"]] += signed
            assert expected[t["account_id"]] >= 0
        assert current == expected
        assert after["cbs.transaction"]


def test_customers_change_close_come_back_and_join(month):
    changes = closures = resurrections = arrivals = 0
    ever_closed: set[str] = set()
    previous = {c["customer_id"]: c for c in month[0][1]["cbs.customer"]}
    for _, extracts in month[1:]:
        current = {c["customer_id"]: c for c in extracts["cbs.customer"]}
        gone = previous.keys() - current.keys()
        back = (current.keys() - previous.keys()) & ever_closed
        closures += len(gone)
        resurrections += len(back)
        arrivals += len(current.keys() - previous.keys() - ever_closed)
        changes += sum(
            1 for cid in current.keys() & previous.keys() if current[cid] != previous[cid]
        )
        ever_closed |= gone
        previous = current
    assert changes > 100
    assert closures > 30
    assert resurrections > 0
    assert arrivals > 100


def test_card_holders_are_cbs_customers(month):
    for _, extracts in month:
        customers = {c["id_number"]: c for c in extracts["cbs.customer"]}
        cards = extracts["ccs.card"]
        for card in cards:
            assert is_valid_id_number(card["id_number"])
            if card["card_status"] != "C":  # cancelled cards outlive closed customers
                assert customers[card["id_number"]]["customer_name"] == card["holder_name"]
        holders = {card["id_number"] for card in cards if card["id_number"] in customers}
        assert 0.3 < len(holders) / len(customers) < 0.5
    assert any(
        a["credit_limit"] != b["credit_limit"]
        for a, b in zip(month[0][1]["ccs.card"], month[-1][1]["ccs.card"])
    )


# --- card transactions, loans and reference data -----------------------------------------

PYTHON_TYPES = {"string": str, "integer": int, "date": date, "timestamp": datetime}


def test_schemas_and_keys_are_those_of_the_source_contracts():
    project = load_project(REPO_CONF)
    assert set(SCHEMAS) == set(project.sources) and list(KEYS) == list(SCHEMAS)
    assert list(SCHEMAS)[:4] == ["cbs.customer", "cbs.account", "cbs.transaction", "ccs.card"]
    for name, fields in SCHEMAS.items():
        contract = project.sources[name]
        assert list(fields) == [a.name for a in contract.attributes], name
        assert KEYS[name] == tuple(contract.keys), name
        for a in contract.attributes:
            assert fields[a.name] is PYTHON_TYPES.get(a.parsed_type.kind, Decimal), (name, a.name)


def test_card_transactions_are_on_normal_cards_only(month):
    seen = set()
    for day, extracts in month:
        cards = {c["card_no"]: c for c in extracts["ccs.card"]}
        normal = sum(1 for c in cards.values() if c["card_status"] == "N")
        txns = extracts["ccs.card_txn"]
        used = {t["card_no"] for t in txns}
        assert 0.07 < len(used) / normal < 0.13
        assert len(used) <= len(txns) <= 3 * len(used)
        for t in txns:
            assert cards[t["card_no"]]["card_status"] == "N" and is_luhn_valid(t["card_no"])
            assert re.fullmatch(rf"CT{day:%Y%m%d}[0-9]{{7}}", t["txn_id"]) and t["txn_id"] not in seen
            assert t["txn_time"].date() == day and _cents(t["amount"]) > 0
            assert t["direction"] in {"D", "C"} and re.fullmatch("[0-9]{4}", t["mcc"])
            t["merchant_name"].encode("gbk")  # the card system delivers GBK
        assert [t["txn_time"] for t in txns] == sorted(t["txn_time"] for t in txns)
        seen |= {t["txn_id"] for t in txns}
    directions = Counter(t["direction"] for _, e in month for t in e["ccs.card_txn"])
    assert directions["D"] > 4 * directions["C"] > 0


def _schedules(extracts):
    lines = defaultdict(list)
    for line in extracts["lns.repayment_schedule"]:
        lines[line["loan_id"]].append(line)
    return lines


def test_loans_and_schedules_are_consistent(month):
    for day, extracts in month:
        newest = max(c["customer_id"] for c in extracts["cbs.customer"])
        schedules = _schedules(extracts)
        loans = {loan["loan_id"]: loan for loan in extracts["lns.loan"]}
        assert set(schedules) == {i for i, loan in loans.items() if loan["status"] != "S"}
        for loan_id, loan in loans.items():
            assert re.fullmatch("L[0-9]{11}", loan_id)
            assert re.fullmatch("C[0-9]{10}", loan["customer_id"]) and loan["customer_id"] <= newest
            assert loan["product_code"] in {"LN001", "LN002", "LN003"}
            assert Decimal("3") < loan["interest_rate"] < Decimal("8")
            assert loan["interest_rate"].as_tuple().exponent == -4
            assert loan["start_date"] <= day
            assert day < loan["maturity_date"] or loan["status"] != "N"  # overdue past maturity
            if loan["status"] == "S":
                assert loan["outstanding"] == 0 and loan["overdue_days"] == 0
                continue
            lines = schedules[loan_id]
            assert [line["installment_no"] for line in lines] == list(range(1, len(lines) + 1))
            assert len(lines) in {12, 24, 36} and lines[-1]["due_date"] == loan["maturity_date"]
            assert sum(line["principal_due"] for line in lines) == loan["principal"]
            paid = sum(line["principal_due"] for line in lines if line["status"] == "P")
            assert loan["outstanding"] == loan["principal"] - paid
            assert all(line["interest_due"] > 0 for line in lines)
            assert [line["status"] for line in lines] == sorted(
                (line["status"] for line in lines), key="POD".index)  # paid, overdue, not yet due
            for line in lines:
                assert (line["due_date"] <= day) == (line["status"] in {"P", "O"})
            overdue = [line["due_date"] for line in lines if line["status"] == "O"]
            if loan["status"] == "O":
                assert overdue and loan["overdue_days"] == (day - overdue[0]).days + 1 > 0
            else:
                assert loan["status"] == "N" and not overdue and loan["overdue_days"] == 0


def test_repayments_reconcile_loans_from_day_to_day(month):
    settled = cured = went_overdue = 0
    for (_, before), (day, after) in zip(month, month[1:]):
        old, new = (({loan["loan_id"]: loan for loan in e["lns.loan"]}) for e in (before, after))
        old_lines, new_lines = _schedules(before), _schedules(after)
        repaid = defaultdict(Decimal)
        seen = set()
        for r in after["lns.repayment"]:
            assert re.fullmatch(rf"R{day:%Y%m%d}[0-9]{{7}}", r["repayment_id"])
            assert r["paid_time"].date() == day and (r["loan_id"], r["installment_no"]) not in seen
            seen.add((r["loan_id"], r["installment_no"]))
            line = old_lines[r["loan_id"]][r["installment_no"] - 1]
            assert line["status"] != "P" and r["amount"] == line["principal_due"] + line["interest_due"]
            repaid[r["loan_id"]] += line["principal_due"]
        for loan_id, loan in new.items():
            if loan_id not in old:  # a loan taken out today
                assert loan["start_date"] == day and loan["outstanding"] == loan["principal"]
                continue
            assert old[loan_id]["status"] != "S"  # a settled loan is delivered once, then gone
            assert loan["outstanding"] == old[loan_id]["outstanding"] - repaid[loan_id]
            if loan["status"] == "S":
                settled += 1
                assert repaid[loan_id] > 0 and loan_id not in new_lines
            else:
                for was, line in zip(old_lines[loan_id], new_lines[loan_id]):
                    if line["status"] == "P" and was["status"] != "P":
                        assert (loan_id, line["installment_no"]) in seen
            cured += old[loan_id]["status"] == "O" and loan["status"] == "N"
            went_overdue += old[loan_id]["status"] == "N" and loan["status"] == "O"
        assert set(old) - set(new) == {i for i, loan in old.items() if loan["status"] == "S"}
    assert settled > 0 and cured > 0 and went_overdue > 0


def test_about_one_customer_in_eight_has_a_loan_and_some_are_overdue(month):
    for day, extracts in month[:3]:
        loans = extracts["lns.loan"]
        assert 0.1 < len(loans) / len(extracts["cbs.customer"]) < 0.14
        assert sum(1 for loan in loans if loan["status"] == "O") >= 3
        assert extracts["lns.repayment"]
    assert len({loan["loan_id"] for _, e in month for loan in e["lns.loan"]}) > len(month[0][1]["lns.loan"])


def test_reference_data_is_the_same_every_day_but_for_a_rare_renaming(month):
    first = month[0][1]
    assert [b["branch_id"] for b in first["ref.branch"]] == list(BRANCHES)
    assert {p["product_code"]: p["product_type"] for p in first["ref.product"]} == {
        "DEP001": "DEPOSIT", "DEP002": "DEPOSIT", "DEP003": "DEPOSIT", "LN001": "LOAN",
        "LN002": "LOAN", "LN003": "LOAN", "CARD001": "CARD"}
    codes = defaultdict(set)
    for c in first["ref.code"]:
        codes[c["code_type"]].add(c["code"])
        assert c["code_name"] and c["code_name_en"]
    assert codes == {
        "ACCOUNT_STATUS": {"A", "C"}, "CARD_STATUS": {"N", "F", "C"}, "LOAN_STATUS": {"N", "O", "S"},
        "SCHEDULE_STATUS": {"P", "D", "O"}, "CHANNEL": {"ATM", "MOB", "CNT", "WEB"},
        "CURRENCY": {"CNY", "USD"}, "DIRECTION": {"C", "D"}}
    renamed = set()
    for _, extracts in month:
        assert extracts["ref.product"] == first["ref.product"]
        assert extracts["ref.code"] == first["ref.code"]
        for a, b in zip(first["ref.branch"], extracts["ref.branch"]):
            assert (a["branch_id"], a["city"], a["open_date"]) == (b["branch_id"], b["city"], b["open_date"])
            if a["branch_name"] != b["branch_name"]:
                renamed.add(a["branch_id"])
    assert len(renamed) <= 3


def test_new_entities_do_not_share_records_with_the_bank():
    bank = DemoBank(300, seed=5)
    first = bank.extracts(START)
    snapshot = {name: [dict(r) for r in records] for name, records in first.items()}
    for _ in bank.days(START + timedelta(days=1), 20):
        pass
    assert {name: [dict(r) for r in records] for name, records in first.items()} == snapshot


def test_every_day_delivers_all_eleven_sources():
    days = list(DemoBank(200).days(START, 3))
    assert [d for d, _ in days] == [START + timedelta(days=i) for i in range(3)]
    assert all(len(extracts) == 11 for _, extracts in days)
