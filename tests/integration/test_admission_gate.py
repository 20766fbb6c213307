"""The admission gate end to end: decisions recorded, refused deliveries stay in raw, registrations
versioned, the table evolved, the catalog searchable."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from lakehouse.cli import commands as cli
from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.api import Lakehouse

from .test_near_source_loads import customer, deliver

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def decisions(lh, source, data_date):
    rows = lh.engine.rows(governance.admission_log(lh.root),
                          where(source=source, data_date=data_date),
                          order_by=["decided_at", "check_order"])
    return [(r["decision"], r["check_name"], r["status"]) for r in rows]


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.slow  # two loads and a refused one; the source check itself: tests/unit/test_admission.py
def test_a_decertified_system_has_its_next_delivery_refused_with_nothing_loaded_past_raw(lakehouse):
    lh = lakehouse
    deliver(lh, "cbs.customer", D1, [customer("C0000000001"), customer("C0000000002")])
    assert lh.run(D1, ["cbs.customer"]).ok
    spec = lh.table("cbs.customer")
    version = lh.engine.version(spec)

    event = lh.decertify("cbs", "merged", effective=D2, replaced_by="ccs", by="zhao.min",
                         note="并入新核心 / merged into the new core")
    assert event["replaced_by"] == "ccs"
    systems_yaml = (lh.conf_dir / "systems.yaml").read_text(encoding="utf-8")
    assert systems_yaml.startswith("# Source systems")  # comments kept, history appended
    assert "event: decertified" in systems_yaml and "event: certified" in systems_yaml
    assert not lh.project.systems["cbs"].certified_on(D2)
    assert lh.project.systems["cbs"].certified_on(D1)

    deliver(lh, "cbs.customer", D2, [customer("C0000000001", mobile="13900000009")])
    [result] = lh.run(D2, ["cbs.customer"]).results
    assert result.status == "failed"
    assert result.message.startswith(f"delivery {result.file} for cbs.customer on 2026-11-02 was "
                                      "refused admission: source check failed")
    assert ("system cbs (核心银行系统) was decertified on 2026-11-02 (merged) and may not deliver "
            "data for 2026-11-02; it is replaced by ccs (信用卡系统)") in result.message
    assert "register the contract as sources/ccs/customer.yaml" in result.message

    assert lh.engine.version(spec) == version  # nothing loaded past raw ...
    assert lh.engine.count(spec, where(start_dt=date(2026, 11, 2))) == 0
    landed = lh.engine.rows(governance.raw_manifest(lh.root), where(data_date=date(2026, 11, 2)))
    assert [(r["source"], r["role"]) for r in landed] == [("cbs.customer", "data"),
                                                          ("cbs.customer", "control")]  # ... kept raw
    assert decisions(lh, "cbs.customer", D2) == [
        ("rejected", check, "failed" if check == "source" else "passed")
        for check in ("owner", "standard", "source", "classification", "quality", "metadata")]
    [source_row] = lh.engine.rows(governance.admission_log(lh.root),
                                  where(data_date=date(2026, 11, 2), check_name="source"))
    assert json.loads(source_row["evidence"])["replaced_by"] == "ccs"
    assert "decertified on 2026-11-02" in source_row["problems"][0]["message"]
    [recorded] = lh.engine.rows(governance.system_events(lh.root))
    assert (recorded["system"], recorded["event"], recorded["effective_date"], recorded["reason"],
            recorded["replaced_by"], recorded["decided_by"]) == ("cbs", "decertified", D2, "merged",
                                                                 "ccs", "zhao.min")

    # the earlier date was delivered while certified: a rerun is still admitted
    assert lh.run(D1, ["cbs.customer"]).ok
    assert decisions(lh, "cbs.customer", D1)[-1] == ("admitted", "metadata", "passed")


def test_an_unregistered_contract_is_refused_by_the_metadata_check(unregistered):
    lh = unregistered
    deliver(lh, "cbs.customer", D1, [customer("C0000000001")])
    [result] = lh.run(D1, ["cbs.customer"]).results
    assert result.status == "failed"
    assert "refused admission: metadata check failed" in result.message
    assert "cbs.customer is not registered, so its metadata is not in the catalog" in result.message
    assert "run `lakehouse source register" in result.message
    assert not lh.engine.table_exists(lh.table("cbs.customer"))
    assert ("rejected", "metadata", "failed") in decisions(lh, "cbs.customer", D1)


def test_quality_is_measured_and_published_without_blocking(lakehouse, capsys, monkeypatch):
    lh = lakehouse
    bad_id = customer("C0000000002")
    bad_id["id_number"] = "110105194912310021"  # wrong check digit
    bad_mobile = customer("C3", mobile="12345", name="张" * 31)  # id, mobile, name too long
    deliver(lh, "cbs.customer", D1, [customer("C0000000001"), bad_id, bad_mobile])
    [result] = lh.run(D1, ["cbs.customer"]).results
    assert result.status == "succeeded", result.message
    assert result.rows_loaded == 3  # admission measures, it does not clean

    [quality] = lh.engine.rows(governance.admission_log(lh.root), where(check_name="quality"))
    evidence = json.loads(quality["evidence"])
    assert quality["decision"] == "admitted" and quality["status"] == "passed"
    assert evidence["rows_in"] == 3
    failed = {f["rule"]: (f["dimension"], f["unexpected"], f["checked"]) for f in evidence["failed_rules"]
              if f["rule"] != "delivery.on_time"}  # delivered today, for a past data date
    assert failed == {"customer_id.domain": ("validity", 1, 3), "id_number.domain": ("validity", 1, 3),
                      "mobile.domain": ("validity", 1, 3), "customer_name.length": ("validity", 1, 3)}
    assert evidence["scores"]["uniqueness"] == 100 and evidence["scores"]["accuracy"] == 100
    [published] = [m for m in lh.engine.delta.commit_metadata(lh.table("cbs.customer").path)
                   if m.get("data_date") == "2026-11-01"]
    assert published["admission"] == evidence  # published with the data, in the load's commit

    decision = lh.check_source("cbs.customer", D1)
    assert decision.admitted and decision.registration_version == 1
    cli.print_checks(decision)
    out = capsys.readouterr().out
    assert "admission of cbs.customer for 2026-11-01 (registered version 1)" in out
    assert ("validity: 86.7; failed: customer_id.domain (warn, 1 of 3 rows), customer_name.length "
            "(warn, 1 of 3 rows), id_number.domain (warn, 1 of 3 rows), mobile.domain (warn, 1 of 3 "
            "rows)") in out


@pytest.mark.slow  # three registrations and two loads around a schema evolution
def test_a_contract_change_creates_a_new_registration_version_and_evolves_the_table(lakehouse, engine):
    lh = lakehouse
    deliver(lh, "cbs.customer", D1, [customer("C0000000001"), customer("C0000000002")])
    assert lh.run(D1, ["cbs.customer"]).ok
    contract_file = lh.contract("cbs.customer").source_file
    edit(contract_file, "  - name: open_date\n", "  - name: referral_branch_id\n    type: string\n"
         "    business_name: {zh: 推荐机构号, en: Referral branch ID}\n    security_level: 1\n"
         "    standard: DS-ORG-0001\n  - name: open_date\n")
    lh = Lakehouse(lh.conf_dir, engine=engine)
    [result] = lh.register(contract_file, by="li.na", reason="referral programme")
    assert (result.status, result.version) == ("registered", 2)
    assert result.changes == ["added column referral_branch_id string"]
    assert [r.status for r in lh.register(contract_file)] == ["unchanged"]

    versions = lh.engine.rows(governance.registrations(lh.root), where(source="cbs.customer"),
                              order_by=["version"])
    assert [(v["version"], v["registered_by"]) for v in versions] == [(1, "test"), (2, "li.na")]
    assert "referral_branch_id" not in versions[0]["contract_yaml"]  # earlier versions stay
    assert "referral_branch_id" in versions[1]["contract_yaml"]
    assert versions[0]["content_hash"] != versions[1]["content_hash"]
    layout = lh.engine.table_layout(lh.table("cbs.customer"))
    assert list(layout.types)[:7] == ["customer_id", "customer_name", "id_number", "mobile",
                                      "branch_id", "referral_branch_id", "open_date"]
    assert layout.comments["referral_branch_id"].startswith("推荐机构号 / Referral branch ID")

    # the same customers with the new column still empty: no spurious new versions
    deliver(lh, "cbs.customer", D2, [{**customer(c), "referral_branch_id": None}
                                     for c in ("C0000000001", "C0000000002")])
    assert lh.run(D2, ["cbs.customer"]).ok
    assert lh.engine.count(lh.table("cbs.customer")) == 2

    # incompatible: an attribute removed
    edit(contract_file, "  - name: mobile\n    type: string\n", "  - name: mobile_phone\n    type: string\n")
    lh = Lakehouse(lh.conf_dir, engine=engine)
    [refused] = lh.register(contract_file)
    assert refused.status == "refused"
    assert ("column 'mobile' of near_source.cbs_customer is not in the contract; removing or renaming "
            "a column would lose its history") in refused.error.render()
    assert lh.engine.table_layout(lh.table("cbs.customer")).types.get("mobile_phone") is None


def test_security_level_changes_need_a_reason_and_are_recorded(lakehouse, engine):
    lh = lakehouse
    contract_file = lh.contract("cbs.customer").source_file
    edit(contract_file, "    security_level: 4\n", "    security_level: 5\n")
    lh = Lakehouse(lh.conf_dir, engine=engine)
    [refused] = lh.register(contract_file, by="li.na")
    assert refused.status == "refused"
    assert "security levels change (id_number 4 -> 5, table 4 -> 5); a level change must be " \
           "recorded with its reason" in refused.error.render()

    [done] = lh.register(contract_file, by="li.na", reason="监管检查要求 / regulator's finding")
    assert done.version == 2
    changes = lh.engine.rows(governance.level_changes(lh.root), order_by=["column_name"])
    assert [(c["column_name"], c["old_level"], c["new_level"], c["direction"], c["changed_by"],
             c["reason"]) for c in changes] == [
        (None, 4, 5, "raised", "li.na", "监管检查要求 / regulator's finding"),
        ("id_number", 4, 5, "raised", "li.na", "监管检查要求 / regulator's finding")]
    layout = lh.engine.table_layout(lh.table("cbs.customer"))
    assert layout.properties["lakehouse.security_level"] == "5"
    assert "[level 5," in layout.comments["id_number"]


def test_catalog_search_finds_columns_by_business_meaning_in_chinese_and_english(lakehouse):
    lh = lakehouse
    found = [(r["table_name"], r["column_name"]) for r in lh.search("客户号")]
    assert found == [("near_source.cbs_account", "customer_id"), ("near_source.cbs_customer", "customer_id"),
                     ("near_source.lns_loan", "customer_id")]
    english = lh.search("customer id")
    assert {(r["table_name"], r["column_name"]) for r in english} >= set(found)
    first = english[0]
    assert (first["owner"], first["owner_name"], first["security_level"], first["standard_id"]) == (
        "li.na", "李娜", 2, "DS-PTY-0001")
    card = lh.search("信用卡")
    assert (card[0]["table_name"], card[0]["column_name"]) == ("near_source.ccs_card", None)
    assert lh.search("身份证")[0]["standard_id"] == "DS-PTY-0003"
    assert lh.search("no such thing") == []


def test_cli_lists_sources_and_searches_the_catalog(lakehouse, monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.setattr(cli, "_lakehouse", lambda conf: lakehouse)
    edit(lakehouse.contract("ccs.card").source_file, "    security_level: 1\n", "    security_level: 2\n")
    lakehouse.project = Lakehouse(lakehouse.conf_dir, engine=lakehouse.engine).project
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["source", "list"])
    assert listed.exit_code == 0, listed.output
    lines = {line.split("│")[1].strip(): line for line in listed.output.splitlines() if "│" in line}
    assert "li.na" in lines["cbs.customer"] and "registered" in lines["cbs.customer"]
    assert "changed or unregistered" in lines["ccs.card"]  # edited since registration

    found = runner.invoke(cli.app, ["catalog", "search", "Card number"])
    assert found.exit_code == 0, found.output
    assert re.search(r"near_source\.ccs_card +│ card_no", found.output) and "DS-AGT-0101 卡号" in found.output
    missing = runner.invoke(cli.app, ["catalog", "search", "no such thing"])
    assert missing.exit_code == 1
