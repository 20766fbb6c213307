"""Roles x levels x entry points, on Spark: no level-3+ value in clear reaches a principal
without clearance through a query, an export, the quality report and Data Docs, the quarantine,
the admission log, the catalog or the access audit; and the leak scan finds a value planted in
clear wherever it is, named only masked."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from lakehouse.demo.delivery_writer import write_control, write_delivery
from lakehouse.demo.identifiers import make_card_number, make_id_number, make_mobile
from lakehouse.errors import LakehouseError
from lakehouse.governance.records import AdmissionLogRecord
from lakehouse.security.column_levels import table_levels

from tests.conftest import ROOT, copy_project, open_project
from .test_near_source_loads import account, customer

D1 = date(2026, 11, 1)
RNG = random.Random(15)
PEOPLE = [customer("C0000000001", mobile=make_mobile(RNG), name="欧阳明华"),
          customer("C0000000002", mobile=make_mobile(RNG), name="司马云飞")]
for person, born in zip(PEOPLE, (date(1984, 5, 6), date(1990, 3, 7))):
    person["id_number"] = make_id_number(RNG, born, male=True)
UNREADABLE = {"customer_id": "C0000000003", "customer_name": "诸葛晓峰",
              "id_number": make_id_number(RNG, date(1979, 8, 9), male=False), "mobile": make_mobile(RNG)}
"""A third customer, delivered with an impossible opening date: quarantined at parse."""
ACCOUNT_NO = make_card_number(RNG, bin="621700", length=19)
"""An account number (level 3) delivered twice: the duplicate key rejects the delivery."""

PRINCIPALS = ("local.dev", "li.na", "chen.jie", "app.customer_desk", "sun.li", "svc.t1_batch")
"""One per role; the data engineer in the fast tier, the others in the slow tier."""
QUERIES = [
    "SELECT * FROM near_source.cbs_customer",
    "WITH x AS (SELECT c.id_number AS i, mobile, customer_name AS n FROM near_source.cbs_customer c) "
    "SELECT concat(substr(i, 1, 9), substr(i, 10)) AS a, reverse(reverse(mobile)) AS b, "
    "CAST(n AS varchar(40)) AS c, lower(i) AS d FROM x",
    "SELECT id_number FROM near_source.cbs_customer UNION ALL SELECT account_id FROM near_source.cbs_account",
    "SELECT * FROM governance.quarantine_cbs_customer",
    "SELECT * FROM governance.admission_log",
    "SELECT * FROM governance.quality_samples",
]
READS_BASE_TABLES = (0, 1, 2)
"""The queries over near-source tables (the rest read governance records, masked when written)."""
EXPORTED = (0, 1, 2)
REPORT_TABLE = "governance.quality_results"


@dataclass(frozen=True)
class Protected:
    table: str
    column: str
    level: int


@pytest.fixture(scope="module")
def secured(tmp_path_factory, engine, registered_root):
    """cbs.customer loaded with a malformed line; cbs.account rejected for a duplicate key."""
    folder = copy_project(tmp_path_factory.mktemp("matrix"))
    shutil.copytree(registered_root, folder / ROOT)
    lh = open_project(folder, engine)
    customers = lh.contract("cbs.customer")
    path = write_delivery(customers, lh.settings.landing, D1, PEOPLE)
    fields = [UNREADABLE["customer_id"], UNREADABLE["customer_name"], UNREADABLE["id_number"],
              UNREADABLE["mobile"], "B0101", "2020-02-30"]  # no such date
    with path.open("a", encoding="utf-8") as out:
        out.write("|".join(fields) + "\n")
    write_control(customers, lh.settings.landing, D1, PEOPLE, row_count=len(PEOPLE) + 1)
    accounts = [account(ACCOUNT_NO), account(ACCOUNT_NO, "200.00")]
    write_delivery(lh.contract("cbs.account"), lh.settings.landing, D1, accounts)
    summary = lh.run(D1, ["cbs.customer", "cbs.account"])
    outcome = {r.source: r for r in summary.results}
    assert outcome["cbs.customer"].status == "succeeded", outcome["cbs.customer"].message
    assert outcome["cbs.customer"].rows_quarantined == 1
    assert outcome["cbs.account"].status != "succeeded"
    return lh, "\n".join(str(r.message) for r in summary.results)


def protected(lh) -> dict[str, Protected]:
    levels = table_levels(lh.project)
    values = {}
    for person in [*PEOPLE, UNREADABLE]:
        for column in ("customer_name", "id_number", "mobile"):
            table = "near_source.cbs_customer"
            values[person[column]] = Protected(table, column, levels[table][column])
    values[ACCOUNT_NO] = Protected("near_source.cbs_account", "account_id",
                                   levels["near_source.cbs_account"]["account_id"])
    assert all(p.level >= 3 for p in values.values())
    return values


def entry_points(lh, folder: Path, report: str) -> dict[str, str]:
    """Everything each entry point gives ``lh``'s principal, as text (a refusal's message too);
    ``report``: the quality report and Data Docs as a principal allowed to read them sees them
    (the same for every such principal, so built once)."""
    seen: dict[str, str] = {}

    def attempt(name: str, read) -> None:
        try:
            seen[name] = str(read())
        except LakehouseError as refusal:
            seen[name] = refusal.render()

    for number, sql in enumerate(QUERIES):
        attempt(f"query {number}", lambda: lh.query(sql, limit=None))
        if number in EXPORTED:
            target = folder / f"export_{number}.csv"

            def export(target=target):
                lh.export(sql, target)
                return target.read_text(encoding="utf-8")

            attempt(f"export {number}", export)
    try:
        lh.clearance.require("query", "read the quality reports", lh.project, REPORT_TABLE)
        seen["quality report and Data Docs"] = report
    except LakehouseError as refusal:
        seen["quality report and Data Docs"] = refusal.render()
    attempt("catalog", lambda: lh.search("客户"))
    attempt("audit", lambda: [r.as_row() for r in lh.audit_records()])
    return seen


@pytest.fixture(scope="module")
def report(secured) -> str:
    """The quality report of D1 (HTML, scorecard, failing results) and every Data Docs file."""
    lh, _ = secured
    result = lh.quality_report(D1)
    docs = lh.project.reports_dir / "data_docs"
    assert Path(result.data_docs).is_relative_to(docs)
    pages = [p.read_text(encoding="utf-8", errors="replace") for p in docs.rglob("*") if p.is_file()]
    assert pages, "no Data Docs written"
    return "\n".join([Path(result.html).read_text(encoding="utf-8"), repr(result), *pages])


@pytest.mark.parametrize("principal", [
    PRINCIPALS[0], *(pytest.param(p, marks=pytest.mark.slow) for p in PRINCIPALS[1:])])
def test_no_level_3_value_reaches_a_principal_without_clearance(secured, report, principal, tmp_path):
    lh, run_messages = secured
    values = protected(lh)
    acting = lh.as_principal(principal)
    clearance = acting.clearance
    seen = entry_points(acting, tmp_path, report)
    seen["load messages"] = run_messages
    for entry, text in seen.items():
        for value, where in values.items():
            in_clear = (clearance.access(where.table, where.level) == "clear"
                        and entry.split()[-1] in map(str, READS_BASE_TABLES))
            if not in_clear:
                assert value not in text, (f"{principal} sees {where.table}.{where.column} "
                                           f"(level {where.level}) in clear through {entry}")
    if principal == "li.na":  # the check can fail: a steward sees level 3-4 values in clear
        assert PEOPLE[0]["id_number"] in seen["query 0"] and PEOPLE[1]["mobile"] in seen["export 0"]


def test_the_leak_scan_finds_a_value_planted_in_clear_and_names_it_masked(secured, tmp_path):
    lh, _ = secured
    auditor = lh.as_principal("sun.li")
    clean = auditor.scan_for_leaks([tmp_path])
    assert clean.clean, [leak.render() for leak in clean.leaks]
    assert "governance.quarantine_cbs_customer" in clean.tables and clean.values >= 6

    mobile, id_number = PEOPLE[0]["mobile"], PEOPLE[1]["id_number"]
    (tmp_path / "task.log").write_text(f"ok\nretrying customer {id_number}\n", encoding="utf-8")
    store = lh.store
    store.append([AdmissionLogRecord.of(
        run_id="planted", source="cbs.customer", data_date=D1, file_name=None, contract_hash=None,
        registration_version=None, decision="rejected", check_order=5, check_name="quality",
        status="failed", evidence=f'{{"mobile": "{mobile}"}}', problems=[], decided_at=None)])
    found = auditor.scan_for_leaks([tmp_path])
    rendered = "\n".join(leak.render() for leak in found.leaks)
    assert mobile not in rendered and id_number not in rendered
    assert {(leak.where, leak.locator.split(" column ")[-1], leak.belongs_to) for leak in found.leaks
            if leak.where.startswith("governance")} == {
        ("governance.admission_log", "evidence", "near_source.cbs_customer.mobile (level 3)")}
    assert [(leak.locator, leak.masked) for leak in found.leaks if leak.where.endswith("task.log")] == [
        ("line 2", id_number[:3] + "*" * 11 + id_number[-4:])]

    with pytest.raises(LakehouseError, match="audit"):
        lh.as_principal("local.dev").scan_for_leaks([tmp_path])
