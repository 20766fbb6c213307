"""Defects planted in the demo bank's deliveries, and the deliveries as written (no Spark)."""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lakehouse.config import load_project
from lakehouse.ingestion.control_file import read_control_file
from lakehouse.ingestion.delivery_checks import control_problems, key_problems
from lakehouse.demo import KEYS, DemoBank, is_valid_id_number
from lakehouse.demo.defects import KINDS, DefectPlan, PlantedDefect
from lakehouse.demo.deliveries import write_demo_deliveries
from lakehouse.ingestion.extract_parser import parse_extract

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
START = date(2026, 11, 1)
SECOND = START + timedelta(days=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def project():
    return load_project(REPO_CONF)


def deliver(project, landing: Path, plan: DefectPlan | None, days: int = 2, customers: int = 300):
    bank = DemoBank(customers, seed=5, start=START)
    return write_demo_deliveries(project, landing, bank, START, days, plan)


@pytest.fixture(scope="module")
def planted(project, tmp_path_factory):
    """Two dates of a 300-customer bank with defects at 1%: (landing, dates, defects, delivered)."""
    landing = tmp_path_factory.mktemp("landing")
    return (landing, *deliver(project, landing, DefectPlan(rate=0.01, seed=3)))


def parsed(project, landing: Path, source: str, day: date):
    contract = project.sources[source]
    return parse_extract(landing / contract.delivery.data_path(day), contract)


def rows(extract) -> list[dict]:
    names = list(extract.columns)
    return [dict(zip(names, values)) for values in zip(*extract.columns.values())]


def of_kind(defects, kind) -> list[PlantedDefect]:
    return [d for d in defects if d.kind == kind]


def test_no_defects_at_rate_zero_and_the_files_hold_exactly_the_bank_records(project, tmp_path):
    dates, defects, delivered = deliver(project, tmp_path, DefectPlan(rate=0))
    assert dates == [START, SECOND] and defects == []
    expected = DemoBank(300, seed=5, start=START)
    for day in dates:
        extracts = expected.extracts(day)
        assert delivered[day] == extracts and list(delivered[day]) == list(extracts)
        for source, records in extracts.items():
            extract = parsed(project, tmp_path, source, day)
            assert not extract.rejected and rows(extract) == records, source
            assert not key_problems(extract, list(project.sources[source].keys))
    _, none, _ = deliver(project, tmp_path / "again", None)
    assert none == []


def test_every_kind_is_planted_and_the_file_level_ones_on_the_second_date(planted):
    _, dates, defects, _ = planted
    kinds = Counter(d.kind for d in defects)
    assert set(kinds) == set(KINDS)
    assert kinds["duplicate_key"] == kinds["late_file"] == 1
    for kind in ("duplicate_key", "late_file"):
        [defect] = of_kind(defects, kind)
        assert defect.data_date == SECOND
    for kind in ("null", "invalid_id", "orphan_key", "malformed_row"):
        assert any(d.data_date == SECOND for d in of_kind(defects, kind)), kind
    assert kinds["null"] + kinds["orphan_key"] > 4  # drawn at 1% of about 530 accounts a day, too
    where = {(d.source, d.column) for d in defects}
    assert where == {("cbs.account", "customer_id"), ("ccs.card", "id_number"),
                     ("lns.loan", "start_date"), ("lns.repayment_schedule", None),
                     ("ccs.card_txn", None)}


def test_planting_is_deterministic_and_depends_on_seed_and_rate(project, tmp_path):
    a = deliver(project, tmp_path / "a", DefectPlan(rate=0.01, seed=3))
    b = deliver(project, tmp_path / "b", DefectPlan(rate=0.01, seed=3))
    c = deliver(project, tmp_path / "c", DefectPlan(rate=0.01, seed=4))
    d = deliver(project, tmp_path / "d", DefectPlan(rate=0.05, seed=3))
    assert a == b
    assert a[1] != c[1] and a[1] != d[1] and len(d[1]) > len(a[1])
    for name in ("a", "b"):
        files = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                               if p.is_file())
        for f in files:
            assert (tmp_path / name / f).read_bytes() == (tmp_path / "a" / f).read_bytes()


def test_the_bank_state_is_not_changed_by_the_defects(project, tmp_path):
    bank = DemoBank(300, seed=5, start=START)
    write_demo_deliveries(project, tmp_path, bank, START, 2, DefectPlan(rate=0.05))
    clean = DemoBank(300, seed=5, start=START)
    clean.extracts(START)
    assert bank.extracts(SECOND) == clean.extracts(SECOND)  # the planted copies went to the files
    assert bank.extracts(SECOND + timedelta(days=1)) == clean.extracts(SECOND + timedelta(days=1))


def test_row_level_defects_are_in_the_files_at_their_lines(project, planted):
    landing, _, defects, delivered = planted
    customers = {c["customer_id"] for day in delivered for c in delivered[day]["cbs.customer"]}
    for defect in defects:
        if defect.kind in ("duplicate_key", "late_file"):
            continue
        contract = project.sources[defect.source]
        path = landing / contract.delivery.data_path(defect.data_date)
        line = path.read_bytes().split(b"\n")[defect.line - 1].decode(contract.delivery.encoding)
        assert defect.key[0] in line, defect
        records = {tuple(r[k] for k in KEYS[defect.source]): r
                   for r in delivered[defect.data_date][defect.source]}
        if defect.kind == "malformed_row":
            assert defect.key not in records  # not part of what a reader gets
            continue
        value = records[defect.key][defect.column]
        if defect.kind == "null":
            assert value is None and f"{defect.key[0]},," in line
        elif defect.kind == "orphan_key":
            assert value.startswith("C9") and value not in customers and value in line
        else:
            assert not is_valid_id_number(value) and value in line
            assert any(is_valid_id_number(value[:17] + c) for c in "0123456789X")  # only the check


def test_a_malformed_loan_row_is_quarantined_and_the_delivery_still_admitted(project, planted):
    landing, dates, defects, delivered = planted
    for day in dates:
        malformed = [d for d in of_kind(defects, "malformed_row") if d.data_date == day]
        extract = parsed(project, landing, "lns.loan", day)
        assert [r.line for r in extract.rejected] == sorted(d.line for d in malformed)
        for row in extract.rejected:
            assert "start_date" in row.reason and "-02-30" in row.raw
        assert rows(extract) == delivered[day]["lns.loan"]
        contract = project.sources["lns.loan"]
        control = landing / contract.delivery.control.control_path(day)
        totals = read_control_file(control, contract.delivery.encoding, "%Y%m%d")
        assert totals.row_count == extract.rows_in == len(delivered[day]["lns.loan"]) + len(malformed)
        assert control_problems(extract, totals, day) == []
        assert key_problems(extract, list(contract.keys)) == []
    assert of_kind(defects, "malformed_row")


def test_the_duplicated_schedule_row_is_written_twice_and_refused(project, planted):
    landing, _, defects, delivered = planted
    [defect] = of_kind(defects, "duplicate_key")
    extract = parsed(project, landing, "lns.repayment_schedule", SECOND)
    keys = Counter((r["loan_id"], r["installment_no"]) for r in rows(extract))
    assert [k for k, n in keys.items() if n > 1] == [defect.key]
    assert extract.lines[-1] == defect.line
    [problem] = key_problems(extract, ["loan_id", "installment_no"])
    assert "duplicate key" in problem.message and problem.line == defect.line
    assert rows(extract) == delivered[SECOND]["lns.repayment_schedule"]


def test_files_arrive_overnight_in_order_and_the_late_one_after_its_deadline(project, planted):
    landing, dates, defects, delivered = planted
    [late] = of_kind(defects, "late_file")
    for day in dates:
        midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
        for index, source in enumerate(delivered[day]):
            path = landing / project.sources[source].delivery.data_path(day)
            arrived = datetime.fromtimestamp(os.stat(path).st_mtime, SHANGHAI)
            if (source, day) == (late.source, late.data_date):
                assert arrived == midnight.replace(hour=7, minute=30)
            else:
                assert arrived == midnight + timedelta(hours=1, minutes=30 + 5 * index)
                assert arrived.time() < project.sources[source].delivery.expected_by


def test_card_transactions_round_trip_through_gbk(project, planted):
    landing, dates, _, delivered = planted
    contract = project.sources["ccs.card_txn"]
    assert contract.delivery.encoding == "gbk"
    for day in dates:
        path = landing / contract.delivery.data_path(day)
        raw = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        merchants = [r["merchant_name"] for r in rows(parse_extract(path, contract))]
        assert merchants == [r["merchant_name"] for r in delivered[day]["ccs.card_txn"]]
        assert any(ord(c) > 0x4E00 for name in merchants for c in name)


def test_every_written_file_parses_to_the_delivered_records(project, planted):
    landing, dates, _, delivered = planted
    for day in dates:
        assert set(delivered[day]) == set(project.sources)
        for source, records in delivered[day].items():
            assert rows(parsed(project, landing, source, day)) == records, (source, day)


def test_a_rate_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        DefectPlan(rate=1.5)
