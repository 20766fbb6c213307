"""The demo bank through every layer: marts checked against values computed independently from
the generated extracts, planted defects caught, promotion gating, lineage and retention."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.security.keys import default_key_file, key_provider
from lakehouse.security.pseudonyms import pseudonym
from lakehouse.standards.formats import is_valid_id_number
from tests.conftest import ROOT, copy_project, open_project

pytestmark = pytest.mark.slow

START = date(2026, 11, 1)
DAYS = 3
D1, D2, D3 = (START + timedelta(days=i) for i in range(DAYS))
DEFECT_KINDS = {"null", "invalid_id", "duplicate_key", "orphan_key", "late_file", "malformed_row"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, engine, registered_root):
    """One small demo run (120 customers, 3 dates, defects planted), shared by the tests here,
    on a copy of the registered root (the run's own registration finds nothing to change).
    The common layer's retention is cut to 2 days so that the run removes a snapshot."""
    from lakehouse.demo.run import LOG_FILE, demo_log, run_batches

    base = copy_project(tmp_path_factory.mktemp("demo"))
    common = base / "layers" / "common" / "com_party_balance_daily.yaml"
    common.write_text(re.sub(r"retention_days: \d+", "retention_days: 2", common.read_text()))
    shutil.copytree(registered_root, base / ROOT)
    lh = open_project(base, engine)
    with demo_log(lh.project.reports_dir / LOG_FILE):
        outcome = run_batches(lh, customers=120, days=DAYS, start=START, seed=3, defect_rate=0.002)
    return lh, outcome


KEYS = key_provider(default_key_file())
"""The tests' key (tests/conftest.py: $LAKEHOUSE_KEY_FILE), which the project's settings name."""


def party_id(id_number: str) -> str:
    return "P" + pseudonym(id_number, KEYS)[:15]


def rows_of(lh, table: str, day: date) -> dict[str, dict]:
    return {r["party_id"]: r for r in lh.as_service().query(  # every column in clear
        f"SELECT * FROM {table} WHERE data_date = DATE'{day}'", limit=100_000)}


# -- an independent oracle: plain Python over the records as delivered -------------------------
def parties_on(delivered: dict) -> dict[str, dict]:
    """party id -> {customer, open cards} from one date's delivered customers and cards."""
    parties: dict[str, dict] = {}
    for customer in delivered["cbs.customer"]:
        parties.setdefault(party_id(customer["id_number"]), {"customer": customer})
    cards = defaultdict(list)
    for card in delivered["ccs.card"]:
        cards[card["id_number"]].append(card)
    for id_number, held in cards.items():
        pid = party_id(id_number)
        open_cards = [c for c in held if c["card_status"] != "C"]
        if pid in parties or open_cards:
            entry = parties.setdefault(pid, {"customer": None})
            entry["first_issue"] = min(c["issue_date"] for c in held)
    return parties


def deposits_on(delivered: dict) -> dict[str, Decimal]:
    """party id -> CNY deposit balance, from one date's delivered accounts and customers."""
    party_of = {c["customer_id"]: party_id(c["id_number"]) for c in delivered["cbs.customer"]}
    balances: dict[str, Decimal] = defaultdict(Decimal)
    for account in delivered["cbs.account"]:
        pid = party_of.get(account["customer_id"])
        if pid and account["currency"] == "CNY":
            balances[pid] += account["balance"]
    return balances


def events_by_party(delivered_by_date: dict, until: date) -> dict[str, list[tuple[date, str, Decimal]]]:
    """party id -> (date, direction, amount) of every CNY deposit and card transaction up to
    ``until``, each tied to its party through the accounts and cards delivered that day."""
    events = defaultdict(list)
    for day, delivered in sorted(delivered_by_date.items()):
        if day > until:
            continue
        party_of_customer = {c["customer_id"]: party_id(c["id_number"]) for c in delivered["cbs.customer"]}
        accounts = {a["account_id"]: a for a in delivered["cbs.account"] if a["customer_id"] is not None}
        cards = {c["card_no"]: party_id(c["id_number"]) for c in delivered["ccs.card"]}
        for txn in delivered["cbs.transaction"]:
            account = accounts.get(txn["account_id"])
            pid = party_of_customer.get(account["customer_id"]) if account else None
            if pid and account["currency"] == "CNY":
                events[pid].append((txn["txn_time"].date(), txn["direction"], txn["amount"]))
        for txn in delivered["ccs.card_txn"]:
            pid = cards.get(txn["card_no"])
            if pid:
                events[pid].append((txn["txn_time"].date(), txn["direction"], txn["amount"]))
    return events


def rfm(events: list, day: date, params: dict) -> tuple[int, int, int, str]:
    """The RFM scores and segment of mart_customer_label, recomputed."""
    recent = [e for e in events if e[0] > day - timedelta(days=params["window_days"])]
    last = max((e[0] for e in recent), default=None)
    frequency = len(recent)
    monetary = sum((e[2] for e in recent if e[1] == "D"), Decimal(0))
    days_since = (day - last).days if last else None
    r = 1 if last is None else 3 if days_since < params["recent_days"] else \
        2 if days_since < params["active_days"] else 1
    f = 3 if frequency >= params["frequent_txns"] else 2 if frequency >= params["regular_txns"] else 1
    m = 3 if monetary >= params["high_value"] else 2 if monetary >= params["mid_value"] else 1
    segment = ("champion" if r == 3 and f >= 2 and m == 3 else "loyal" if r >= 2 and f >= 2 else
               "promising" if r == 3 else "at_risk" if r == 1 and (f >= 2 or m >= 2) else
               "hibernating" if r == 1 else "needs_attention")
    return r, f, m, segment


# -- the tests -----------------------------------------------------------------------------------
def test_customer_360_matches_the_extracts(demo):
    lh, outcome = demo
    delivered = outcome.delivered[D3]
    expected = parties_on(delivered)
    got = rows_of(lh, "mart.mart_customer_360", D3)
    assert set(got) == set(expected)
    depositors = {pid for pid, p in expected.items() if p["customer"] is not None}
    assert {pid for pid, r in got.items() if r["is_depositor"]} == depositors
    balances = deposits_on(delivered)
    assert {pid: r["deposit_balance_cny"] for pid, r in got.items()} == \
        {pid: balances.get(pid, Decimal("0.00")) for pid in expected}
    richest = max(balances, key=balances.get)
    customer = expected[richest]["customer"]
    assert got[richest]["party_name"] == customer["customer_name"]
    assert got[richest]["cbs_customer_id"] == customer["customer_id"]
    assert got[richest]["total_assets_cny"] == balances[richest] > 0


def test_rfm_segments_and_lifecycle_match_the_extracts(demo):
    lh, outcome = demo
    params = dict(lh.project.models["mart_customer_label"].params)
    events = events_by_party(outcome.delivered, D3)
    expected_parties = parties_on(outcome.delivered[D3])
    balances = deposits_on(outcome.delivered[D3])
    labels = rows_of(lh, "mart.mart_customer_label", D3)
    assert set(labels) == set(expected_parties)
    segments = set()
    for pid, row in labels.items():
        r, f, m, segment = rfm(events.get(pid, []), D3, params)
        assert (row["r_score"], row["f_score"], row["m_score"], row["rfm_segment"]) == (r, f, m, segment), pid
        segments.add(segment)
        party = expected_parties[pid]
        starts = [d for d in (party["customer"] and party["customer"]["open_date"],
                              party.get("first_issue")) if d]
        stage = ("new" if (D3 - min(starts)).days < params["new_days"] else
                 "dormant" if not [e for e in events.get(pid, [])
                                   if e[0] > D3 - timedelta(days=params["window_days"])] else
                 "mature" if balances.get(pid, 0) >= params["mature_assets"] else "growing")
        assert row["lifecycle_stage"] == stage, pid
    assert len(segments) >= 2  # the data is varied enough to tell segments apart


# what each kind of planted defect must leave in the governance tables (dimension of the failed
# rule for row-level and file-level defects; see the quality rules and contracts under conf/)
FAILED_DIMENSION = {"null": "completeness", "invalid_id": "validity", "orphan_key": "consistency",
                    "late_file": "timeliness"}


def rules_on(lh, table: str, column: str) -> set[str]:
    """Names of the rules about ``column``: derived ones (``column.check``) and the declared
    reference rules of quality_rules/<table>.yaml that look ``column`` up."""
    from lakehouse.config.quality_rules import ReferenceRule

    declared = lh.project.quality_rules.get(table)
    references = {r.name for r in (declared.rules if declared else [])
                  if isinstance(r, ReferenceRule) and column in r.reference.columns}
    return references | {f"{column}.{check}" for check in ("not_null", "domain", "length")}


def test_every_planted_defect_class_is_caught(demo):
    lh, outcome = demo
    assert {d.kind for d in outcome.planted} == DEFECT_KINDS
    failed = lh.engine.rows(governance.quality_results(lh.root), where(success=False))
    admission = lh.engine.rows(governance.admission_log(lh.root), where(check_name="quality", status="failed"))
    planted: dict[tuple, int] = defaultdict(int)
    for d in outcome.planted:
        planted[d.kind, d.source, d.data_date, d.column] += 1
    missed = []
    for (kind, source, day, column), count in planted.items():
        table = lh.contract(source).table_name
        if kind == "duplicate_key":
            caught = any(r["source"] == source and r["data_date"] == day and r["decision"] == "rejected"
                         for r in admission)
        elif kind == "malformed_row":
            lines = {r["line"] for r in lh.engine.rows(governance.quarantine(lh.root, table),
                                                       where(data_date=day, stage="parse"))}
            caught = {d.line for d in outcome.planted
                      if (d.kind, d.source, d.data_date) == (kind, source, day)} <= lines
        else:
            rules = [r for r in failed if r["source"] == source and r["data_date"] == day
                     and r["dimension"] == FAILED_DIMENSION[kind]
                     and (column is None or r["rule"] in rules_on(lh, table, column))]
            caught = bool(rules) and (kind == "late_file" or
                                      sum(r["unexpected_count"] or 0 for r in rules) >= count)
            if kind == "null" and caught:  # not-null rules drop the row: it is held back, masked
                held = lh.engine.count(governance.quarantine(lh.root, table),
                                       where(data_date=day, stage="quality"))
                caught = held >= count
        if not caught:
            missed.append((kind, source, str(day), column, count))
    assert not missed


def test_a_rejected_source_stops_its_downstream_models_for_that_date(demo):
    lh, outcome = demo
    rejected = [(r.source, s.data_date) for s in outcome.loads for r in s.results if r.status != "succeeded"]
    assert rejected == [("lns.repayment_schedule", D2)]
    by_date = {s.data_date: {r.model: r for r in s.results} for s in outcome.layers}
    assert all(r.ok for r in by_date[D1].values()) and all(r.ok for r in by_date[D3].values())
    day2 = by_date[D2]
    assert day2["mart_risk_warning"].status == "skipped"
    assert day2["mart_risk_warning"].blocked_by == ["lns.repayment_schedule"]
    assert "lns.repayment_schedule failed for 2026-11-02" in day2["mart_risk_warning"].reason
    assert day2["mart_customer_360"].status == "skipped"
    assert day2["mart_customer_360"].blocked_by == ["mart_risk_warning"]
    assert day2["mart_customer_label"].ok and day2["pty_party"].ok
    runs = lh.engine.rows(governance.model_runs(lh.root), where(data_date=D2, status="skipped"))
    assert {r["model"] for r in runs} == {"mart_risk_warning", "mart_customer_360"}
    mart_360 = next(s for s in lh.tables() if s.name == "mart_customer_360")
    assert not lh.engine.has_rows(mart_360, where(data_date=D2))


def test_lineage_and_security_levels_of_the_models(demo):
    lh, _ = demo
    lineage = lh.engine.rows(governance.lineage(lh.root))
    declared = {(r["table_name"], r["input_table"]) for r in lineage if r["column_name"] is None}
    assert ("mart.mart_customer_360", "integrated.pty_party") in declared
    assert ("integrated.evt_transaction", "near_source.ccs_card_txn") in declared
    parsed = {(r["table_name"], r["column_name"], r["input_table"], r["input_column"])
              for r in lineage if r["derived_by"] == "parsed"}
    assert ("integrated.pty_party", "party_name", "near_source.cbs_customer", "customer_name") in parsed
    assert ("integrated.pty_party", "party_name", "near_source.ccs_card", "holder_name") in parsed
    assert ("integrated.pty_party", "party_id", "near_source.cbs_customer", "id_number") in parsed
    assert ("common.com_party_balance_daily", "deposit_balance_cny", "near_source.cbs_account",
            "balance") in parsed
    spec = next(s for s in lh.tables() if s.name == "mart_customer_360")
    properties = lh.engine.table_layout(spec).properties
    # its highest column level: name and mobile (3); party_id is a keyed pseudonym (2)
    assert properties["lakehouse.security_level"] == "3"
    assert set(properties["lakehouse.owner"].split(",")) >= {"li.na", "wang.fang", "chen.jie"}


def test_common_snapshots_past_retention_are_removed_and_recorded(demo):
    lh, _ = demo
    spec = next(s for s in lh.tables() if s.name == "com_party_balance_daily")
    kept = {r["data_date"] for r in lh.query(f"SELECT DISTINCT data_date FROM {spec.qualified_name}")}
    assert kept == {D2, D3}
    removed = lh.engine.rows(governance.retention_log(lh.root))
    assert [(r["table_name"], r["data_date"], r["retention_days"]) for r in removed] == \
        [("common.com_party_balance_daily", D1, 2)]
    assert removed[0]["rows"] > 0


def test_rebuilding_a_date_changes_nothing(demo):
    lh, _ = demo
    party = next(s for s in lh.tables() if s.name == "pty_party")
    before_party = sorted(map(str, lh.engine.rows(party)))
    before_360 = rows_of(lh, "mart.mart_customer_360", D3)
    summary = lh.build_layers(D3, ["pty_party", "mart_customer_360"])
    assert summary.ok
    assert sorted(map(str, lh.engine.rows(party))) == before_party
    assert rows_of(lh, "mart.mart_customer_360", D3) == before_360


def test_a_failing_model_keeps_its_table_and_says_why(demo):
    lh, _ = demo
    spec = next(s for s in lh.tables() if s.name == "prd_product")
    version = lh.engine.version(spec)
    model = lh.project.models["prd_product"]
    try:
        lh.project.models["prd_product"] = model.model_copy(update={"sql": model.sql + (
            " UNION ALL SELECT product_code, product_name, product_type, currency FROM ref_product")})
        [repeated] = lh.build_layers(D3, ["prd_product"]).results
        lh.project.models["prd_product"] = model.model_copy(update={"sql": model.sql.replace(
            "currency FROM", "currency_code FROM")})
        [broken] = lh.build_layers(D3, ["prd_product"]).results
    finally:
        lh.project.models["prd_product"] = model
    assert repeated.status == "failed" and "returned 5+ repeated and 0 null keys" in repeated.reason
    assert "group or deduplicate the query by its keys" in repeated.reason
    assert broken.status == "failed" and broken.reason.startswith(str(lh.project.layers_dir))
    assert "currency_code" in broken.reason
    assert lh.engine.version(spec) == version  # the table was not touched
    runs = lh.engine.rows(governance.model_runs(lh.root), where(model="prd_product", status="failed"))
    assert len(runs) == 2


def test_two_principals_see_the_same_customer_360_row_differently(demo):
    from lakehouse.demo.run import _same_row

    lh, outcome = demo
    cells = {c.header: c._cells for c in _same_row(lh, outcome.dates[-1]).columns}
    assert cells["principal (roles)"] == ["li.na (data_steward)", "app.customer_desk (customer_service)"]
    steward_mobile, desk_mobile = cells["mobile"]
    assert re.fullmatch(r"1\d{10}", steward_mobile) and desk_mobile == steward_mobile[:3] + "****" + steward_mobile[-4:]
    steward_name, desk_name = cells["party_name"]
    assert "*" not in steward_name and desk_name == steward_name[0] + "*" * (len(steward_name) - 1)
    assert cells["age"][0] == cells["age"][1]  # declassified to level 2: in clear for both
    steward_assets, desk_assets = cells["total_assets_cny"]  # level 3: clear to a steward only
    assert "*" not in steward_assets and "*" in desk_assets and desk_assets != steward_assets


def test_model_tables_are_in_the_catalog_with_their_column_levels(demo):
    from lakehouse.governance.records import CatalogRecord

    lh, _ = demo
    rows = {r.column_name: r for r in lh.store.read(CatalogRecord, where(table_name="mart.mart_customer_360"))}
    assert rows[None].security_level == 3 and rows[None].name_en == "Customer 360 view"
    assert {c: rows[c].security_level for c in ("party_id", "party_name", "mobile", "age", "branch_name")} == {
        "party_id": 2, "party_name": 3, "mobile": 3, "age": 2, "branch_name": 1}  # party_id: a keyed pseudonym
    assert rows["mtd_inflow"].description == "本月收入 / month-to-date inflows (income)"


def test_after_the_demo_no_protected_value_is_in_clear_in_records_reports_or_log(demo):
    """Every governance and quarantine table, the quality report, Data Docs and the run's log."""
    lh, outcome = demo
    lh.quality_report(outcome.dates[-1])
    report = lh.as_principal("sun.li").scan_for_leaks()
    assert report.clean, "\n".join(leak.render() for leak in report.leaks)
    log = lh.project.reports_dir / "demo.log"
    assert str(log) in report.files and "refused admission" in log.read_text(encoding="utf-8")
    assert any(name.startswith("governance.quarantine_") for name in report.tables)
    assert report.values > 1000  # names, ID numbers, mobiles, card and account numbers, amounts


JOINS = {
    "cards of customers": "{ccs_card} c JOIN {cbs_customer} k ON c.id_number = k.id_number",
    "accounts of customers": "{cbs_account} a JOIN {cbs_customer} k ON a.customer_id = k.customer_id",
    "loans of customers": "{lns_loan} l JOIN {cbs_customer} k ON l.customer_id = k.customer_id",
    "transactions of accounts": "{cbs_transaction} t JOIN {cbs_account} a ON t.account_id = a.account_id",
    "card transactions of cards": "{ccs_card_txn} t JOIN {ccs_card} c ON t.card_no = c.card_no",
    "360 of parties": "{mart_customer_360} m JOIN {pty_party} p ON m.party_id = p.party_id",
    "transactions of agreements": "{evt_transaction} e JOIN {agt_agreement} a "
                                  "ON e.agreement_id = a.agreement_id",
}


def test_a_deidentified_copy_holds_no_source_identifier_and_joins_and_measures_alike(demo, tmp_path):
    from lakehouse.quality.assessment import table_rules
    from lakehouse.quality.rule_sql import fails_sql

    lh, _ = demo
    report = lh.deidentify(tmp_path / "copy")
    assert report.clean, report.findings
    assert report.values_scanned > 500  # ID numbers, card, account, customer and loan numbers, mobiles
    tables = {t.spec.name: t for t in report.tables}
    assert {"cbs_customer", "ccs_card", "pty_party", "mart_customer_360"} <= set(tables)
    for table in report.tables:
        assert table.rows == lh.engine.count(table.spec), table.spec.name
    source = {name: f"delta.`{t.spec.path}`" for name, t in tables.items()}
    copied = {name: f"delta.`{t.target}`" for name, t in tables.items()}

    def values(where: dict, table: str, column: str) -> set:
        return {r["v"] for r in lh.engine.sql(f"SELECT DISTINCT {column} AS v FROM {where[table]}")}

    for table, column in (("cbs_customer", "id_number"), ("cbs_customer", "mobile"),
                          ("ccs_card", "card_no"), ("pty_party", "id_number")):
        before, after = values(source, table, column), values(copied, table, column)
        assert len(before) == len(after) and not (before - {None}) & after, (table, column)
    assert all(is_valid_id_number(v) for v in values(copied, "cbs_customer", "id_number") if v)
    for name, join in JOINS.items():
        count = "SELECT count(*) AS n FROM " + join
        assert lh.engine.sql(count.format(**source)) == lh.engine.sql(count.format(**copied)), name

    measured = 0
    for contract in lh.project.sources.values():
        for rule in (r for r in table_rules(lh.project, contract) if r.row_level):
            condition = fails_sql(rule)
            if "__ref_" in condition or "_received_at" in condition:
                continue  # reference rules need their lookups: the joins above stand for them
            def failing(table: str) -> list[dict]:  # the condition may hold braces (patterns)
                return lh.engine.sql(f"SELECT count_if(f) AS n FROM (SELECT ({condition}) AS f "
                                     f"FROM {table})")

            table = contract.table_name
            assert failing(source[table]) == failing(copied[table]), rule.name
            measured += 1
    assert measured > 50
    audited = lh.as_principal("sun.li").audit_records()
    assert any(r.operation == "deidentify" and r.rows_returned == sum(t.rows for t in report.tables)
               for r in audited)
