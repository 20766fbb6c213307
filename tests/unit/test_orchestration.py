"""Orchestration without Spark: the DAG manifest, DAG parsing, data dates, locks, schedules,
the engine client's errors and the delivery sensor."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

import tests.airflow_env as airflow_env
from lakehouse.config import load_project
from lakehouse.errors import ConfigError, TerminalError, TransientError
from lakehouse.zones.locks import TableBusy, lock_path, table_date_lock
from lakehouse.orchestration import data_dates, manifest

REPO = airflow_env.REPO
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def copy(tmp_path, monkeypatch) -> Path:
    for folder in ("conf", "quality_rules", "layers"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    for name in ("LAKEHOUSE_ROOT", "LAKEHOUSE_LANDING", "LAKEHOUSE_CONF"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


# -- the manifest ------------------------------------------------------------------------------

def test_the_checked_in_manifest_matches_conf_and_layers():
    problems = manifest.stale(load_project(REPO / "conf"))
    assert problems == [], "\n".join(p.render() for p in problems)


def test_a_changed_contract_makes_the_manifest_stale_with_the_fix(copy):
    project = load_project(copy / "conf")
    target = copy / "dags" / manifest.MANIFEST_FILE
    manifest.write(project, target)
    assert manifest.stale(project, target) == []
    contract = copy / "conf" / "sources" / "lns" / "loan.yaml"
    contract.write_text(contract.read_text().replace('expected_by: "06:00"', 'expected_by: "07:30"'))
    problems = manifest.stale(load_project(copy / "conf"), target)
    assert len(problems) == 1
    assert "systems: lns" in problems[0].message and "lakehouse dags compile" in problems[0].fix


def test_the_manifest_records_delivery_paths_order_and_model_inputs():
    compiled = json.loads((REPO / "dags" / manifest.MANIFEST_FILE).read_text())
    cbs = {s["name"]: s for s in compiled["systems"]["cbs"]["sources"]}
    assert cbs["cbs.account"]["after"] == ["cbs.customer"]
    assert cbs["cbs.customer"]["control"] == "cbs/{data_date}/customer_{data_date}.ctl"
    mart = {m["name"]: m for m in compiled["layers"]["mart"]}
    assert "near_source.lns_repayment_schedule" in mart["mart_risk_warning"]["inputs"]
    assert mart["mart_customer_360"]["after"] == ["mart_customer_label", "mart_risk_warning"]


def test_the_dag_folder_parses_without_spark_great_expectations_or_yaml():
    probe = (
        "import sys, time\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(airflow_env.DAGS)!r})\n"
        "heavy = [m for m in ('pyspark', 'great_expectations', 'ruamel.yaml', 'delta', "
        "'lakehouse.config', 'lakehouse.engine') if m in sys.modules]\n"
        "print(repr(bag.import_errors), sorted(bag.dags), heavy)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ}, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("{}"), last
    assert "'t1_cbs'" in last and "'layer_mart'" in last
    assert last.endswith("[]"), f"modules imported while parsing: {last}"


# -- schedules ---------------------------------------------------------------------------------

def test_sources_of_one_system_must_share_a_schedule(copy):
    contract = copy / "conf" / "sources" / "cbs" / "account.yaml"
    contract.write_text(contract.read_text().replace(
        'expected_by: "06:00"', 'expected_by: "06:00"\n  schedule: weekly', 1))
    with pytest.raises(ConfigError) as caught:
        load_project(copy / "conf")
    problem = next(p for p in caught.value.problems if p.key == "delivery.schedule")
    assert problem.file.endswith("account.yaml") and problem.line is not None
    assert "one T-1 DAG" in problem.message and "'daily'" in problem.fix


def test_a_schedule_is_a_named_one_or_a_cron_expression(copy):
    contract = copy / "conf" / "sources" / "ref" / "branch.yaml"
    text = contract.read_text()
    for system in ("branch", "code", "product"):
        path = copy / "conf" / "sources" / "ref" / f"{system}.yaml"
        path.write_text(path.read_text().replace('expected_by: "06:00"',
                                                 'expected_by: "06:00"\n  schedule: "30 0 * * *"', 1))
    project = load_project(copy / "conf")
    assert project.sources["ref.branch"].delivery.schedule == "30 0 * * *"
    contract.write_text(text.replace('expected_by: "06:00"', 'expected_by: "06:00"\n  schedule: "every day"', 1))
    with pytest.raises(ConfigError) as caught:
        load_project(copy / "conf")
    assert any("5-field cron" in p.message and p.key == "delivery.schedule" for p in caught.value.problems)


# -- data dates --------------------------------------------------------------------------------

def test_a_scheduled_run_loads_the_day_before_its_logical_date_in_the_lakehouse_time_zone():
    tick = datetime(2026, 11, 2, 1, 0, tzinfo=SHANGHAI)  # the 01:00 run on 2 November
    assert data_dates.of_run({}, tick, None, "Asia/Shanghai") == date(2026, 11, 1)
    # the same instant in UTC is still 1 November there
    assert data_dates.of_run(None, tick.astimezone(timezone.utc), None, "Asia/Shanghai") == date(2026, 11, 1)
    assert data_dates.of_run({"data_date": "2026-10-05"}, tick, None, "Asia/Shanghai") == date(2026, 10, 5)
    assert data_dates.of_run(None, None, tick, "Asia/Shanghai") == date(2026, 11, 1)


def test_a_wrong_data_date_is_a_terminal_error_with_the_fix():
    with pytest.raises(TerminalError) as caught:
        data_dates.of_run({"data_date": "2026-13-01"}, None, None, "Asia/Shanghai")
    assert caught.value.problems[0].key == "dag_run.conf.data_date"
    assert "YYYY-MM-DD" in caught.value.problems[0].fix
    with pytest.raises(TerminalError):
        data_dates.of_run({}, None, None, "Asia/Shanghai")


def test_data_dates_come_from_the_asset_events_extra():
    def event(name, *days):
        return SimpleNamespace(asset=SimpleNamespace(name=name), extra=data_dates.extra(days))

    events = {"a": [event("near_source.a", date(2026, 11, 1)), event("near_source.a", date(2026, 11, 2))],
              "b": [event("integrated.b", date(2026, 11, 2))], "c": [SimpleNamespace(
                  asset=SimpleNamespace(name="other"), extra={})]}
    assert data_dates.published(events) == {date(2026, 11, 1): {"near_source.a"},
                                            date(2026, 11, 2): {"near_source.a", "integrated.b"}}
    assert data_dates.deadline(date(2026, 11, 1), "06:00", "Asia/Shanghai") == datetime(
        2026, 11, 2, 6, 0, tzinfo=SHANGHAI)
    assert data_dates.deadline(date(2026, 11, 1), None, "Asia/Shanghai") is None


# -- locks -------------------------------------------------------------------------------------

def test_a_second_run_of_the_same_table_and_date_is_refused_until_the_first_is_done(tmp_path):
    root = str(tmp_path)
    with table_date_lock(root, "near_source.cbs_customer", date(2026, 11, 1), "run-1"):
        with pytest.raises(TableBusy) as caught:
            with table_date_lock(root, "near_source.cbs_customer", date(2026, 11, 1), "run-2"):
                pass
        assert caught.value.transient and "run-1" in caught.value.render()
        # another date or another table is free
        with table_date_lock(root, "near_source.cbs_customer", date(2026, 11, 2), "run-2"):
            pass
        with table_date_lock(root, "near_source.cbs_account", date(2026, 11, 1), "run-2"):
            pass
    assert not lock_path(root, "near_source.cbs_customer", date(2026, 11, 1)).exists()
    with table_date_lock(root, "near_source.cbs_customer", date(2026, 11, 1), "run-2"):
        pass


def test_a_lock_left_by_a_dead_process_is_taken_over_but_not_one_of_another_host(tmp_path):
    import socket

    root, day = str(tmp_path), date(2026, 11, 1)
    path = lock_path(root, "t", day)
    path.parent.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    path.write_text(json.dumps({"holder": "crashed", "host": socket.gethostname(), "pid": int(dead)}))
    with table_date_lock(root, "t", day, "run-2"):
        assert json.loads(path.read_text())["holder"] == "run-2"
    path.write_text(json.dumps({"holder": "elsewhere", "host": "another-host", "pid": 1}))
    with pytest.raises(TableBusy, match="elsewhere"):
        with table_date_lock(root, "t", day, "run-3"):
            pass


# -- the engine client and the task runtime ----------------------------------------------------

def test_an_engine_that_does_not_answer_is_a_transient_error_that_names_the_fix(monkeypatch):
    from lakehouse.orchestration.engine_service import request

    monkeypatch.setenv("LAKEHOUSE_ENGINE_KEY", "k")
    with pytest.raises(TransientError) as caught:
        request("127.0.0.1:1", {"op": "ping"}, connect_timeout=0.3)
    assert "lakehouse engine serve" in caught.value.render()


def test_an_unknown_operation_is_refused_without_retry():
    from lakehouse.orchestration import operations

    answer = operations.execute({"op": "drop_everything"})
    assert answer == {"ok": False, "transient": False, "error": "unknown operation 'drop_everything'"}


def context_for(day: date) -> dict:
    return {"dag_run": SimpleNamespace(conf={"data_date": day.isoformat()}, run_after=None),
            "logical_date": None}


def test_the_delivery_sensor_waits_then_fails_with_the_missing_files_once_overdue(copy, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from lakehouse.orchestration import task_runtime

    compiled = manifest.compile_manifest(load_project(copy / "conf"), copy / "dags" / "m.json")
    source = next(s for s in compiled["systems"]["cbs"]["sources"] if s["name"] == "cbs.customer")
    landing = copy / "landing"
    overdue = date(2026, 11, 1)
    with pytest.raises(AirflowFailException) as caught:
        task_runtime.delivery_arrived(copy / "conf", source, "Asia/Shanghai", context_for(overdue))
    message = str(caught.value)
    assert "customer_20261101.csv" in message and "customer_20261101.ctl" in message
    assert "li.na" in message and "clear this task" in message
    # not yet due: keep waiting
    today = datetime.now(SHANGHAI).date()
    assert task_runtime.delivery_arrived(copy / "conf", source, "Asia/Shanghai", context_for(today)) is False
    # the data file alone is not enough: the control file says the delivery is complete
    folder = landing / "cbs" / f"{overdue:%Y%m%d}"
    folder.mkdir(parents=True)
    (folder / "customer_20261101.csv").write_text("x")
    with pytest.raises(AirflowFailException, match=re.escape("customer_20261101.ctl")):
        task_runtime.delivery_arrived(copy / "conf", source, "Asia/Shanghai", context_for(overdue))
    (folder / "customer_20261101.ctl").write_text("x")
    assert task_runtime.delivery_arrived(copy / "conf", source, "Asia/Shanghai", context_for(overdue))


def test_dags_compile_check_fails_on_a_stale_manifest(copy):
    from typer.testing import CliRunner

    from lakehouse.cli.commands import app

    runner = CliRunner()
    done = runner.invoke(app, ["dags", "compile", "--conf", str(copy / "conf")])
    assert done.exit_code == 0, done.output
    assert (copy / "dags" / manifest.MANIFEST_FILE).is_file()
    done = runner.invoke(app, ["dags", "compile", "--check", "--conf", str(copy / "conf")])
    assert done.exit_code == 0 and "is current" in done.output
    model = copy / "layers" / "mart" / "mart_risk_warning.yaml"
    model.write_text(model.read_text().replace("owner:", "owner: chen.jie\n# was:", 1))
    (copy / "layers" / "mart" / "mart_extra.yaml").write_text(
        (copy / "layers" / "mart" / "mart_customer_label.yaml").read_text()
        .replace("name: mart_customer_label", "name: mart_extra"))
    done = runner.invoke(app, ["dags", "compile", "--check", "--conf", str(copy / "conf")])
    assert done.exit_code != 0
    assert "out of date" in str(done.exception) and "layers: mart" in str(done.exception)


def test_the_time_zone_and_a_due_time_give_the_deadline_in_that_zone():
    due = data_dates.deadline(date(2026, 12, 31), "23:30", "Asia/Shanghai")
    assert due.tzinfo == SHANGHAI and due.date() == date(2027, 1, 1)
    assert due - datetime(2027, 1, 1, tzinfo=SHANGHAI) == timedelta(hours=23, minutes=30)


def test_transient_answers_raise_a_retryable_error_and_terminal_ones_fail_the_task(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from lakehouse.orchestration import task_runtime

    def answering(answer):
        monkeypatch.setattr(task_runtime, "engine_answer", lambda conf, payload: ("service", answer))

    answering({"ok": False, "transient": True, "error": "Py4JNetworkError: the JVM went away"})
    with pytest.raises(TransientError) as caught:
        task_runtime.call_engine(Path("conf"), {"op": "load"}, 0.0)
    assert not isinstance(caught.value, AirflowFailException) and "retries" in str(caught.value)
    answering({"ok": False, "transient": False, "error": "delivery refused: keys repeated"})
    with pytest.raises(AirflowFailException, match="delivery refused: keys repeated"):
        task_runtime.call_engine(Path("conf"), {"op": "load"}, 0.0)
    answering({"ok": True, "result": {"status": "succeeded"},
               "timing": {"received": 1.0, "work_started": 1.1, "finished": 2.0}})
    assert task_runtime.call_engine(Path("conf"), {"op": "load"}, 1.0) == {"status": "succeeded"}


def test_known_passing_trouble_is_transient_and_anything_else_is_not():
    from lakehouse import errors

    py4j = type("Py4JNetworkError", (Exception,), {"__module__": "py4j.protocol"})
    conflict = type("ConcurrentAppendException", (Exception,), {"__module__": "delta.exceptions.captured"})
    family = errors.transient_family
    assert family(ConnectionResetError("reset by peer")) == errors.NETWORK
    assert family(TimeoutError("timed out")) == errors.NETWORK
    assert family(OSError(5, "Input/output error")) == errors.STORAGE
    assert family(py4j("Answer from Java side is empty")) == errors.SPARK_CONNECTION
    assert family(conflict("files were added by a concurrent update")) == errors.TABLE_BUSY
    assert family(TableBusy("cbs.customer is held by run-1")) == errors.TABLE_BUSY
    assert family(TransientError("the engine closed the connection")) == "transient TransientError"
    for bug in (ValueError("bad"), KeyError("x"), TypeError("y"), FileNotFoundError("/no/such"),
                PermissionError("denied"), TerminalError("refused")):
        assert family(bug) is None, bug


def test_an_unexpected_error_is_terminal_says_so_and_logs_its_traceback(monkeypatch, caplog):
    from lakehouse.orchestration import operations

    def broken(request):
        raise ValueError("cannot convert 'abc'\nsecond line with more detail")

    monkeypatch.setitem(operations._OPS, "load", broken)
    with caplog.at_level("ERROR", logger="lakehouse.orchestration.operations"):
        answer = operations.execute({"op": "load", "source": "cbs.customer"})
    assert answer["ok"] is False and answer["transient"] is False
    error = answer["error"]
    assert error.startswith("unexpected error in load cbs.customer, not retried: "
                            "ValueError: cannot convert 'abc'.")
    assert "second line" not in error and f"pid {os.getpid()}" in error
    incident = re.search(r"incident (\w+)", error).group(1)
    [record] = [r for r in caplog.records if incident in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is ValueError
    logged = _logged(caplog)  # the text, whatever formatter Airflow or GE put on the handlers
    assert "second line with more detail" in logged and "in broken" in logged


def test_passing_trouble_in_the_engine_is_retried_with_its_family_named(monkeypatch, caplog):
    from lakehouse.orchestration import operations

    def unplugged(request):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setitem(operations._OPS, "build", unplugged)
    with caplog.at_level("WARNING", logger="lakehouse.orchestration.operations"):
        answer = operations.execute({"op": "build", "model": "mart_x"})
    assert answer == {"ok": False, "transient": True,
                      "error": "network or connection trouble: ConnectionResetError: connection reset by peer"}
    logged = _logged(caplog)
    assert "a retry may succeed" in logged and "Traceback" in logged


def _logged(caplog) -> str:
    """The captured records as plain text with their tracebacks."""
    import logging

    plain = logging.Formatter("%(levelname)s %(message)s")
    return "\n".join(plain.format(r) for r in caplog.records)


def test_an_unexpected_engine_error_fails_the_task_at_once(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from lakehouse.orchestration import operations, task_runtime

    monkeypatch.setitem(operations._OPS, "load", lambda request: 1 / 0)
    monkeypatch.setattr(task_runtime, "engine_answer",
                        lambda conf, payload: ("in_process", operations.execute(payload)))
    with pytest.raises(AirflowFailException, match="unexpected error in load.*ZeroDivisionError"):
        task_runtime.call_engine(Path("conf"), {"op": "load", "source": "cbs.customer"}, 0.0)
    monkeypatch.setitem(operations._OPS, "load", lambda request: (_ for _ in ()).throw(
        TableBusy("cbs.customer for 2026-11-01 is held by run-1")))
    with pytest.raises(TransientError, match="retries") as caught:
        task_runtime.call_engine(Path("conf"), {"op": "load", "source": "cbs.customer"}, 0.0)
    assert not isinstance(caught.value, AirflowFailException)
