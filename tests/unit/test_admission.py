"""The static admission checks and the registries, without Spark: each check failing on its own."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from lakehouse.admission import checks as admission
from lakehouse.admission.checks import CHECKS, Decision, Registered, check_quality, static_checks
from lakehouse.config import load_project, validate_project
from lakehouse.config.attribute_types import parse_type
from lakehouse.errors import Problem

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
D = date(2026, 11, 25)


@pytest.fixture
def conf(tmp_path: Path, monkeypatch) -> Path:
    for name in ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(REPO_CONF, tmp_path / "conf")
    return tmp_path / "conf"


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def checks_of(conf: Path, source: str = "cbs.customer", day: date = D, registered=None):
    project = load_project(conf)
    contract = project.sources[source]
    if registered == "current":
        registered = Registered(source, 1, contract.content_hash, datetime(2026, 11, 1, 9, 0))
    return static_checks(project, contract, day, registered)


def only_failure(checks: dict, name: str) -> list[Problem]:
    """Assert that ``name`` is the one failing static check; return its problems."""
    assert [c for c, r in checks.items() if not r.passed] == [name]
    return checks[name].problems


def test_the_demo_contracts_pass_every_static_check(conf):
    project = load_project(conf)
    for name, contract in project.sources.items():
        registered = Registered(name, 1, contract.content_hash, datetime(2026, 11, 1))
        checks = static_checks(project, contract, D, registered)
        assert all(c.passed for c in checks.values()), (name, checks)
    card = static_checks(project, project.sources["ccs.card"], D, None, require_registration=False)
    assert card["classification"].evidence["table_level"] == 4
    assert card["standard"].evidence["standards"]["card_no"] == "DS-AGT-0101"


def test_owner_check_fails_for_an_unregistered_owner(conf):
    contract = conf / "sources/cbs/customer.yaml"
    edit(contract, "owner: li.na", "owner: li.nan")
    [problem] = only_failure(checks_of(conf, registered="current"), "owner")
    assert (problem.file, problem.line, problem.key, problem.value) == (str(contract), 5, "owner", "li.nan")
    assert problem.message == "owner 'li.nan' is not in the owners registry"
    assert problem.fix == (f"register 'li.nan' in {conf / 'owners.yaml'}, or name a registered owner "
                           "(did you mean 'li.na'?)")


def test_standard_check_fails_for_unknown_unpublished_and_ill_fitting_standards(conf):
    contract = conf / "sources/cbs/account.yaml"
    edit(contract, "standard: DS-PRD-0001", "standard: DS-PRD-001")
    edit(contract, "type: decimal(18,2)", "type: decimal(20,2)")
    edit(conf / "standards.yaml", "    owner: zhao.min\n    min_security_level: 1\n  - id: DS-AGT-0001",
         "    owner: zhao.min\n    min_security_level: 1\n    status: draft\n  - id: DS-AGT-0001")
    problems = only_failure(checks_of(conf, "cbs.account", registered="current"), "standard")
    assert [(p.line, p.key, p.message) for p in problems] == [
        (35, "attributes[2].standard",
         "attribute 'product_code' references standard 'DS-PRD-001', which is not in the data standards"),
        (40, "attributes[3].standard",
         "attribute 'currency' references standard DS-GEN-0001, which is draft, not published"),
        (42, "attributes[4].type",
         "attribute 'balance' has type decimal(20,2), which does not fit its standard DS-AGT-0002 "
         "(账户余额, decimal(18,2))"),
    ]
    assert problems[0].fix.endswith("(did you mean 'DS-PRD-0001'?), or have the standard published there first")
    assert problems[2].fix.startswith("declare the type as decimal(18,2) (or narrower)")


def test_physical_types_fit_their_standard_only_when_every_value_does():
    fits = admission.type_fits
    assert fits(parse_type("decimal(12,2)"), parse_type("decimal(18,2)"))
    assert not fits(parse_type("decimal(18,4)"), parse_type("decimal(18,2)"))
    assert not fits(parse_type("decimal(19,2)"), parse_type("decimal(18,2)"))
    assert fits(parse_type("integer"), parse_type("decimal(19,0)"))
    assert not fits(parse_type("string"), parse_type("date"))
    assert fits(parse_type("date"), parse_type("date"))


def test_source_check_refuses_a_decertified_system_and_names_its_replacement(conf):
    edit(conf / "systems.yaml", "        note: 权威数据源认定 / authoritative source for customers, deposits and transactions\n",
         "        note: 权威数据源认定 / authoritative source for customers, deposits and transactions\n"
         "      - {event: decertified, date: 2026-11-20, reason: merged, replaced_by: ccs, by: zhao.min}\n")
    assert checks_of(conf, day=date(2026, 11, 19), registered="current")["source"].passed
    [problem] = only_failure(checks_of(conf, registered="current"), "source")
    assert problem.message == ("system cbs (核心银行系统) was decertified on 2026-11-20 (merged) and may "
                               "not deliver data for 2026-11-25; it is replaced by ccs (信用卡系统)")
    assert problem.fix == "deliver this data from ccs: register the contract as sources/ccs/customer.yaml"
    assert (problem.line, problem.key) == (1, "system")


def test_certification_events_must_start_certified_and_alternate(conf):
    edit(conf / "systems.yaml", "        note: 权威数据源认定 / authoritative source for credit cards\n",
         "        note: 权威数据源认定 / authoritative source for credit cards\n"
         "      - {event: certified, date: 2020-01-01}\n")
    [problem] = validate_project(conf)
    assert (problem.line, problem.key, problem.message) == (
        18, "systems[1].certification",
        "two 'certified' events in a row (2019-03-31, 2020-01-01)")


def test_source_check_refuses_deliveries_before_certification(conf):
    [problem] = only_failure(checks_of(conf, day=date(2018, 6, 29), registered="current"), "source")
    assert problem.message == ("system cbs (核心银行系统) is not certified on 2018-06-29: it is certified "
                               "from 2018-06-30")


def test_classification_check_enforces_standard_and_category_minimums(conf):
    contract = conf / "sources/cbs/customer.yaml"
    edit(contract, "    security_level: 4\n", "    security_level: 2\n")  # id_number: standard needs 3
    edit(contract, "    security_level: 1\n    standard: DS-ORG-0001",
         "    security_level: 1\n    pi_category: C3\n    standard: DS-ORG-0001")  # C3 needs 4
    problems = only_failure(checks_of(conf, registered="current"), "classification")
    assert [(p.key, p.message) for p in problems] == [
        ("attributes[2].security_level",
         "attribute 'id_number' has security level 2; its standard DS-PTY-0003 requires at least 3"),
        ("attributes[4].security_level",
         "attribute 'branch_id' has security level 1; C3 personal information requires at least 4"),
    ]
    assert problems[0].fix.startswith("set security_level: 3 or higher")


def test_metadata_check_needs_business_names_and_the_registered_contract_version(conf):
    contract = conf / "sources/cbs/customer.yaml"
    edit(contract, "business_name: {zh: 个人客户, en: Personal customer}\n", "")
    problems = only_failure(checks_of(conf, registered="current"), "metadata")
    assert [p.message for p in problems] == ["cbs.customer has no business name for its logical entity"]

    unregistered = only_failure(checks_of(conf, source="cbs.account"), "metadata")
    assert [p.message for p in unregistered] == [
        "cbs.account is not registered, so its metadata is not in the catalog"]
    assert unregistered[0].fix == f"run `lakehouse source register {conf / 'sources/cbs/account.yaml'}`"

    stale = Registered("cbs.account", 3, "0" * 64, datetime(2026, 11, 2, 8, 30))
    [changed] = only_failure(checks_of(conf, source="cbs.account", registered=stale), "metadata")
    assert changed.message == "cbs.account has changed since its registration as version 3 on 2026-11-02 08:30"


def test_a_decision_is_admitted_only_when_all_six_checks_pass(conf):
    checks = checks_of(conf, registered="current")
    checks["quality"] = check_quality({"rows_in": 3}, [])
    decision = Decision("cbs.customer", D, "h", 1, checks)
    assert decision.admitted
    rows = decision.log_records("run-1", "customer_20261125.csv")
    assert [(r.check_order, r.check_name, r.status, r.decision) for r in rows] == [
        (i + 1, name, "passed", "admitted") for i, name in enumerate(CHECKS)]

    checks["quality"] = check_quality(None, [Problem("control file declares 3 rows, the file has 2", "x.ctl")])
    checks["owner"] = admission.CheckResult("owner", "failed", {}, [Problem("owner 'x' is not in the owners registry")])
    decision = Decision("cbs.customer", D, "h", 1, checks)
    assert not decision.admitted
    error = decision.rejection("delivery f.csv for cbs.customer on 2026-11-25")
    assert error.render() == (
        "delivery f.csv for cbs.customer on 2026-11-25 was refused admission: owner, quality checks failed\n"
        "  owner:\n"
        "    - owner 'x' is not in the owners registry\n"
        "  quality:\n"
        "    - x.ctl: control file declares 3 rows, the file has 2")
    assert check_quality(None, []).status == "not run"


def test_registry_problems_are_reported_with_file_line_key_and_fix(conf):
    edit(conf / "owners.yaml", "    department: card\n", "    department: cards\n")
    edit(conf / "systems.yaml", "    owner: wang.fang\n", "    owner: wang.fan\n")
    edit(conf / "systems.yaml", "      - event: certified\n        date: 2018-06-30\n",
         "      - event: decertified\n        date: 2018-06-30\n")
    edit(conf / "standards.yaml", "    domain: {pattern: 'C[0-9]{10}'}\n",
         "    domain: {pattern: 'C[0-9]{10}', check: luhn}\n")
    edit(conf / "standards.yaml", "    min_security_level: 3\n    pi_category: C2\n",
         "    min_security_level: 2\n    pi_category: C2\n")
    edit(conf / "classification.yaml", "  - level: 5\n", "  - level: 4\n")
    found = {(Path(p.file).name, p.line, p.key): (p.message, p.fix) for p in validate_project(conf)}
    assert found == {
        ("classification.yaml", 4, "security_levels"): (
            "security_levels must define levels 1 to 5 once each, found [1, 2, 3, 4, 4]",
            "list each of the levels 1, 2, 3, 4 and 5 exactly once"),
        ("owners.yaml", 28, "owners[1].department"): (
            "department 'cards' is not registered in the departments of owners.yaml",
            "register it in the departments of owners.yaml or use one of: card, credit, data, it, retail "
            "(did you mean 'card'?)"),
        ("systems.yaml", 10, "systems[0].certification[0]"): (
            "a decertification needs a reason", "add 'reason: ...', one of merged, split, retired"),
        ("systems.yaml", 17, "systems[1].owner"): (
            "owner 'wang.fan' is not registered in owners.yaml",
            "register it in owners.yaml or use one of: chen.jie, li.na, liu.yang, wang.fang, zhang.wei, "
            "zhao.min "
            "(did you mean 'wang.fang'?)"),
        ("standards.yaml", 12, "standards[0].domain"): (
            "a domain has exactly one of codes, pattern, range or check, not pattern and check",
            "keep one; split the rule into another standard if you need two"),
        ("standards.yaml", 22, "standards[1].min_security_level"): (
            "min_security_level 2 is below 3, the minimum for C2 data",
            "raise it to at least 3 (classification.yaml), or change pi_category"),
    }
