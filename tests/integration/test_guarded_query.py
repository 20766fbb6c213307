"""`Lakehouse.query` and `lakehouse query` as a principal, on Spark: no level-3+ value in clear
reaches a principal without clearance, whatever the query does with the column; every read of
level-2+ data is audited, and a read whose audit cannot be written fails."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest

from lakehouse.cli import commands as cli
from lakehouse.errors import LakehouseError
from lakehouse.governance import tables as governance
from lakehouse.security import audit
from lakehouse.security.access import AccessRefused

from tests.conftest import ROOT, copy_project, open_project
from .test_near_source_loads import customer, deliver, load

D1 = date(2026, 11, 1)
PEOPLE = [customer("C0000000001", mobile="13912345678", name="欧阳明华"),
          customer("C0000000002", mobile="13887654321", name="司马云")]
PEOPLE[1]["id_number"] = "110105199003070014"

BYPASSES = [  # each tries to get a protected value out through query shapes and functions (every
    # shape's resolution to base columns: tests/unit/test_access_control.py)
    "SELECT * FROM near_source.cbs_customer",
    "WITH x AS (SELECT c.id_number AS i, mobile FROM near_source.cbs_customer c) "
    "SELECT s.* FROM (SELECT substr(i, 1, 18) AS a, concat(mobile, '') AS b, CAST(i AS varchar(40)) AS d, "
    "reverse(reverse(mobile)) AS e, sha2(i, 256) AS h, md5(mobile) AS m FROM x) s",
    "SELECT lower(customer_name) AS n FROM near_source.cbs_customer "
    "UNION ALL SELECT upper(id_number) FROM near_source.cbs_customer",
    "SELECT customer_id FROM near_source.cbs_customer WHERE id_number = '110105199003070014'",
    "SELECT customer_id FROM near_source.cbs_customer WHERE mobile LIKE '13912345678'",
]


def protected_values() -> set[str]:
    values = {p[c] for p in PEOPLE for c in ("customer_name", "id_number", "mobile")}
    hashes = {hashlib.sha256(v.encode()).hexdigest() for v in values}
    return values | hashes | {hashlib.md5(v.encode()).hexdigest() for v in values}


def leaked(rows: list[dict]) -> set[str]:
    shown = {str(v) for row in rows for v in row.values() if v is not None}
    return {p for p in protected_values() for s in shown if p in s or s.upper() == p.upper()}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, engine, registered_root):
    """The two customers loaded once for the module (the tests add only audit records)."""
    folder = copy_project(tmp_path_factory.mktemp("guarded"))
    shutil.copytree(registered_root, folder / ROOT)
    lh = open_project(folder, engine)
    deliver(lh, "cbs.customer", D1, PEOPLE)
    load(lh, "cbs.customer", D1)
    return lh


def test_no_protected_value_reaches_a_principal_without_clearance(loaded):
    engineer = loaded.as_principal("local.dev")  # data_engineer: clear up to level 2, masked above
    for sql in BYPASSES:
        rows = engineer.query(sql)
        assert not leaked(rows), (sql, rows)
    [row] = engineer.query("SELECT customer_name, id_number, mobile, branch_id FROM near_source.cbs_customer "
                           "WHERE customer_id = 'C0000000001'")
    assert row["branch_id"] == "B0101"  # level 1: in clear
    assert row["mobile"] == "139****5678" and "*" in row["customer_name"] and "*" in row["id_number"]
    # a filter on a protected column compares masked values: it cannot confirm a guess
    assert engineer.query(BYPASSES[-2]) == [] and engineer.query(BYPASSES[-1]) == []

    steward = loaded.as_principal("li.na")  # data_steward: clear up to level 4
    rows = steward.query("SELECT id_number, mobile FROM near_source.cbs_customer ORDER BY customer_id")
    assert [(r["id_number"], r["mobile"]) for r in rows] == [
        (PEOPLE[0]["id_number"], "13912345678"), (PEOPLE[1]["id_number"], "13887654321")]

    desk = loaded.as_principal("app.customer_desk")  # customer marts only
    with pytest.raises(AccessRefused) as refused:
        desk.query("SELECT count(*) AS n FROM near_source.cbs_customer")
    assert "no role of principal app.customer_desk (roles: customer_service) grants query on " \
           "near_source.cbs_customer" in str(refused.value)
    with pytest.raises(LakehouseError, match="not a lakehouse table"):
        steward.query(f"SELECT * FROM delta.`{loaded.table('cbs.customer').path}`")

    # every read of level-2+ data is on the chain: who, as which role, what, with what result
    records = audit.show(loaded.engine, loaded.root)
    assert [(r.principal, r.result) for r in records] == (
        [("local.dev", "masked")] * (len(BYPASSES) + 3) + [("li.na", "allowed"), ("app.customer_desk", "refused")])
    assert [r.rows_returned for r in records[:len(BYPASSES)]] == [2, 2, 4, 0, 0]
    assert records[2].roles == ["data_engineer"] and records[2].objects == [
        "near_source.cbs_customer.customer_name:3", "near_source.cbs_customer.id_number:4"]
    assert records[-1].rows_returned is None and records[-1].objects == ["near_source.cbs_customer.*:2"]
    assert not leaked([r.as_row() for r in records])  # no protected value, not even a queried one
    assert audit.verify(loaded.engine, loaded.root).intact


def test_a_read_that_cannot_be_audited_returns_nothing(loaded, tmp_path):
    shutil.copytree(loaded.project.project_dir, tmp_path / "copy")
    loaded = open_project(tmp_path / "copy", loaded.engine)
    path = Path(governance.access_audit(loaded.root).path)
    shutil.rmtree(path, ignore_errors=True)
    path.write_text("not a table")  # the audit table cannot be written
    with pytest.raises(audit.AuditUnavailable, match="no data is returned"):
        loaded.as_principal("li.na").query("SELECT id_number FROM near_source.cbs_customer")
    # a read of level-1 data only is not audited, so it still runs
    assert loaded.query("SELECT branch_id FROM near_source.cbs_customer") == [{"branch_id": "B0101"}] * 2


def test_governance_records_are_internal_data(loaded):
    # level 2: in clear to a data engineer, and typed (a masked value would be text)
    [row] = loaded.as_principal("local.dev").query(
        f"SELECT source, data_date FROM governance.load_log WHERE data_date = DATE'{D1}'")
    assert row == {"source": "cbs.customer", "data_date": D1}
    with pytest.raises(AccessRefused, match="grants query on governance.load_log"):
        loaded.as_principal("app.customer_desk").query("SELECT source FROM governance.load_log")


def test_the_cli_acts_as_the_principal_given(loaded, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_lakehouse", lambda conf, principal=None: loaded.as_principal(principal)
                        if principal else loaded)
    cli.query("SELECT mobile FROM near_source.cbs_customer ORDER BY customer_id", 10, "li.na", True,
              loaded.conf_dir)
    assert "13912345678" in capsys.readouterr().out
    cli.query("SELECT mobile FROM near_source.cbs_customer ORDER BY customer_id", 10, None, True,
              loaded.conf_dir)
    out = capsys.readouterr().out
    assert "13912345678" not in out and "139****5678" in out
