"""Orchestration order without Spark: a layer DAG gets one run per data date (partitioned by
date, waiting for all its inputs), and a load whose quality rules look up another system's table
waits for that table's event of the same date."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

import tests.airflow_env as airflow_env
from lakehouse.orchestration import manifest

REPO = airflow_env.REPO
MANIFEST = REPO / "dags" / manifest.MANIFEST_FILE
D = date(2026, 11, 1)


@pytest.fixture(scope="module")
def compiled() -> dict:
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def dags(compiled):
    from lakehouse.orchestration.dag_factory import build_dags

    return build_dags(compiled, MANIFEST)


def sources(compiled: dict) -> dict[str, dict]:
    return {s["name"]: s for system in compiled["systems"].values() for s in system["sources"]}


# -- the manifest ------------------------------------------------------------------------------

def test_a_lookup_of_another_systems_table_is_a_wait_and_one_of_the_same_system_an_order(compiled):
    by_name = sources(compiled)
    customer = {"table": "near_source.cbs_customer", "source": "cbs.customer", "system": "cbs"}
    assert by_name["ccs.card"]["waits_for"] == [customer] and by_name["ccs.card"]["after"] == []
    assert by_name["lns.loan"]["waits_for"] == [customer]
    assert by_name["cbs.account"]["waits_for"] == [] and by_name["cbs.account"]["after"] == ["cbs.customer"]
    for code, system in compiled["systems"].items():
        for source in system["sources"]:
            assert all(w["system"] != code for w in source["waits_for"]), source["name"]
    assert compiled["cross_system_wait_hours"] == 12


def test_a_new_cross_system_lookup_makes_the_manifest_stale(tmp_path):
    import shutil

    from lakehouse.config import load_project

    for folder in ("conf", "quality_rules", "layers"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    target = tmp_path / "dags" / manifest.MANIFEST_FILE
    manifest.write(load_project(tmp_path / "conf"), target)
    rules = tmp_path / "quality_rules" / "lns_loan.yaml"
    text = rules.read_text()
    assert "reference: {table: cbs_customer," in text
    rules.write_text(text.replace("reference: {table: cbs_customer,", "reference: {table: cbs_account,", 1))
    project = load_project(tmp_path / "conf")
    problems = manifest.stale(project, target)
    assert len(problems) == 1 and "systems: lns" in problems[0].message
    loan = sources(manifest.compile_manifest(project, target))["lns.loan"]
    assert [w["table"] for w in loan["waits_for"]] == ["near_source.cbs_account"]


# -- the DAGs ----------------------------------------------------------------------------------

def test_a_credit_card_load_waits_for_core_banking_customers_of_its_date(dags):
    ccs = dags["t1_ccs"]
    wait = ccs.get_task("wait_for_cbs_customer")
    assert [a.name for a in wait.inlets] == ["near_source.cbs_customer"]
    assert wait.mode == "reschedule" and wait.timeout == 12 * 3600
    assert "wait_for_cbs_customer" in ccs.get_task("load_card").upstream_task_ids
    assert "wait_for_cbs_customer" in dags["t1_lns"].get_task("load_loan").upstream_task_ids
    assert "wait_for_cbs_customer" not in dags["t1_lns"].get_task("load_repayment").upstream_task_ids
    assert not [t for t in dags["t1_cbs"].task_ids if t.startswith("wait_for_")]  # `after` orders cbs


def test_a_layer_dag_is_partitioned_by_date_and_waits_for_every_table_it_reads(dags):
    from airflow.sdk import AssetAll, PartitionedAssetTimetable

    integrated = dags["layer_integrated"]
    assert isinstance(integrated.timetable, PartitionedAssetTimetable)
    condition = integrated.timetable.asset_condition
    assert isinstance(condition, AssetAll)
    assert sorted(a.name for a in condition.objects) == [
        "near_source.cbs_account", "near_source.cbs_customer", "near_source.cbs_transaction",
        "near_source.ccs_card", "near_source.ccs_card_txn", "near_source.lns_loan", "near_source.ref_product"]
    mart = {a.name for a in dags["layer_mart"].timetable.asset_condition.objects}
    assert "mart.mart_risk_warning" not in mart  # built by the layer itself, ordered inside the run
    assert {"common.com_party_balance_daily", "near_source.lns_repayment_schedule"} <= mart


# -- the tasks ---------------------------------------------------------------------------------

class Events(list):
    """An inlet's events as ``context["inlet_events"][asset]`` gives them; records ``after``."""

    def after(self, since):
        self.since = since
        return [e for e in self if e.timestamp >= since]


def event(at: datetime, key: str | None = None, dates: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(timestamp=at, partition_key=key, extra={"data_dates": list(dates)} if dates else {},
                           source_run_id="t1_cbs__x")


def wait_context(events: Events, day: date = D) -> dict:
    from lakehouse.orchestration.dag_factory import table_asset

    asset = table_asset("near_source.cbs_customer")
    return {"dag_run": SimpleNamespace(conf={"data_date": day.isoformat()}, run_after=None),
            "logical_date": None, "task": SimpleNamespace(inlets=[asset]), "inlet_events": {asset: events}}


def test_the_wait_ends_only_with_an_event_of_the_runs_data_date():
    from lakehouse.orchestration.task_runtime import table_published

    shanghai = ZoneInfo("Asia/Shanghai")
    published = datetime(2026, 11, 2, 2, 0, tzinfo=shanghai)
    events = Events([event(published, "2026-10-31", ("2026-10-31",)),
                     event(published + timedelta(minutes=5), "2026-11-02", ("2026-11-02",))])
    context = wait_context(events)
    assert table_published("near_source.cbs_customer", "Asia/Shanghai", context) is False
    assert events.since == datetime(2026, 11, 1, tzinfo=shanghai)  # nothing older can carry D
    events.append(event(published + timedelta(minutes=9), "2026-11-01", ("2026-11-01",)))
    assert table_published("near_source.cbs_customer", "Asia/Shanghai", context) is True
    # an event without a partition key (published before the layers were partitioned) counts too
    older = Events([event(published, None, ("2026-10-31", "2026-11-01"))])
    assert table_published("near_source.cbs_customer", "Asia/Shanghai", wait_context(older)) is True


def test_a_wait_that_runs_out_names_the_table_the_date_and_how_to_go_on(dags):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    wait = dags["t1_ccs"].get_task("wait_for_cbs_customer")
    context = wait_context(Events())
    first_look = datetime.now(timezone.utc) - timedelta(hours=13)
    context["ti"] = SimpleNamespace(get_first_reschedule_date=lambda ctx: first_look)
    with pytest.raises(AirflowSensorTimeout) as caught:
        wait.execute(context)
    message = str(caught.value)
    assert message.startswith("near_source.cbs_customer has not published 2026-11-01 after 12 h")
    assert "orphans" in message and 't1_cbs` with {"data_date": "2026-11-01"}' in message
    assert message.endswith("then clear this task.")


def outlet_context(table: str, **run) -> tuple[dict, object]:
    from airflow.sdk.execution_time.context import OutletEventAccessor
    from airflow.sdk.definitions.asset import AssetUniqueKey

    from lakehouse.orchestration.dag_factory import table_asset

    asset = table_asset(table)
    accessor = OutletEventAccessor(key=AssetUniqueKey.from_asset(asset))
    context = {"dag_run": SimpleNamespace(run_after=None, **run), "logical_date": None,
               "task": SimpleNamespace(outlets=[asset], inlets=[asset]), "outlet_events": {asset: accessor},
               "inlet_events": {asset: []}}
    return context, accessor


def test_a_load_publishes_its_data_date_as_the_events_partition_key(monkeypatch):
    from lakehouse.orchestration import task_runtime

    answer = {"status": "succeeded", "promotable": True, "unchanged": False, "rows_in": 3, "rows_loaded": 3,
              "rows_quarantined": 0, "table_version": 7, "blocking_rules": [], "loaded_at": None}
    monkeypatch.setattr(task_runtime, "call_engine", lambda conf, payload, began: answer)
    context, outlet = outlet_context("near_source.cbs_customer", conf={"data_date": "2026-11-01"})
    task_runtime.load(REPO / "conf", {"name": "cbs.customer", "table": "near_source.cbs_customer"},
                      "Asia/Shanghai", context, 0.0)
    assert outlet.partition_keys == {"2026-11-01"}
    assert outlet.extra == {"data_dates": ["2026-11-01"], "table_version": 7, "rows": 3}


def test_a_layer_run_works_on_its_partition_key_or_on_the_date_it_was_given():
    from airflow.sdk.exceptions import AirflowFailException

    from lakehouse.orchestration.task_runtime import plan_dates

    def published(name, day):
        return SimpleNamespace(asset=SimpleNamespace(name=name), extra={"data_dates": [day]})

    events = {"a": [published("near_source.cbs_customer", "2026-11-01")],
              "b": [published("near_source.ref_product", "2026-11-01")]}
    run = SimpleNamespace(conf={}, partition_key="2026-11-01")
    plan = plan_dates({"dag_run": run, "partition_key": "2026-11-01", "triggering_asset_events": events})
    assert plan == {"all": False, "dates": {"2026-11-01": ["near_source.cbs_customer",
                                                          "near_source.ref_product"]}}
    by_hand = SimpleNamespace(conf={"data_date": "2026-11-03"}, partition_key=None)
    assert plan_dates({"dag_run": by_hand, "triggering_asset_events": {}}) == {
        "all": True, "dates": {"2026-11-03": []}}
    with pytest.raises(AirflowFailException, match='no partition key.*"data_date": "YYYY-MM-DD"'):
        plan_dates({"dag_run": SimpleNamespace(conf={}, partition_key=None), "triggering_asset_events": {}})
