"""Deliveries as source systems really send them (issue #14): RFC 4180 records, byte-order
marks, exact amounts and messages that point at the real cause. Synthetic contracts, no Spark."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from lakehouse.config.models import SourceContract
from lakehouse.errors import DeliveryError
from lakehouse.ingestion.control_file import read_control_file
from lakehouse.ingestion.delivery_checks import control_problems
from lakehouse.ingestion.extract_parser import parse_extract
from lakehouse.ingestion.misnamed import found_instead
from lakehouse.ingestion.t1_load import _locate

D = date(2026, 11, 1)


def attribute(name: str, type_: str, **extra) -> dict:
    return {"name": name, "type": type_, "business_name": {"zh": name, "en": name},
            "security_level": 1, "standard": "DS-TST-0001", **extra}


def contract(amount_type: str = "decimal(18,2)", **delivery) -> SourceContract:
    """A synthetic source: id, note, amount, with a control file totalling amount."""
    return SourceContract.model_validate({
        "system": "tst", "entity": "item", "owner": "test.owner", "load_type": "snapshot",
        "keys": ["id"],
        "delivery": {"format": "csv", "path": "tst/{data_date}/item_{data_date}.csv",
                     "control": {"path": "tst/{data_date}/item_{data_date}.ctl",
                                 "amount_column": "amount"}, **delivery},
        "attributes": [attribute("id", "string", nullable=False), attribute("note", "string"),
                       attribute("amount", amount_type)],
    })


def delivered(tmp_path: Path, data: str | bytes, name: str = "item.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def control(tmp_path: Path, rows: int, amount: str, prefix: bytes = b"") -> Path:
    text = f"data_date=20261101\nrow_count={rows}\namount_total={amount}\n"
    return delivered(tmp_path, prefix + text.encode(), "item.ctl")


def values(extract, column: str) -> list:
    return extract.columns[column]


# -- 1. CSV records as RFC 4180 defines them ---------------------------------------------------

def test_a_quoted_field_holds_the_delimiter_a_doubled_quote_and_a_line_break(tmp_path):
    path = delivered(tmp_path, 'id,note,amount\n'
                               'A1,"Smith, J ""Jr""",1.00\n'
                               'A2,"first line\nsecond line",2.00\n'
                               'A3,plain,3.00\n')
    extract = parse_extract(path, contract())
    assert not extract.rejected
    assert values(extract, "note") == ['Smith, J "Jr"', "first line\nsecond line", "plain"]
    assert extract.lines == [2, 3, 5]  # the physical line each record starts on
    assert extract.rows_in == 3
    # the control file counts records, not physical lines
    totals = read_control_file(control(tmp_path, 3, "6.00"), "utf-8", "%Y%m%d")
    assert control_problems(extract, totals, D) == []


def test_a_rejected_row_after_a_record_spanning_lines_names_its_line_and_record(tmp_path):
    path = delivered(tmp_path, 'id,note,amount\n'
                               'A1,"two\nlines",1.00\n'
                               'A2,ok,not-a-number\n'
                               'A3,short\n')
    extract = parse_extract(path, contract())
    assert [(r.line, r.reason, r.raw) for r in extract.rejected] == [
        (4, "record 3: column 3 (amount): 'not-a-number' is not a decimal number",
         "A2,ok,not-a-number"),
        (5, "record 4: has 2 fields, expected 3", "A3,short"),
    ]
    assert extract.lines == [2] and extract.rows_in == 3


def test_a_stray_quote_rejects_its_own_line_and_the_records_after_it_load(tmp_path):
    path = delivered(tmp_path, 'id,note,amount\n'
                               'A1,"unclosed,1.00\n'
                               'A2,ok,2.00\n'
                               'A3,"quoted",3.00\n'
                               'A4,"last,4.00\n')
    extract = parse_extract(path, contract())
    assert [(r.line, r.reason) for r in extract.rejected] == [
        (2, "malformed CSV: a quote opened on this line runs on to line 4, where a closing "
            "quote must be followed by the delimiter ',' or the line's end"),
        (5, "malformed CSV: a quote opened on this line is never closed"),
    ]
    assert values(extract, "id") == ["A2", "A3"] and extract.lines == [3, 4]
    assert extract.rows_in == 4


def test_a_file_without_quoting_keeps_quote_characters_as_data(tmp_path):
    path = delivered(tmp_path, 'id,note,amount\nA1,5" disk,1.00\n')
    extract = parse_extract(path, contract(quote=""))
    assert values(extract, "note") == ['5" disk'] and not extract.rejected


# -- 2. byte-order marks ------------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"


def test_a_control_file_may_start_with_a_utf8_byte_order_mark_as_a_data_file_may(tmp_path):
    path = delivered(tmp_path, BOM + b"id,note,amount\nA1,x,1.00\n")
    extract = parse_extract(path, contract())
    totals = read_control_file(control(tmp_path, 1, "1.00", prefix=BOM), "utf-8", "%Y%m%d")
    assert (totals.data_date, totals.row_count, totals.amount_total) == (D, 1, Decimal("1.00"))
    assert control_problems(extract, totals, D) == []


def test_a_fixed_width_file_may_start_with_a_utf8_byte_order_mark(tmp_path):
    fixed = SourceContract.model_validate({
        "system": "tst", "entity": "item", "owner": "test.owner", "load_type": "snapshot",
        "keys": ["id"], "delivery": {"format": "fixed-width", "path": "tst/item_{data_date}.dat"},
        "attributes": [attribute("id", "string", nullable=False, width=3),
                       attribute("amount", "decimal(18,2)", width=6)],
    })
    path = delivered(tmp_path, BOM + b"A01  1.00\nA02  2.00\n", "item.dat")
    extract = parse_extract(path, fixed)
    assert not extract.rejected and values(extract, "id") == ["A01", "A02"]


def test_a_byte_order_mark_is_named_in_words_never_as_an_escape(tmp_path):
    gbk = delivered(tmp_path, BOM + "id,note,amount\nA1,张三,1.00\n".encode())
    with pytest.raises(DeliveryError) as refused:
        parse_extract(gbk, contract(encoding="gbk"))
    message = refused.value.render()
    assert f"delivery {gbk} starts with a UTF-8 byte-order mark: it is UTF-8, the contract " \
           "declares gbk" in message
    assert "declare the encoding it really has" in message
    # a second mark inside the file (two files joined): named in words where it is reported
    twice = delivered(tmp_path, BOM + BOM + b"id,note,amount\nA1,x,1.00\n", "twice.csv")
    with pytest.raises(DeliveryError) as drift:
        parse_extract(twice, contract())
    message = drift.value.render()
    assert "column 'id' (with a UTF-8 byte-order mark in it) is not in the contract" in message
    ctl = control(tmp_path, 1, "1.00", prefix=BOM + BOM)
    with pytest.raises(DeliveryError) as malformed:
        read_control_file(ctl, "utf-8", "%Y%m%d")
    message = malformed.value.render()
    assert "unexpected line 'data_date=20261101' (with a UTF-8 byte-order mark in it)" in message
    for text in (str(refused.value), str(drift.value), message):
        assert "\\ufeff" not in text and "\ufeff" not in text


# -- 3. exact amounts ---------------------------------------------------------------------------

def test_wide_decimal_amounts_are_read_and_summed_exactly(tmp_path):
    big = "12345678901234567890123456789012.34"  # 34 digits: beyond a 28-digit context
    path = delivered(tmp_path, f"id,note,amount\nA1,x,{big}\nA2,y,0.01\n")
    extract = parse_extract(path, contract("decimal(38,2)"))
    assert not extract.rejected
    assert extract.amount_total == Decimal("12345678901234567890123456789012.35")
    totals = read_control_file(control(tmp_path, 2, "12345678901234567890123456789012.35"),
                               "utf-8", "%Y%m%d")
    assert control_problems(extract, totals, D) == []


def test_an_amount_too_large_for_its_type_is_a_rejected_row_not_a_totals_mismatch(tmp_path):
    huge = "1" + "0" * 40 + ".00"
    path = delivered(tmp_path, f"id,note,amount\nA1,x,{huge}\nA2,y,5.00\n")
    extract = parse_extract(path, contract())
    assert [(r.line, r.reason) for r in extract.rejected] == [
        (2, f"column 3 (amount): '{huge}' has 41 integer digits, at most 16 fit decimal(18,2)")]
    totals = read_control_file(control(tmp_path, 2, "1" + "0" * 39 + "5.00"), "utf-8", "%Y%m%d")
    assert control_problems(extract, totals, D) == []


# -- 4. messages that point at the real cause ---------------------------------------------------

@pytest.mark.parametrize("delivered_as, difference, fix", [
    ("tst/20261101/ITEM_20261101.CSV", "its name differs only in letter case",
     "rename it to tst/20261101/item_20261101.csv, or correct delivery.path in item.yaml"),
    ("tst/2026-11-01/item_2026-11-01.csv",
     "it writes the data date as 2026-11-01 (%Y-%m-%d), the contract as 20261101 "
     "(path_date_format %Y%m%d)",
     'rename it to tst/20261101/item_20261101.csv, or declare path_date_format: "%Y-%m-%d" '
     "in item.yaml"),
])
def test_a_delivery_under_a_near_miss_of_its_name_is_named_with_the_difference(
        tmp_path, delivered_as, difference, fix):
    landing = tmp_path / "landing"
    (landing / delivered_as).parent.mkdir(parents=True)
    (landing / delivered_as).write_text("id,note,amount\n")
    expected = "tst/20261101/item_20261101.csv"
    problem = found_instead(landing, expected, D, "%Y%m%d", "item.yaml")
    assert problem.message == f"file not found, but {delivered_as} is there: {difference}"
    assert problem.file == str(landing / expected) and problem.fix == fix
    assert found_instead(landing, "tst/20261102/item_20261102.csv", date(2026, 11, 2)) is None


def test_locate_names_the_near_miss_instead_of_waiting_for_the_source_system(tmp_path):
    landing = tmp_path / "landing"
    (landing / "tst" / "20261101").mkdir(parents=True)
    (landing / "tst" / "20261101" / "Item_20261101.csv").write_text("id,note,amount\n")
    with pytest.raises(DeliveryError) as missing:
        _locate(SimpleNamespace(landing=str(landing)), contract(), D, None)
    message = missing.value.render()
    assert "delivery for tst.item on 2026-11-01 is missing" in message
    assert "file not found, but tst/20261101/Item_20261101.csv is there: its name differs only " \
           "in letter case" in message
    assert "wait for the source system" not in message


def test_a_delimiter_ending_every_line_is_named_not_a_column_to_declare(tmp_path):
    path = delivered(tmp_path, "id,note,amount,\nA1,x,1.00,\nA2,y,2.00,\n")
    with pytest.raises(DeliveryError) as refused:
        parse_extract(path, contract())
    message = refused.value.render()
    assert message.startswith(f"every line of delivery {path} ends with the delimiter ','")
    assert f"{path}, line 1, column 4: every line ends with the delimiter ','" in message
    assert "drop the trailing delimiter from every line" in message
    assert "declare ''" not in message
    # without a header, too
    bare = delivered(tmp_path, "A1,x,1.00,\nA2,y,2.00,\n", "bare.csv")
    with pytest.raises(DeliveryError, match="every line of delivery .* ends with the delimiter"):
        parse_extract(bare, contract(header=False))


def test_a_header_alone_ending_with_the_delimiter_is_an_unnamed_column(tmp_path):
    path = delivered(tmp_path, "id,note,amount,\nA1,x,1.00\n")
    with pytest.raises(DeliveryError) as refused:
        parse_extract(path, contract())
    message = refused.value.render()
    assert f"{path}, line 1, column 4: column 4 of the header has no name" in message
    assert "drop the delimiter that ends the header line" in message
    assert "declare ''" not in message


# -- 5. values of level 3 and above never shown in clear -----------------------------------------

def _repo_source(name: str):
    from lakehouse.config import load_project
    from lakehouse.security.masking import masked_attributes

    project = load_project(Path(__file__).resolve().parents[2] / "conf")
    contract = project.sources[name]
    return contract, masked_attributes(project, contract.attributes)


def test_rejected_csv_lines_are_masked_by_their_layout_and_unsplittable_ones_not_shown(tmp_path):
    import random

    from lakehouse.demo.identifiers import make_card_number, make_id_number

    rng = random.Random(15)
    card, other, id_number = make_card_number(rng), make_card_number(rng), make_id_number(
        rng, date(1980, 5, 6), True)
    contract, masked = _repo_source("ccs.card_txn")
    header = "txn_id,card_no,txn_time,amount,direction,merchant_name,mcc\n"
    path = delivered(tmp_path, (header +
                                f'T1,{card},not a time,12.50,D,"Shop,Ltd,Co",5411\n'
                                f"T2,{other},2026-11-01 10:00:00,3.005,D,Shop,5411\n"
                                f"T3,{card},{id_number},2026-11-01 10:00:00,1.00,D,Shop,5411\n"
                                ).encode("gbk"))
    extract = parse_extract(path, contract, masked)
    shown_card = masked["card_no"].apply(card)
    assert [(r.line, r.reason, r.shown) for r in extract.rejected] == [
        (2, "column 3 (txn_time): 'not a time' is not a timestamp in format %Y-%m-%d %H:%M:%S",
         f'T1,{shown_card},not a time,*****,D,"Sho****d,Co",5411'),  # quoted: holds a comma
        (3, "column 4 (amount): '*****' has 3 decimal places, at most 2 allowed",
         f"T2,{masked['card_no'].apply(other)},2026-11-01 10:00:00,*****,D,****,5411"),
        (4, "has 8 fields, expected 7", None),  # cannot be split into its fields: sealed
    ]
    assert card in extract.rejected[0].raw and id_number in extract.rejected[2].raw
    everything = repr([(r.reason, r.shown) for r in extract.rejected])
    assert card not in everything and other not in everything and id_number not in everything
    assert [r.shown for r in parse_extract(path, contract, {}).rejected] == [
        r.raw for r in extract.rejected]  # nothing to mask: the lines as delivered


def test_rejected_fixed_width_and_json_lines_keep_their_layout_and_duplicate_keys_are_masked(
        tmp_path):
    from lakehouse.ingestion.delivery_checks import key_problems

    card = "6228480402564890018"
    contract, masked = _repo_source("ccs.card")
    good = f"{card}11010519491231002X{'张三':<8}{'5000.00':>12}A20200102".encode("gbk")
    bad = good.replace(b"20200102", b"20201399")
    path = delivered(tmp_path, good + b"\n" + good + b"\n" + bad + b"\n" + good[:20] + b"\n",
                     "card.dat")
    extract = parse_extract(path, contract, masked)
    [bad_date, short] = extract.rejected
    assert bad_date.reason == "column 6 (issue_date): '20201399' is not a date in format %Y%m%d"
    assert bad_date.shown == f"622848*********0018110***********002X{'张*':<9}{'*' * 7:>12}A20201399"
    assert len(bad_date.shown.encode("gbk")) == len(bad)  # every field at its place
    assert short.shown is None
    [duplicate] = key_problems(extract, list(contract.keys))
    assert duplicate.message == "duplicate key (card_no) = '622848*********0018' on lines 1, 2"
    assert duplicate.value == "622848*********0018" and duplicate.line == 2

    contract, masked = _repo_source("cbs.transaction")
    lines = ['{"txn_id": "T1", "account_id": "6222020200112233445", "txn_time": "x", '
             '"amount": 2.5, "direction": "D", "channel": "ATM"}',
             '{"txn_id": "T2", "account_id": "6222020200112233445", "amount": 2.5']
    extract = parse_extract(delivered(tmp_path, "\n".join(lines) + "\n", "t.jsonl"), contract, masked)
    assert [r.shown for r in extract.rejected] == [
        '{"txn_id": "T1", "account_id": "***************3445", "txn_time": "x", "amount": "***", '
        '"direction": "D", "channel": "ATM"}', None]
