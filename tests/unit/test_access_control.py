"""Who may read what, without Spark: security.yaml validated, column levels derived through the
layers, and every query shape resolved to the base columns it reads (masked or refused)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from lakehouse.api import Lakehouse
from lakehouse.config import load_project, validate_project
from lakehouse.errors import ConfigError
from lakehouse.security.access import AccessRefused, clearance
from lakehouse.security.column_levels import model_levels, table_levels
from lakehouse.security.guarded_query import guard

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project():
    return load_project(REPO / "conf")


@pytest.fixture(scope="module")
def levels(project):
    return table_levels(project)


def copy_repo(tmp_path: Path) -> Path:
    for folder in ("conf", "layers", "quality_rules"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path / "conf"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_incompatible_duty_assignment_is_refused_with_its_location(tmp_path):
    conf = copy_repo(tmp_path)
    edit(conf / "security.yaml", "roles: [risk_analyst]}", "roles: [risk_analyst, auditor, data_engineer]}")
    [problem] = validate_project(conf)
    assert (problem.file, problem.key) == (str(conf / "security.yaml"), "principals[7].roles")
    assert problem.line == (conf / "security.yaml").read_text().splitlines().index(
        next(line for line in (conf / "security.yaml").read_text().splitlines() if "chen.jie" in line)) + 1
    assert problem.message == ("principal 'chen.jie' holds roles 'auditor' and 'data_engineer', which are "
                               "incompatible duties (审计人员不审计自己的操作 / an auditor does not audit "
                               "their own work)")
    assert "give 'chen.jie' only one of them" in problem.fix


def test_unknown_roles_and_principals_are_located(tmp_path):
    conf = copy_repo(tmp_path)
    edit(conf / "security.yaml", "default_principal: local.dev", "default_principal: local.devv")
    edit(conf / "security.yaml", "roles: [risk_analyst]}", "roles: [risk_analist]}")
    edit(conf / "security.yaml", "    clear_up_to: 3\n    masked_up_to: 4\n", "    clear_up_to: 3\n    masked_up_to: 2\n")
    found = {(p.key, p.message) for p in validate_project(conf)}
    assert ("default_principal", "principal 'local.devv' is not registered in the principals of "
            "security.yaml") in found
    assert ("principals[7].roles[0]", "role 'risk_analist' is not registered in the roles of security.yaml") in found
    assert ("roles[2]", "masked_up_to 2 is below clear_up_to 3") in found


def test_model_column_levels_follow_what_they_read(levels):
    c360 = levels["mart.mart_customer_360"]
    assert (c360["party_name"], c360["mobile"], c360["deposit_balance_cny"]) == (3, 3, 3)
    assert (c360["branch_name"], c360["loans"], c360["data_date"]) == (1, 1, 1)
    assert levels["integrated.pty_party"]["birth_date"] == 4  # computed from the ID number
    assert (c360["age"], c360["gender"]) == (2, 2)  # declassified, with approval, in the model file
    assert levels["near_source.cbs_customer"]["id_number"] == 4


def test_lowering_a_level_needs_an_approved_declassification(tmp_path):
    conf = copy_repo(tmp_path)
    model = tmp_path / "layers/mart/mart_customer_360.yaml"
    edit(model, "      approved_by: li.na\n      reason: 年龄", "      approved_by: zhao.min\n      reason: 年龄")
    [problem] = validate_project(conf)
    assert (problem.file, problem.key) == (str(model), "column_levels.age.declassification")
    assert "'zhao.min' both asks for and approves this declassification" in problem.message

    shutil.rmtree(tmp_path / "layers")
    shutil.copytree(REPO / "layers", tmp_path / "layers")
    edit(model, "  age:\n    level: 2\n    declassification:\n      by: zhao.min\n      approved_by: li.na\n"
                "      reason: 年龄（整岁）不含出生日期 / age in whole years, not the birth date it is computed from\n",
         "  age: 2\n  mobile: 4\n")
    with pytest.raises(ConfigError) as refused:
        model_levels(load_project(conf))
    assert Lakehouse.validate(conf) == refused.value.problems  # what `lakehouse validate` reports
    [problem] = refused.value.problems
    assert (problem.file, problem.key, problem.value) == (str(model), "column_levels.age", 2)
    assert "column 'age' of mart_customer_360 reads level-4 data; level 2 lowers it without a " \
           "declassification" in problem.message


READS = {  # query -> the base columns it reads, whatever the shape
    "SELECT * FROM mart.mart_customer_360": None,  # every column
    "SELECT c.mobile AS phone FROM mart.mart_customer_360 c": {"mobile"},
    "WITH x AS (SELECT substr(mobile, 1, 3) AS m, age FROM mart.mart_customer_360) SELECT m FROM x": {"mobile", "age"},
    "SELECT n FROM (SELECT concat(lower(party_name), '') AS n FROM mart.mart_customer_360) s": {"party_name"},
    "SELECT age FROM mart.mart_customer_360 UNION ALL SELECT CAST(sha2(mobile, 256) AS int) "
    "FROM mart.mart_customer_360": {"age", "mobile"},
    "SELECT count(*) FROM mart.mart_customer_360 WHERE mobile LIKE '138%'": {"mobile"},
    "SELECT a.age FROM mart.mart_customer_360 a JOIN mart.mart_customer_label l ON l.party_id = a.party_id":
        {"age", "party_id"},
}


@pytest.mark.parametrize("sql", list(READS))
def test_every_query_shape_resolves_to_the_base_columns_it_reads(sql, project, levels):
    desk = clearance(project, "app.customer_desk")
    guarded = guard(sql, desk, lambda t: {c: "string" for c in levels[t]} if t in levels else None,
                    levels, project=project)
    read = {r.column for r in guarded.reads if r.table == "mart.mart_customer_360"}
    assert read == (READS[sql] or set(levels["mart.mart_customer_360"]))
    masked = {r.column for r in guarded.reads if r.access == "masked"}
    assert masked == {r.column for r in guarded.reads if r.level in (3, 4)}
    assert guarded.result == ("masked" if masked else "allowed")
    for view_sql in guarded.views.values():  # masked in the view every table is read through
        for column in masked:
            assert f"CAST(`{column}` AS STRING)" in view_sql
    assert "mart.mart_customer_360" not in guarded.sql and "_guarded_mart__mart_customer_360_" in guarded.sql


@pytest.mark.parametrize("who,expected", [
    ("li.na", {"party_name": "clear", "mobile": "clear", "age": "clear"}),
    ("chen.jie", {"party_name": "clear", "mobile": "clear", "age": "clear"}),
    ("app.customer_desk", {"party_name": "masked", "mobile": "masked", "age": "clear"}),
    ("local.dev", {"party_name": "masked", "mobile": "masked", "age": "clear"}),
])
def test_roles_decide_clear_or_masked(who, expected, project, levels):
    guarded = guard("SELECT party_name, mobile, age FROM mart.mart_customer_360", clearance(project, who),
                    lambda t: {c: "string" for c in levels[t]}, levels, project=project)
    assert {r.column: r.access for r in guarded.reads} == expected


def test_refusals_name_the_column_its_level_the_roles_and_how_to_get_access(project, levels):
    columns = lambda t: {c: "string" for c in levels[t]} if t in levels else None  # noqa: E731
    analyst = clearance(project, "chen.jie")  # risk_analyst: clear to 3, masked to 4
    restricted = {**levels, "mart.mart_customer_360": {**levels["mart.mart_customer_360"], "mobile": 5}}
    with pytest.raises(AccessRefused) as refused:
        guard("SELECT upper(x.m) FROM (SELECT mobile AS m FROM mart.mart_customer_360) x", analyst,
              columns, restricted, project=project)
    [problem] = refused.value.problems
    assert problem.message == ("column mobile of mart.mart_customer_360 is security level 5, above what "
                               "principal chen.jie (roles: risk_analyst) may query")
    assert problem.fix == ("ask the security administrator for a role that grants it (data_engineer, "
                           "data_steward, t1_batch) in security.yaml, or leave the column out")

    desk = clearance(project, "app.customer_desk")
    with pytest.raises(AccessRefused) as refused:
        guard("SELECT count(*) FROM near_source.cbs_customer", desk, columns, levels, project=project)
    assert "no role of principal app.customer_desk (roles: customer_service) grants query on " \
           "near_source.cbs_customer" in str(refused.value)


@pytest.mark.parametrize("sql,message", [
    ("DROP TABLE mart.mart_customer_360", "only one query (SELECT ...) may run here"),
    ("SELECT 1; SELECT 2", "only one query (SELECT ...) may run here"),
    ("INSERT INTO mart.mart_customer_360 SELECT * FROM mart.mart_customer_360", "only one query"),
    ("SELECT * FROM delta.`/data/standard/mart/mart_customer_360`", "not a lakehouse table"),
    ("SELECT * FROM parquet.`/data`", "not a lakehouse table"),
    ("SELECT * FROM spark_catalog.mart.mart_customer_360", "not a lakehouse table"),
    ("SELECT * FROM mart_customer_360", "not a lakehouse table"),
    ("SELECT reflect('java.lang.System', 'getenv', 'HOME')", "a function that is not allowed"),
    ("SELECT nosuchcolumn FROM mart.mart_customer_360", "columns cannot be resolved"),
])
def test_what_cannot_run_is_refused_before_spark_sees_it(sql, message, project, levels):
    with pytest.raises(ConfigError) as refused:
        guard(sql, clearance(project, "li.na"), lambda t: {c: "string" for c in levels[t]} if t in levels else None,
              levels, project=project)
    assert message in str(refused.value)


def test_the_principal_comes_from_the_argument_the_environment_or_the_default(project, monkeypatch):
    monkeypatch.delenv("LAKEHOUSE_PRINCIPAL", raising=False)
    assert clearance(project).principal.id == "local.dev"
    monkeypatch.setenv("LAKEHOUSE_PRINCIPAL", "sun.li")
    assert clearance(project).role_names == "auditor"
    assert clearance(project, "li.na").principal.id == "li.na"
    with pytest.raises(ConfigError) as unknown:
        clearance(project, "mallory")
    assert unknown.value.problems[0].key == "--as" and "act as one of: local.dev" in unknown.value.problems[0].fix


OPERATIONS = {
    "load deliveries": lambda lh: lh.run(),
    "build the layers": lambda lh: lh.build_layers(),
    "register source contracts": lambda lh: lh.register(REPO / "conf" / "sources"),
    "decertify a source system": lambda lh: lh.decertify("cbs", "test"),
    "re-admit quarantined rows": lambda lh: lh.readmit("cbs.account", None, Path("x.csv")),
    "read the quality reports": lambda lh: lh.quality_report(None),
    "verify the access audit": lambda lh: lh.audit_verify(),
    "read the access audit": lambda lh: lh.audit_records(),
    "export query results": lambda lh: lh.export("SELECT 1", Path(tempfile.mkdtemp()) / "out.csv"),
}


@pytest.mark.parametrize("principal, refused", [
    ("app.customer_desk", set(OPERATIONS)),
    ("chen.jie", set(OPERATIONS) - {"export query results"}),
    ("sun.li", set(OPERATIONS) - {"verify the access audit", "read the access audit",
                                  "read the quality reports"}),
    ("li.na", {"load deliveries", "build the layers", "register source contracts",
               "decertify a source system", "re-admit quarantined rows",
               "verify the access audit", "read the access audit"}),
    ("local.dev", {"verify the access audit", "read the access audit", "export query results"}),
])
def test_each_operation_needs_a_role_that_grants_it(principal, refused):
    """Refused operations fail before Spark starts, naming the operation and who grants it."""
    lh = Lakehouse(REPO / "conf", principal=principal)
    for action, attempt in OPERATIONS.items():
        if action not in refused:
            continue
        with pytest.raises(AccessRefused) as refusal:
            attempt(lh)
        text = refusal.value.render()
        assert principal in text and ("act as a principal" in text or "no role grants" in text), text
        assert lh._engine is None, f"{action} started Spark before refusing"
