"""The real-time zone's declarations without Spark: a contract's feed and the real-time apps,
their located errors, the manifest and DAGs they give, and which dates a change fold touches."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

import tests.airflow_env as airflow_env
from lakehouse.config import load_project
from lakehouse.config.realtime_apps import load_apps
from lakehouse.errors import ConfigError
from lakehouse.realtime.change_zipper import fold_dates

REPO = airflow_env.REPO


@pytest.fixture
def copy(tmp_path, monkeypatch) -> Path:
    for folder in ("conf", "quality_rules", "layers", "realtime"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    for name in ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING", "LAKEHOUSE_CONF"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _problems(call) -> list:
    with pytest.raises(ConfigError) as caught:
        call()
    return caught.value.problems


def test_the_demo_card_transactions_declare_a_feed_and_others_keep_their_contract_hash(copy):
    project = load_project(copy / "conf")
    feed = project.sources["ccs.card_txn"].realtime
    assert (feed.kind, feed.transport, feed.event_time, feed.watermark_seconds) == (
        "business_events", "files", "txn_time", 600)
    assert project.sources["cbs.customer"].realtime is None
    assert "realtime" not in project.sources["cbs.customer"].model_dump_json(exclude_none=True)


def test_feed_mistakes_are_located_with_a_fix(copy):
    contract = copy / "conf" / "sources" / "ccs" / "card_txn.yaml"
    text = contract.read_text().replace("event_time: txn_time", "event_time: amount") \
        .replace("watermark: 10 minutes ", "watermark: soon ").replace("transport: files ", "transport: kafak ")
    contract.write_text(text)
    problems = _problems(lambda: load_project(copy / "conf"))
    found = {p.key: (p.line, p.fix) for p in problems}
    lines = text.splitlines()
    assert "realtime.transport" in found and "did you mean 'kafka'" in found["realtime.transport"][1]
    assert lines[found["realtime.watermark"][0] - 1].strip().startswith("watermark: soon")
    assert found["realtime.watermark"][1].startswith("write a number and a unit")


def test_cross_key_feed_rules(copy):
    contract = copy / "conf" / "sources" / "ccs" / "card_txn.yaml"
    contract.write_text(contract.read_text().replace("event_time: txn_time", "event_time: amount")
                        .replace("amount: amount ", "amount: merchant_name ")
                        .replace("  path: realtime/ccs/card_txn\n", ""))
    problems = {p.key: p for p in _problems(lambda: load_project(copy / "conf"))}
    assert problems["realtime.event_time"].message == "event_time 'amount' is a decimal(18,2), not a timestamp"
    assert problems["realtime.amount"].fix == "name a decimal or integer attribute"
    assert problems["realtime.path"].fix == "add path: realtime/ccs/card_txn"
    assert all(p.file.endswith("sources/ccs/card_txn.yaml") and p.line for p in problems.values())


def _without_delivery(contract: Path) -> str:
    """The contract's text without its ``delivery:`` block."""
    lines, kept, inside = contract.read_text().splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("delivery:"):
            inside = True
            continue
        if inside and (line.startswith(" ") or not line.strip()):
            continue
        inside = False
        kept.append(line)
    return "".join(kept)


def test_a_contract_needs_an_extract_or_a_feed_and_a_feed_only_load_type(copy):
    customer = copy / "conf" / "sources" / "cbs" / "customer.yaml"
    customer.write_text(_without_delivery(customer))
    problems = _problems(lambda: load_project(copy / "conf"))
    assert [(p.key, p.file.endswith("cbs/customer.yaml")) for p in problems] == [("delivery", True)]
    assert "neither a T-1 extract (delivery) nor a real-time feed" in problems[0].message

    customer.write_text(customer.read_text() + "realtime:\n  kind: business_events\n"
                        "  path: realtime/cbs/customer\n")
    problems = {p.key: p for p in _problems(lambda: load_project(copy / "conf"))}
    assert problems["load_type"].message == ("without a T-1 extract the near-source table is kept "
                                             "from the feed's business events, so its load type is "
                                             "append, not zipper")
    assert problems["load_type"].line == 6
    assert problems["load_type"].fix == "set load_type: append, or declare the T-1 extract under delivery"

    customer.write_text(customer.read_text().replace("kind: business_events", "kind: change_events"))
    project = load_project(copy / "conf")
    assert project.sources["cbs.customer"].feed_only
    assert not project.sources["cbs.account"].feed_only
    customer.write_text(customer.read_text() + "incremental:\n  updated_at: open_date\n")
    problems = _problems(lambda: load_project(copy / "conf"))
    assert any(p.key == "incremental" and "needs the T-1 extract" in p.message for p in problems)


def test_a_feed_only_source_loads_from_its_feed_in_its_systems_dag(copy):
    from lakehouse.orchestration import manifest
    from lakehouse.orchestration.dag_factory import build_dags

    customer = copy / "conf" / "sources" / "cbs" / "customer.yaml"
    customer.write_text(_without_delivery(customer) + "realtime:\n  kind: change_events\n"
                        "  path: realtime/cbs/customer\n")
    project = load_project(copy / "conf")
    path = copy / "dags" / "lakehouse_manifest.json"
    compiled = manifest.compile_manifest(project, path)
    entry = next(s for s in compiled["systems"]["cbs"]["sources"] if s["name"] == "cbs.customer")
    assert (entry["feed_only"], entry["path"], entry["realtime"]) == (True, None, True)
    assert compiled["systems"]["cbs"]["schedule"] == "daily"
    t1 = build_dags(compiled, path)["t1_cbs"]
    assert "wait_customer" not in t1.task_ids and "reconcile_customer" not in t1.task_ids
    assert t1.get_task("load_customer").upstream_task_ids == set()
    assert "wait_account" in t1.task_ids


def test_apps_load_and_their_mistakes_are_located(copy):
    project = load_project(copy / "conf")
    apps = load_apps(copy, project.sources)
    assert {a.kind for a in apps.values()} == {"risk_warning", "customer_tag"}
    assert "count(*) >= 5" in apps["rt_card_txn_burst"].bound_sql()
    app = copy / "realtime" / "rt_card_txn_burst.yaml"
    app.write_text(app.read_text().replace("input: ccs.card_txn", "input: cbs.customer")
                   .replace("  min_txns: 5 ", "  least: 5 ").replace("kind: risk_warning", "kind: alarm"))
    problems = _problems(lambda: load_apps(copy, project.sources))
    assert [(p.key, p.file) for p in problems] == [("kind", "realtime/rt_card_txn_burst.yaml")]
    app.write_text(app.read_text().replace("kind: alarm", "kind: risk_warning"))
    problems = {p.key: p for p in _problems(lambda: load_apps(copy, project.sources))}
    assert problems["input"].fix == "name one of ccs.card_txn" and problems["input"].line == 6
    assert problems["sql"].message == "sql uses :min_txns but params does not set it"


def test_manifest_and_dags_reconcile_after_the_load_and_watch_the_feeds():
    from lakehouse.orchestration import manifest
    from lakehouse.orchestration.dag_factory import build_dags

    path = REPO / "dags" / "lakehouse_manifest.json"
    compiled = manifest.read(path)
    assert compiled["realtime_feeds"] == [{"name": "ccs.card_txn", "kind": "business_events",
                                           "transport": "files", "owner": "wang.fang"}]
    dags = build_dags(compiled, path)
    t1 = dags["t1_ccs"]
    assert t1.get_task("reconcile_card_txn").upstream_task_ids == {"load_card_txn"}
    assert [t.task_id for t in dags["lakehouse_realtime"].tasks] == ["watch_ccs_card_txn"]
    assert dags["lakehouse_realtime"].is_paused_upon_creation  # it starts processes: opt in


def test_applying_a_date_refolds_it_and_every_applied_date_after_it():
    d = [date(2026, 11, day) for day in range(1, 6)]
    assert fold_dates(d[2], [d[0], d[4], d[3]]) == [d[2], d[3], d[4]]
    assert fold_dates(d[4], [d[0], d[1]]) == [d[4]]
