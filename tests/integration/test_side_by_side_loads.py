"""Sources of one run loaded side by side give the same tables and governance records as one
after another, and lose no record."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from lakehouse.demo import DemoBank
from lakehouse.demo.defects import DefectPlan
from lakehouse.demo.deliveries import write_demo_deliveries
from lakehouse.governance.records import (
    AdmissionLogRecord, LoadLogRecord, QualityResultsRecord, QualityScorecardRecord,
    QualityStatusRecord, RawManifestRecord)
from lakehouse.ingestion import side_by_side
from tests.conftest import PATH_VARIABLES, ROOT, copy_project, open_project

START = date(2026, 11, 1)


def _lakehouse(folder, engine, registered_root):
    copy_project(folder)
    shutil.copytree(registered_root, folder / ROOT)
    lh = open_project(folder, engine)
    bank = DemoBank(60, seed=4, start=START)
    write_demo_deliveries(lh.project, folder / "landing", bank, START, 1,
                          DefectPlan(rate=0.02, seed=4))
    return lh


def _table_rows(lh) -> dict[str, list[tuple]]:
    found = {}
    for contract in lh.project.sources.values():
        spec = lh.table(contract.name)
        if lh.engine.table_exists(spec):
            found[contract.name] = sorted(map(repr, (tuple(r.values()) for r in lh.engine.rows(spec))))
    return found


def _records(lh) -> dict[str, list[tuple]]:
    """What each governance table says about each source, without run ids, times and the
    lakehouse's own folder."""
    store = lh.store
    folder = str(lh.conf_dir.parent)
    found = {
        "load_log": sorted((r.source, str(r.data_date), r.status, r.rows_in, r.rows_loaded,
                            r.rows_quarantined, r.sha256) for r in store.read(LoadLogRecord)),
        "raw_manifest": sorted((r.source, str(r.data_date), r.file_name, r.role, r.sha256)
                               for r in store.read(RawManifestRecord)),
        "admission_log": sorted((r.source, str(r.data_date), r.check_name, r.status, r.decision, repr(r.problems))
                                for r in store.read(AdmissionLogRecord)),
        "quality_results": sorted((r.table_name, str(r.data_date), r.rule, r.success,
                                   r.unexpected_count) for r in store.read(QualityResultsRecord)),
        "quality_scorecard": sorted(repr((r.table_name, str(r.data_date), r.dimension, r.score))
                                    for r in store.read(QualityScorecardRecord)),
        "quality_status": sorted((r.source, str(r.data_date), r.promotable)
                                 for r in store.read(QualityStatusRecord)),
    }
    return {table: [repr(row).replace(folder, "<lakehouse>") for row in rows]
            for table, rows in found.items()}


SOURCES = ["ref.branch", "cbs.customer", "ccs.card"]  # ccs.card looks up cbs.customer


@pytest.mark.slow  # the same sources loaded twice, one after another and side by side
def test_loads_side_by_side_match_loads_one_after_another(tmp_path, engine, registered_root,
                                                          monkeypatch):
    serial = _lakehouse(tmp_path / "serial", engine, registered_root)
    parallel = _lakehouse(tmp_path / "parallel", engine, registered_root)
    one = serial.run(START, sources=SOURCES, parallel=1)
    pools, started, ended = set(), {}, []
    load = side_by_side.load_source

    def spy(ctx, contract, *args, **kwargs):
        pools.add(ctx.engine.spark.sparkContext.getLocalProperty("spark.scheduler.pool"))
        started[contract.name] = list(ended)
        result = load(ctx, contract, *args, **kwargs)
        ended.append(contract.name)
        return result

    monkeypatch.setattr(side_by_side, "load_source", spy)
    many = parallel.run(START, sources=SOURCES, parallel=2)
    assert [r.source for r in one.results] == [r.source for r in many.results]
    assert [(r.status, r.rows_loaded, r.rows_quarantined) for r in one.results] == \
           [(r.status, r.rows_loaded, r.rows_quarantined) for r in many.results]
    assert len(pools - {None}) == 2, "two loads ran in their own fair-scheduler pools"
    # ccs.card's reference rule reads cbs_customer: it starts once cbs.customer is loaded
    assert "cbs.customer" in started["ccs.card"], started
    assert len(set(map(tuple, started.values()))) < len(SOURCES), "some loads started side by side"

    assert _table_rows(parallel) == _table_rows(serial)
    records, expected = _records(parallel), _records(serial)
    for table in expected:
        assert records[table] == expected[table], table
    assert len(records["load_log"]) == len(SOURCES)  # one load record per source, none lost
    assert len(records["raw_manifest"]) == 2 * len(SOURCES)  # data and control file each


@pytest.mark.slow  # two sources loaded twice: one after another, and as concurrent service requests
def test_concurrent_requests_to_the_engine_service_match_loads_one_after_another(
        tmp_path, engine, registered_root, monkeypatch):
    import secrets
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from lakehouse.orchestration import engine_service, operations

    for name in PATH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    sources = ["ref.branch", "cbs.customer"]
    serial = _lakehouse(tmp_path / "serial", engine, registered_root)
    served = _lakehouse(tmp_path / "served", engine, registered_root)
    serial.run(START, sources=sources, parallel=1)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("LAKEHOUSE_ENGINE_KEY", secrets.token_hex(16))
    operations.use_engine(engine, workers=2)
    server = engine_service.EngineServer(address)
    server.start_in_thread()
    conf = str(served.conf_dir.resolve())
    try:
        with ThreadPoolExecutor(len(sources)) as pool:
            answers = list(pool.map(lambda source: engine_service.request(address, {
                "op": "load", "conf": conf, "source": source, "data_date": START.isoformat()}),
                sources))
    finally:
        server.stop()
        operations.use_engine(engine)
    assert [a["ok"] for a in answers] == [True, True], answers
    assert [a["result"]["status"] for a in answers] == ["succeeded", "succeeded"]
    starts = [a["timing"]["work_started"] for a in answers]
    ends = [a["timing"]["finished"] for a in answers]
    assert max(starts) < min(ends), "the two requests were worked on side by side"

    assert _table_rows(served) == _table_rows(serial)
    records, expected = _records(served), _records(serial)
    for table in expected:
        assert records[table] == expected[table], table
    assert len(records["load_log"]) == len(sources)  # two runs appended at once, none lost


def _model_rows(lh) -> dict[str, list[str]]:
    from lakehouse.layers.model_tables import model_spec

    found = {}
    for model in lh.project.models.values():
        spec = model_spec(lh.project, model)
        if lh.engine.table_exists(spec):
            found[model.name] = sorted(map(repr, (tuple(r.values()) for r in lh.engine.rows(spec))))
    return found


def _model_records(lh) -> dict[str, list]:
    from lakehouse.governance.records import LineageRecord, ModelRunsRecord

    store = lh.store
    return {
        "model_runs": sorted(repr((r.model, str(r.data_date), r.status, r.rows, r.blocked_by))
                             for r in store.read(ModelRunsRecord)),
        "quality_results": sorted(repr((r.table_name, str(r.data_date), r.rule, r.success,
                                        r.unexpected_count)) for r in store.read(QualityResultsRecord)),
        "quality_status": sorted((r.table_name, str(r.data_date), r.promotable)
                                 for r in store.read(QualityStatusRecord)),
        "lineage": sorted(repr((r.table_name, r.column_name, r.input_table, r.input_column))
                          for r in store.read(LineageRecord)),
    }


@pytest.mark.slow  # the demo's sources loaded twice, then every model built one after another and side by side
def test_models_built_side_by_side_match_models_built_one_after_another(
        tmp_path, engine, registered_root, monkeypatch):
    from lakehouse.layers import runner

    serial = _lakehouse(tmp_path / "serial", engine, registered_root)
    parallel = _lakehouse(tmp_path / "parallel", engine, registered_root)
    for lh in (serial, parallel):
        assert all(r.status == "succeeded" for r in lh.run(START, parallel=2).results)
    monkeypatch.setattr(serial.settings, "parallel_loads", 1)
    one = serial.build_layers(START)

    pools, started, ended = set(), {}, []
    build = runner.LayerBuild._build

    def spy(self, model):
        pools.add(self.engine.spark.sparkContext.getLocalProperty("spark.scheduler.pool"))
        started[model.name] = list(ended)
        result = build(self, model)
        ended.append(model.name)
        return result

    monkeypatch.setattr(runner.LayerBuild, "_build", spy)
    monkeypatch.setattr(parallel.settings, "parallel_loads", 2)
    many = parallel.build_layers(START)

    assert [(r.model, r.status, r.rows) for r in one.results] == \
           [(r.model, r.status, r.rows) for r in many.results]
    assert all(r.status == "succeeded" for r in many.results), [(r.model, r.reason) for r in many.results]
    assert len(pools - {None}) == 2, "two models were built in their own fair-scheduler pools"
    for model in parallel.project.models.values():  # each after the models it reads
        assert all(i in started[model.name] for i in model.inputs if i in parallel.project.models)
    assert len(set(map(tuple, started.values()))) < len(started), "some models started side by side"

    assert _model_rows(parallel) == _model_rows(serial)
    records, expected = _model_records(parallel), _model_records(serial)
    for table in expected:
        assert records[table] == expected[table], table
    assert len(records["model_runs"]) == len(parallel.project.models)  # none lost
