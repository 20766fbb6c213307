"""The Airflow DAGs for real: dag.test() runs T-1 and layer DAGs on local Spark through the
resident engine service, asset events carry the data dates, failures fail the right task.

One module-wide setup: a small demo bank (40 customers, 2 dates; on the second date the loan
schedule repeats a key, so admission refuses it), an engine service on a loopback port sharing
the test session's Spark, and a SQLite Airflow metadata database.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import socket
from datetime import date, datetime, timezone
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest

import tests.airflow_env as airflow_env

pytestmark = pytest.mark.slow

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, engine, registered_root):
    """The demo project deployed as the DAGs expect it (every contract registered: a copy of the
    registered root), with its engine service running. The DAG tasks find the project through
    the LAKEHOUSE_* variables, as a deployment's Airflow workers do."""
    from lakehouse.api import Lakehouse
    from lakehouse.demo.run import generate
    from lakehouse.orchestration import operations
    from lakehouse.orchestration.engine_service import EngineServer

    logging.getLogger("py4j").setLevel(logging.WARNING)  # one line per closed connection otherwise
    base = tmp_path_factory.mktemp("deployed")
    for folder in ("conf", "quality_rules", "layers"):
        shutil.copytree(airflow_env.REPO / folder, base / folder)
    address = f"127.0.0.1:{free_port()}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAKEHOUSE_ROOT", str(base / "lakehouse"))
        env.setenv("LAKEHOUSE_LANDING", str(base / "landing"))
        env.setenv("LAKEHOUSE_REPORTS", str(base / "reports"))
        env.setenv("LAKEHOUSE_CONF", str(base / "conf"))
        env.setenv("LAKEHOUSE_ENGINE", "service")
        env.setenv("LAKEHOUSE_ENGINE_ADDRESS", address)
        env.setenv("LAKEHOUSE_ENGINE_KEY", secrets.token_hex(16))
        airflow_env.metadata_db()
        shutil.copytree(registered_root, base / "lakehouse")
        lh = Lakehouse(base / "conf", engine=engine, root=base / "lakehouse", landing=base / "landing",
                       reports_dir=base / "reports")
        dates, _, _ = generate(lh, customers=40, days=2, start=D1, seed=3, defect_rate=0.002)
        assert dates == [D1, D2]
        operations.use_engine(engine)
        server = EngineServer(address)
        server.start_in_thread()
        try:
            yield lh
        finally:
            server.stop()


@pytest.fixture(scope="module")
def dags(deployed):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(airflow_env.DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag.dags


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def events_since(session, assets: list[str], since: datetime) -> list:
    """The asset events of ``assets`` recorded after ``since``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from sqlalchemy import select

    return session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                           .where(AssetModel.name.in_(assets), AssetEvent.timestamp > since)
                           .order_by(AssetEvent.timestamp)).all()


def published(assets: list[str], since: datetime) -> list[tuple[str, dict]]:
    """(asset name, extra) of the events of ``assets`` recorded after ``since``."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return [(e.asset.name, e.extra) for e in events_since(session, assets, since)]


def triggered_run(dag, since: datetime, day: date):
    """``dag.test()`` as the scheduler runs a layer DAG once every table it reads has published
    ``day``: the run has ``day`` as its partition key and consumes the events its assets received
    after ``since``."""
    import airflow.models.dagrun as dagrun

    assets = [a.name for a in dag.timetable.asset_condition.objects]  # the layer's AssetAll
    original = dagrun.get_or_create_dagrun

    def create(**kwargs):
        run = original(**kwargs)
        session = kwargs["session"]
        run.partition_key = day.isoformat()
        run.consumed_asset_events.extend(events_since(session, assets, since))
        session.commit()
        return run

    with patch.object(dagrun, "get_or_create_dagrun", create):
        return dag.test()


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_every_dag_file_imports_with_the_expected_dags(dags):
    assert sorted(dags) == ["lakehouse_backup", "lakehouse_history", "lakehouse_realtime",
                            "lakehouse_retention", "layer_common", "layer_integrated", "layer_mart",
                            "t1_cbs", "t1_ccs", "t1_lns", "t1_ref"]
    cbs = dags["t1_cbs"]
    assert cbs.max_active_runs == 1  # one date at a time: a backfill loads in date order
    assert {t.task_id for t in cbs.tasks} == {f"{step}_{e}" for step in ("wait", "load")
                                              for e in ("customer", "account", "transaction")}
    # reference rules look up customers, so customers load first
    assert "load_customer" in cbs.get_task("load_account").upstream_task_ids
    mart = dags["layer_mart"]
    assert mart.get_task("build_mart_customer_360").upstream_task_ids >= {
        "data_dates", "build_mart_risk_warning", "build_mart_customer_label"}


@pytest.fixture(scope="module")
def first_date(deployed, dags):
    """D1 through Airflow: every system's T-1 DAG, then the layer DAGs as the scheduler runs them
    once all their inputs have published D1 (each consuming the events published before it)."""
    began = first = now()
    runs = {code: dags[f"t1_{code}"].test(run_conf={"data_date": D1.isoformat()})
            for code in ("ref", "cbs", "ccs", "lns")}
    for layer in ("integrated", "common", "mart"):
        mark = now()
        runs[layer] = triggered_run(dags[f"layer_{layer}"], began, D1)
        began = mark
    return runs, first


def test_t1_dags_load_every_source_and_publish_its_table_with_the_data_date(deployed, first_date):
    runs, _ = first_date
    for code in ("ref", "cbs", "ccs", "lns"):
        assert str(runs[code].state) == "success", (code, states(runs[code]))
    lh = deployed
    counts = {r["source"]: r["rows_loaded"] for r in lh.query(
        f"SELECT source, rows_loaded FROM governance.load_log WHERE data_date = DATE'{D1}' "
        "AND status = 'succeeded'")}
    assert set(counts) == set(lh.project.sources) and counts["cbs.customer"] >= 40
    events = published([lh.table(s).qualified_name for s in lh.project.sources], datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert sorted(name for name, _ in events) == sorted(lh.table(s).qualified_name for s in lh.project.sources)
    assert all(extra["data_dates"] == [D1.isoformat()] for _, extra in events)


def test_layer_dags_build_the_date_their_asset_events_carry(deployed, first_date):
    runs, _ = first_date
    lh = deployed
    for layer in ("integrated", "common", "mart"):
        assert str(runs[layer].state) == "success", (layer, states(runs[layer]))
        assert all(s == "success" for s in states(runs[layer]).values()), states(runs[layer])
    built = {r["model"] for r in lh.query(
        f"SELECT model FROM governance.model_runs WHERE data_date = DATE'{D1}' AND status = 'succeeded'")}
    assert built == set(lh.project.models)
    parties = lh.query(f"SELECT count(*) AS n FROM mart.mart_customer_360 WHERE data_date = DATE'{D1}'")
    assert parties[0]["n"] >= 40
    models = published(["mart.mart_customer_360"], datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert [extra["data_dates"] for _, extra in models] == [[D1.isoformat()]]


def model_runs(lh) -> list[tuple]:
    return sorted((r["model"], str(r["data_date"]), r["status"], str(r["finished_at"])) for r in lh.query(
        "SELECT model, data_date, status, finished_at FROM governance.model_runs", limit=10_000))


def test_a_layer_run_by_hand_for_a_built_date_rebuilds_nothing(deployed, dags, first_date):
    lh = deployed
    before = model_runs(lh)
    specs = {spec.qualified_name: spec for spec in lh.tables()}
    versions = {m: lh.engine.version(specs[f"integrated.{m}"]) for m in (
        "pty_party", "agt_agreement", "evt_transaction", "prd_product")}
    run = dags["layer_integrated"].test(run_conf={"data_date": D1.isoformat()})
    assert {t: s for t, s in states(run).items() if t.startswith("build_")} == {
        f"build_{m}": "skipped" for m in versions}  # each one: up to date, already published
    assert model_runs(lh) == before
    assert {m: lh.engine.version(specs[f"integrated.{m}"]) for m in versions} == versions


def test_a_corrected_delivery_republishes_its_table_and_rebuilds_only_its_readers(deployed, dags, first_date):
    lh = deployed
    delivered = lh.settings.landing + "/ref/20261101/product_20261101.csv"
    with open(delivered, encoding="utf-8") as handle:
        text = handle.read()
    with open(delivered, "w", encoding="utf-8") as handle:
        handle.write(text.replace("DEP001,活期存款,", "DEP001,活期储蓄存款,"))
    mark = now()
    run = dags["t1_ref"].test(run_conf={"data_date": D1.isoformat()})
    assert {t: s for t, s in states(run).items() if t.startswith("load_")} == {
        "load_product": "success", "load_branch": "skipped", "load_code": "skipped"}
    events = published(["near_source.ref_product", "near_source.ref_branch"], mark)
    assert [(name, extra["data_dates"]) for name, extra in events] == [
        ("near_source.ref_product", [D1.isoformat()])]
    before = model_runs(lh)
    # the layer has had its run for D1: a redelivery is rebuilt by hand, and only its readers build
    integrated = dags["layer_integrated"].test(run_conf={"data_date": D1.isoformat()})
    built = {t: s for t, s in states(integrated).items() if t.startswith("build_")}
    assert built["build_prd_product"] == "success"
    assert built["build_pty_party"] == built["build_evt_transaction"] == "skipped"
    new = {r[0] for r in model_runs(lh) if r not in before}
    assert "prd_product" in new and not new & {"pty_party", "evt_transaction"}
    names = {r["product_name"] for r in lh.query(
        f"SELECT product_name FROM integrated.prd_product WHERE start_dt <= DATE'{D1}' AND end_dt > DATE'{D1}'")}
    assert "活期储蓄存款" in names and "活期存款" not in names


def test_rerunning_a_date_changes_nothing(deployed, dags, first_date):
    lh = deployed
    tables = [lh.table(s) for s in ("cbs.customer", "cbs.account", "cbs.transaction")]
    versions = [lh.engine.version(t) for t in tables]
    mark = now()
    run = dags["t1_cbs"].test(run_conf={"data_date": D1.isoformat()})
    assert str(run.state) == "success"
    assert {t: s for t, s in states(run).items() if t.startswith("load_")} == {
        "load_customer": "skipped", "load_account": "skipped", "load_transaction": "skipped"}
    assert [lh.engine.version(t) for t in tables] == versions
    assert published([t.qualified_name for t in tables], mark) == []  # no layer is triggered again


def test_rejected_delivery_fails_its_task_and_its_models_do_not_run(deployed, dags, first_date, capfd):
    from lakehouse.security.leak_scan import protected_values

    lh = deployed
    mark = now()
    # this module loads no cbs date but D1, so the loan load's wait for cbs_customer of D2 is
    # marked done (test_airflow_scheduler.py runs that wait for real)
    run = dags["t1_lns"].test(run_conf={"data_date": D2.isoformat()}, mark_success_pattern="wait_for_.*")
    out = capfd.readouterr()
    task_states = states(run)
    assert str(run.state) == "failed"
    assert task_states["load_repayment_schedule"] == "failed"
    assert task_states["load_loan"] == "success" and task_states["load_repayment"] == "success"
    log = out.out + out.err
    assert "repayment_schedule_20261102.csv for lns.repayment_schedule on 2026-11-02 was refused " \
           "admission" in log
    values = protected_values(lh)
    found = [values.leak(v, "task log", "").render() for v in values.found_in(log)]
    assert len(values) > 100 and found == []  # the task logs name values only masked
    attempts = lh.query("SELECT count(*) AS n FROM governance.load_log WHERE source = "
                        f"'lns.repayment_schedule' AND data_date = DATE'{D2}'")
    assert attempts[0]["n"] == 1  # failed at once: a terminal error is not retried
    assert [n for n, _ in published(["near_source.lns_repayment_schedule"], mark)] == []

    mart = dags["layer_mart"].test(run_conf={"data_date": D2.isoformat()})  # by hand: no gate opens
    mart_states = states(mart)
    assert mart_states["build_mart_risk_warning"] == "skipped"
    assert mart_states["build_mart_customer_360"] == "skipped"
    assert lh.query(f"SELECT count(*) AS n FROM mart.mart_risk_warning WHERE data_date = DATE'{D2}'")[0]["n"] == 0
    assert "lns.repayment_schedule" in capfd.readouterr().out


def test_the_backup_dag_takes_a_backup_that_restores(deployed, dags, first_date):
    from lakehouse.filters import where
    from lakehouse.governance.records import BackupLogRecord
    from lakehouse.lifecycle import backup

    lh = deployed
    run = dags["lakehouse_backup"].test()
    assert str(run.state) == "success", states(run)
    [taken] = backup.manifests(lh.settings.backups)
    [verified] = lh.store.read(BackupLogRecord, where(action="verify", backup_id=taken))
    assert verified.status == "succeeded" and verified.tables == len(backup.read_manifest(
        lh.settings.backups, taken).tables) > 10


def test_the_retention_dag_runs_retention_through_the_engine(deployed, dags, first_date):
    from lakehouse.governance.records import QualitySamplesRecord

    lh = deployed
    samples = len(lh.store.read(QualitySamplesRecord))
    run = dags["lakehouse_retention"].test()
    assert str(run.state) == "success", states(run)
    assert len(lh.store.read(QualitySamplesRecord)) == samples > 0  # the demo's keeps remove nothing


def test_a_table_held_by_another_run_is_a_transient_error(deployed):
    from lakehouse.zones.locks import table_date_lock
    from lakehouse.orchestration import operations

    lh = deployed
    table = lh.table("ref.branch").qualified_name
    with table_date_lock(lh.root, table, D2, "another-run"):
        answer = operations.execute({"op": "load", "conf": str(lh.conf_dir), "source": "ref.branch",
                                     "data_date": D2.isoformat()})
    assert answer["ok"] is False and answer["transient"] is True
    assert "being written by another run" in answer["error"] and "another-run" in answer["error"]
    assert lh.query("SELECT count(*) AS n FROM governance.load_log WHERE source = 'ref.branch' "
                    f"AND data_date = DATE'{D2}'")[0]["n"] == 0


def test_a_backfill_creates_its_runs_in_date_order(deployed, dags, first_date):
    from airflow.models.backfill import _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from lakehouse.orchestration.data_dates import of_run

    shanghai = ZoneInfo("Asia/Shanghai")
    backfill = _create_backfill(dag_id="t1_ref", from_date=datetime(2026, 10, 2, tzinfo=shanghai),
                                to_date=datetime(2026, 10, 4, 23, tzinfo=shanghai), max_active_runs=1,
                                reverse=False, dag_run_conf=None, triggering_user_name="test")
    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.backfill_id == backfill.id)
                               .order_by(DagRun.run_after)).all()
        days = [of_run(r.conf, r.logical_date, r.run_after, "Asia/Shanghai") for r in runs]
    assert days == [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]


def test_the_history_dag_moves_through_the_engine_service(deployed, dags, first_date):
    from lakehouse.orchestration import operations

    lh = deployed
    run = dags["lakehouse_history"].test()
    assert str(run.state) == "success", states(run)
    # the same engine operation, with the hot windows ending far enough ahead that dates are due
    answer = operations.execute({"op": "history", "conf": str(lh.conf_dir), "data_date": "2027-12-31"})
    assert answer["ok"] is True, answer
    moves = {m["table"]: m for m in answer["result"]["moves"]}
    assert moves["near_source.cbs_transaction"]["status"] == "moved"
    assert lh.query("SELECT count(*) AS n FROM near_source.cbs_transaction")[0]["n"] == \
        moves["near_source.cbs_transaction"]["rows"]
