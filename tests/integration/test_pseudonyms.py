"""Keyed pseudonyms on Spark: the SQL form agrees with the Python twin, the key never shows in a
query's errors, ``party_id`` changes with the key; and the quarantine's key hash has one
definition: the hash a quarantined row gets is the hash a corrected row of the same key is
matched by, whatever the key's types and values."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.config import load_project
from lakehouse.engine import LINE
from lakehouse.engine import quality_batches
from lakehouse.governance import tables as governance
from lakehouse.security.keys import KeyFile, create_key_file
from lakehouse.security.pseudonyms import QUARANTINE_KEY, expand, hmac_key, pseudonym
from lakehouse.sql import literal
from lakehouse.sql_parsing import bind
from lakehouse.zones.tables import Column, TableSpec

D = date(2026, 11, 1)
VALUES = ["110101199001011234", "", "张三", "Zoë 𝄞", "a\u0001b", None]


def key_file(folder: Path, name: str = "master.key") -> KeyFile:
    create_key_file(folder / name)
    return KeyFile(folder / name)


def model_rows(engine, sql: str, provider, staged: str) -> list[dict]:
    """The rows of a model query (``pseudonym()`` expanded) run as the layer runner runs it."""
    query, keys = expand(bind(sql, {"data_date": D}), provider)
    engine.model_output(query, [], D, staged, keys)
    return [r.asDict() for r in engine.spark.read.parquet(staged).collect()]


def test_the_sql_form_agrees_with_the_python_twin(engine, tmp_path):
    provider = key_file(tmp_path)
    rows = ", ".join(f"({n}, {literal(v)})" for n, v in enumerate(VALUES))
    got = sorted(model_rows(engine, f"SELECT n, pseudonym(v) AS p FROM VALUES {rows} AS t(n, v)",
                            provider, str(tmp_path / "out")), key=lambda r: r["n"])
    assert [r["p"] for r in got] == [pseudonym(v, provider) for v in VALUES]
    assert got[-1]["p"] is None and len({r["p"] for r in got}) == len(VALUES)


def test_the_key_shows_in_no_error_and_does_not_outlive_the_query(engine, tmp_path, capfd):
    provider = key_file(tmp_path)
    key = hmac_key(provider, "pseudonym")
    with pytest.raises(Exception) as failed:  # an analysis error prints the query's plan
        model_rows(engine, "SELECT pseudonym(id_number) AS p, no_such_column FROM "
                   "VALUES ('110101199001011234') AS t(id_number)", provider, str(tmp_path / "out"))
    shown = (str(failed.value) + capfd.readouterr().err).upper()
    assert "NO_SUCH_COLUMN" in shown
    assert key.inner_pad.hex().upper() not in shown and key.outer_pad.hex().upper() not in shown
    assert not engine.spark.catalog.tableExists(key.view)


def test_party_id_is_a_keyed_pseudonym_of_the_id_number(engine, tmp_path):
    """pty_party's query under two keys: party ids follow the key, never the bare SHA-256."""
    model = load_project(Path(__file__).resolve().parents[2] / "conf").models["pty_party"]
    engine.spark.sql("CREATE OR REPLACE TEMPORARY VIEW cbs_customer AS SELECT * FROM VALUES "
                     "('C1', '张三', '110101199001011234', '13800000000', 'B1', DATE'2020-01-02'), "
                     "('C2', '李四', '11010119850202123X', NULL, 'B1', DATE'2021-03-04') "
                     "AS t(customer_id, customer_name, id_number, mobile, branch_id, open_date)")
    engine.spark.sql("CREATE OR REPLACE TEMPORARY VIEW ccs_card AS SELECT * FROM VALUES "
                     "('11010119850202123X', '李四', DATE'2022-05-06', 'A') "
                     "AS t(id_number, holder_name, issue_date, card_status)")
    ids = {}
    try:
        for name in ("a.key", "b.key"):
            provider = key_file(tmp_path, name)
            rows = model_rows(engine, model.sql, provider, str(tmp_path / name))
            ids[name] = {r["id_number"]: r["party_id"] for r in rows}
            assert ids[name] == {i: "P" + pseudonym(i, provider)[:15] for i in ids[name]}
            assert set(ids[name]) == {"110101199001011234", "11010119850202123X"}
    finally:
        for view in ("cbs_customer", "ccs_card"):
            engine.spark.catalog.dropTempView(view)
    for id_number, party in ids["a.key"].items():
        assert party != ids["b.key"][id_number]
        assert party != "P" + hashlib.sha256(id_number.encode()).hexdigest()[:15]


KEYS = ("flag", "amount", "day", "name")
ROWS = [
    (True, Decimal("1.50"), date(2026, 11, 1), "张三"),
    (False, Decimal("-0.01"), date(1999, 12, 31), "Zoë"),
    (None, Decimal("1.50"), date(2026, 11, 1), "a"),
    (True, None, None, "a"),
    (True, Decimal("1.50"), date(2026, 11, 1), None),
    (None, None, None, None),
]


def python_hash(values, provider) -> str:
    """The definition written out: parts as Spark strings, NULL as U+0000, joined by U+0001,
    hashed with the quarantine's key."""
    parts = ["\u0000" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    return pseudonym("\u0001".join(parts), provider, QUARANTINE_KEY)


def test_quarantined_and_corrected_rows_hash_their_keys_alike(engine, tmp_path):
    provider = key_file(tmp_path)
    path = str(tmp_path / "rows.parquet")
    table = pa.table({
        "flag": pa.array([r[0] for r in ROWS], pa.bool_()),
        "amount": pa.array([r[1] for r in ROWS], pa.decimal128(18, 2)),
        "day": pa.array([r[2] for r in ROWS], pa.date32()),
        "name": pa.array([r[3] for r in ROWS], pa.string()),
        LINE: pa.array(range(2, 2 + len(ROWS)), pa.int64()),
        quality_batches.FAILED_RULES: pa.array([["rule"]] * len(ROWS), pa.list_(pa.string())),
    })
    pq.write_table(table, path)
    spec = TableSpec("t", "near_source", None, str(tmp_path / "t"),
                     (Column("flag", "boolean"), Column("amount", "decimal(18,2)"),
                      Column("day", "date"), Column("name", "string")), keys=KEYS)
    held_spec = governance.quarantine(str(tmp_path / "lake"), "t")

    engine.write_quarantine(held_spec, D, [], {
        "path": path, "hmac_key": hmac_key(provider, QUARANTINE_KEY), "columns": list(KEYS),
        "masked": set(), "keys": list(KEYS), "reasons": {"rule": ("validity", "rule (drop)")},
        "literals": {"source": "s.t", "table_name": "near_source.t", "data_date": D, "run_id": "r",
                     "file_name": "t.csv", "quarantined_at": datetime.now(), "readmitted_run": None}})
    held = {r["line"]: r["key_hash"] for r in engine.rows(held_spec)}
    corrected = engine.key_hashes(path, spec, hmac_key(provider, QUARANTINE_KEY))

    assert corrected == held
    assert [held[line] for line in range(2, 2 + len(ROWS))] == [python_hash(r, provider) for r in ROWS]
    assert len(set(held.values())) == len(ROWS)  # a NULL part is not an empty or missing part
