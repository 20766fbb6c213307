"""The governance store against Spark: records written as a load goes, models rebuilt when an
input changed, zipper loaded dates that outlive the Delta log, no silent NULL columns."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lakehouse.demo.delivery_writer import write_delivery
from lakehouse.filters import where
from lakehouse.governance import tables as governance
from lakehouse.governance.records import ModelRunsRecord, RawManifestRecord, ZipperDatesRecord
from lakehouse.governance.store import GovernanceStore
from lakehouse.zones.tables import Column, TableSpec

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def product(code, name="活期存款", kind="DEPOSIT", currency="CNY"):
    return {"product_code": code, "product_name": name, "product_type": kind, "currency": currency}


def load_products(lh, data_date, records, force=False):
    write_delivery(lh.contract("ref.product"), lh.settings.landing, data_date, records)
    [result] = lh.run(data_date, ["ref.product"], force=force).results
    assert result.status == "succeeded", result.message
    return result


def test_a_row_outside_the_schema_is_rejected_not_written_as_null(lakehouse):
    spec = governance.load_log(lakehouse.root)
    with pytest.raises(ValueError, match="governance.load_log has no column 'rows_louded'"):
        lakehouse.engine.append_rows(spec, [{"run_id": "r", "rows_louded": 3}])


def test_the_records_a_run_holds_are_written_when_it_ends_by_an_error(lakehouse, monkeypatch):
    from lakehouse.ingestion import t1_load

    def crash(*args, **kwargs):
        raise RuntimeError("the driver died while loading")

    monkeypatch.setattr(t1_load, "_write", crash)
    contract = lakehouse.contract("ref.product")
    write_delivery(contract, lakehouse.settings.landing, D1, [product("DEP001")])
    with pytest.raises(RuntimeError):
        lakehouse.run(D1, ["ref.product"])  # the run never reaches its end
    day = where(source="ref.product", data_date=D1)
    landed = lakehouse.engine.rows(governance.raw_manifest(lakehouse.root), day)
    assert {r["role"] for r in landed} == {"data", "control"}
    decided = lakehouse.engine.rows(governance.admission_log(lakehouse.root), day)
    assert len(decided) == 6 and {r["decision"] for r in decided} == {"admitted"}


def test_rows_of_every_record_type_read_back_as_written(engine, tmp_path):
    """Governance rows reach Spark as Arrow: every column type, NULLs, and timestamps that keep
    their instant whatever the session's time zone (naive ones are this process's wall clock)."""
    spec = TableSpec("every_type", "governance", None, str(tmp_path / "every_type"), tuple(
        Column(name, kind) for name, kind in [
            ("s", "string"), ("n", "bigint"), ("i", "int"), ("b", "boolean"), ("x", "double"),
            ("d", "date"), ("t", "timestamp"), ("l", "array<string>"), ("m", "map<string,bigint>"),
            ("p", "array<struct<key:string,line:bigint>>")]))
    shanghai = datetime(2026, 11, 30, 8, 15, 1, 250000, tzinfo=ZoneInfo("Asia/Shanghai"))
    rows = [{"s": "甲", "n": 2**40, "i": -3, "b": True, "x": 0.125, "d": D1,
             "t": datetime(2026, 11, 30, 23, 59, 59, 999999), "l": ["a", "乙"], "m": {"v": 7},
             "p": [{"key": "k", "line": 3}, {"key": None, "line": None}]},
            {"s": None, "n": None, "i": None, "b": None, "x": None, "d": None, "t": shanghai, "l": [],
             "m": {}, "p": []},
            {"l": None}]
    engine.append_rows(spec, rows)
    got = sorted(engine.rows(spec), key=lambda r: (r["s"] is None, r["t"] is None))
    for row in got:  # structs come back as Rows
        row["p"] = row["p"] if row["p"] is None else [item.asDict() for item in row["p"]]
    assert got[0] == rows[0]
    assert got[1] == {**rows[1], "t": shanghai.astimezone().replace(tzinfo=None)}
    assert got[2] == {c: None for c in spec.column_names}


def test_held_records_are_read_back_before_they_are_written(lakehouse):
    store = GovernanceStore(lakehouse.engine, lakehouse.root)
    record = RawManifestRecord.of(
        run_id="held", source="ref.product", data_date=D1, file_name="product_20261101.csv",
        role="data", version=1, raw_path="raw/x", size_bytes=1, sha256="0" * 64, rows=1,
        received_at=datetime(2026, 11, 2, 1, 30), verified=None)
    with store.holding():
        store.append([record])
        assert not lakehouse.engine.table_exists(store.spec(RawManifestRecord)) or \
            not lakehouse.engine.rows(store.spec(RawManifestRecord), where(run_id="held"))
        assert store.read(RawManifestRecord, where(run_id="held")) == [record]
        assert store.read(RawManifestRecord, where(run_id="another")) == []
    assert lakehouse.engine.rows(store.spec(RawManifestRecord), where(run_id="held"))


@pytest.mark.slow  # loads and two layer builds
def test_a_model_whose_input_changed_during_or_after_its_build_is_rebuilt(lakehouse):
    load_products(lakehouse, D1, [product("DEP001"), product("LN001", "个人贷款", "LOAN")])
    [first] = lakehouse.build_layers(D1, ["prd_product"], skip_current=True).results
    assert first.status == "succeeded", first.reason
    [again] = lakehouse.build_layers(D1, ["prd_product"], skip_current=True).results
    assert again.status == "current"

    # a build during which the input is reloaded (after the model read it, before the build ends)
    def reload(result):
        load_products(lakehouse, D1, [product("DEP001", "活期储蓄")], force=True)

    [during] = lakehouse.build_layers(D1, ["prd_product"], on_result=reload).results
    assert during.status == "succeeded"
    [after] = lakehouse.build_layers(D1, ["prd_product"], skip_current=True).results
    assert after.status == "succeeded", "the input changed after the last build: rebuild, not current"
    rows = lakehouse.query("SELECT product_code, product_name FROM integrated.prd_product "
                           "WHERE end_dt = DATE'9999-12-31'")
    assert [(r["product_code"], r["product_name"]) for r in rows] == [("DEP001", "活期储蓄")]

    runs = lakehouse.store.read(ModelRunsRecord, where(model="prd_product", status="succeeded"))
    source = lakehouse.table("ref.product")
    assert all(source.qualified_name in r.input_versions for r in runs)
    assert all(r.started_at <= r.finished_at for r in runs)
    [newest] = lakehouse.store.newest(ModelRunsRecord, "model", "finished_at",
                                      where(status="succeeded")).values()
    assert newest.input_versions[source.qualified_name] == lakehouse.engine.version(source)


def _clean_log(spark_sql, path: str) -> None:
    """What Delta's log cleanup does once the load commits are older than the retention: a
    checkpoint after later maintenance commits, and the older commit files gone."""
    spark_sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.checkpointInterval' = '1')")
    spark_sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('lakehouse.maintained' = 'yes')")
    log = Path(path) / "_delta_log"
    commits = sorted(log.glob("*.json"))
    latest = int(commits[-1].stem)
    assert list(log.glob(f"{latest:020d}.checkpoint*.parquet")), "no checkpoint was written"
    for name in log.iterdir():
        version = name.name.split(".")[0]
        if version.isdigit() and int(version) < latest:
            name.unlink()


@pytest.mark.slow  # four zipper loads around a log cleanup
def test_zipper_loaded_dates_outlive_the_delta_log_cleanup(lakehouse):
    spec = lakehouse.table("ref.product")
    load_products(lakehouse, D1, [product("DEP001"), product("LN001", "个人贷款", "LOAN")])
    load_products(lakehouse, D2, [product("DEP001"), product("LN001", "个人贷款", "LOAN")])  # no change
    recorded = lakehouse.store.read(ZipperDatesRecord, where(table_name=spec.qualified_name))
    assert sorted(r.data_date for r in recorded) == [D1, D2]

    _clean_log(lakehouse.engine.spark.sql, spec.path)
    assert all("loaded_dates" not in m for m in lakehouse.engine.delta.commit_metadata(spec.path))

    load_products(lakehouse, D3, [product("DEP001", "活期储蓄"), product("LN001", "个人贷款", "LOAN")])
    rows = lakehouse.engine.rows(spec, where(product_code="DEP001"), order_by=["start_dt"])
    assert [(r["product_name"], r["start_dt"], r["end_dt"]) for r in rows] == [
        ("活期存款", D1, D3), ("活期储蓄", D3, date(9999, 12, 31))]
    # a date before the last one still lands in its place (the loaded dates are known)
    load_products(lakehouse, D2, [product("DEP001", "活期存款"), product("LN001", "个人贷款", "LOAN")],
                  force=True)
    assert len(lakehouse.engine.rows(spec, where(product_code="DEP001"))) == 2


def test_an_admission_log_with_problems_as_text_is_converted_on_the_next_append(engine, tmp_path):
    from dataclasses import replace
    from datetime import datetime

    from lakehouse.governance.records import AdmissionLogRecord, ProblemRecord
    from lakehouse.governance.store import GovernanceStore

    root = str(tmp_path / "lake")
    spec = governance.admission_log(root)
    old = replace(spec, columns=tuple(replace(c, spark_type="array<string>") if c.name == "problems"
                                      else c for c in spec.columns))
    engine.ensure_table(old)
    values = dict(run_id="old", source="cbs.customer", data_date=D1, file_name="c.csv",
                  contract_hash="h", registration_version=1, decision="rejected", check_order=5,
                  check_name="quality", status="failed", evidence="{}",
                  decided_at=datetime(2026, 11, 2, 8))
    engine.append_rows(old, [{**values, "problems": ["c.csv, line 3: bad row"]}])

    store = GovernanceStore(engine, root)
    store.append([AdmissionLogRecord(**{**values, "run_id": "new"}, problems=[
        ProblemRecord(message="bad row", file="c.csv", line=3, key="id", value=None, fix="redeliver")])])
    found = {r.run_id: r.problems for r in store.read(AdmissionLogRecord)}
    assert found["old"] == [ProblemRecord(message="c.csv, line 3: bad row")]
    assert found["new"][0].line == 3 and found["new"][0].fix == "redeliver"
    assert engine.table_layout(spec).comments["problems"] == "what failed and how to fix it"
