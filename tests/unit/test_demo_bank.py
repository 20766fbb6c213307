"""The demo bank's daily extracts (no Spark)."""

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from lakehouse.demo import (
    KEYS,
    SCHEMAS,
    DemoBank,
    is_luhn_valid,
    is_valid_id_number,
    is_valid_mobile,
)

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
            keys = [r[key] for r in extracts[entity]]
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


def test_ten_thousand_customers_one_day_is_quick():
    started = datetime.now()
    extracts = DemoBank(10_000).extracts(START)
    assert (datetime.now() - started).total_seconds() < 2
    assert len(extracts["cbs.customer"]) >= 10_000
