"""`Lakehouse.query` and `lakehouse query` as a principal, on Spark: no level-3+ value in clear
reaches a principal without clearance, whatever the query does with the column; every read of
level-2+ data is audited, and a read whose audit cannot be written fails."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from lakehouse.cli import commands as cli
from lakehouse.errors import LakehouseError
from lakehouse.security.access import AccessRefused

from .test_near_source_loads import customer, deliver, load

D1 = date(2026, 11, 1)
PEOPLE = [customer("C0000000001", mobile="13912345678", name="欧阳明华"),
          customer("C0000000002", mobile="13887654321", name="司马云")]
PEOPLE[1]["id_number"] = "110105199003070014"

BYPASSES = [  # each tries to get a protected value out through a query shape or a function
    "SELECT customer_name, id_number, mobile FROM near_source.cbs_customer",
    "SELECT * FROM near_source.cbs_customer",
    "SELECT c.id_number AS x FROM near_source.cbs_customer c",
    "SELECT substr(id_number, 1, 18) AS a, concat(mobile, '') AS b, lower(customer_name) AS c, "
    "CAST(id_number AS varchar(40)) AS d, reverse(reverse(mobile)) AS e FROM near_source.cbs_customer",
    "WITH x AS (SELECT id_number AS i FROM near_source.cbs_customer) SELECT i FROM x",
    "SELECT i FROM (SELECT upper(id_number) AS i FROM near_source.cbs_customer) s",
    "SELECT mobile FROM near_source.cbs_customer UNION ALL SELECT id_number FROM near_source.cbs_customer",
    "SELECT a.mobile FROM near_source.cbs_customer a JOIN near_source.cbs_customer b ON a.customer_id = b.customer_id",
    "SELECT sha2(id_number, 256) AS h, md5(mobile) AS m FROM near_source.cbs_customer",
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


@pytest.fixture
def loaded(lakehouse):
    deliver(lakehouse, "cbs.customer", D1, PEOPLE)
    load(lakehouse, "cbs.customer", D1)
    return lakehouse


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
