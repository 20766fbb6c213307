"""The repo's DAGs under the real Airflow scheduler: one layer run per data date, and a load that
looks up another system's table waits for that table's date.

A temporary Airflow home with a SQLite database; ``airflow api-server`` and ``airflow scheduler``
(LocalExecutor) run as child processes on loopback, each in its own process group, stopped at
the end. The DAG folder holds one file that builds the DAGs from the checked-in manifest, as
``dags/lakehouse_dags.py`` does, with the sensors poking every 20 seconds instead of minutes. The
tasks are the real operators; the engine they call is the real engine service, answering from a
stub instead of Spark (what is measured here is the orchestration, not the loads), which records
every request it receives.

Every system's files of one date are delivered; the T-1 DAGs of ref, ccs and lns are triggered
for it first, and the credit card and loan loads wait for ``near_source.cbs_customer``. Then
``t1_cbs`` runs, every system publishes the date, and each layer DAG gets exactly one run for it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from tests.airflow_env import DAGS, REPO

pytestmark = pytest.mark.slow

D = date(2026, 11, 1)
AIRFLOW = Path(sys.executable).with_name("airflow")
LAYERS = ("layer_common", "layer_integrated", "layer_mart")  # as layer_runs() orders them
STARTUP_SECONDS, RUN_SECONDS = 240, 480

DAG_FILE = '''"""The lakehouse's Airflow DAGs: T-1 DAGs run when triggered, sensors poke every few seconds."""
from pathlib import Path

from airflow.sdk.definitions.timetables.simple import NullTimetable

from lakehouse.orchestration.dag_factory import build_dags
from lakehouse.orchestration.manifest import read

_MANIFEST = Path({manifest!r})
_DAGS = build_dags(read(_MANIFEST), _MANIFEST)
for _dag in _DAGS.values():
    if _dag.dag_id.startswith("t1_"):
        _dag.timetable = NullTimetable()  # no scheduled run of today competes with the test's date
    for _task in _dag.tasks:
        if hasattr(_task, "poke_interval"):
            _task.poke_interval = {poke}
globals().update(_DAGS)
'''
# A sensor rescheduled sooner than the scheduler handles its previous poke's executor event is
# marked failed ("task state changed externally"): on a busy 2-core machine that took up to 12 s.
POKE_SECONDS = 20

TRIGGER = '''
import json, sys
from airflow.api.common.trigger_dag import trigger_dag
from airflow.utils.types import DagRunTriggeredByType

for dag_id in sys.argv[2:]:
    trigger_dag(dag_id, run_id=f"{dag_id}__{sys.argv[1]}", conf={"data_date": sys.argv[1]},
                triggered_by=DagRunTriggeredByType.TEST)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StubEngine:
    """Answers every load, build and reconciliation as succeeded and records (op, source or model, date, time)."""

    def __init__(self):
        self.requests: list[tuple[str, str, str, float]] = []
        self._lock = threading.Lock()

    def execute(self, request: dict) -> dict:
        name = request.get("source") or request.get("model") or ""
        with self._lock:
            self.requests.append((request["op"], name, request.get("data_date", ""), time.time()))
        if request["op"] == "load":
            result = {"source": name, "table": "", "data_date": request["data_date"], "status": "succeeded",
                      "message": "loaded", "unchanged": False, "rows_in": 1, "rows_loaded": 1,
                      "rows_quarantined": 0, "table_version": 1, "promotable": True, "blocking_rules": [],
                      "loaded_at": None}
        elif request["op"] == "build":
            result = {"model": name, "table": "", "data_date": request["data_date"], "status": "succeeded",
                      "reason": "", "blocked_by": [], "rows": 1, "table_version": 1, "built_at": None}
        elif request["op"] == "reconcile":
            result = {"source": name, "data_date": request["data_date"], "status": "matched",
                      "events": 0, "batch_rows": 1, "only_in_events": 0, "only_in_batch": 0,
                      "differing": 0, "events_retired": 0}
        else:
            result = {"pid": os.getpid()}
        return {"ok": True, "result": result, "timing": None}

    def seen(self, op: str) -> list[tuple[str, str, float]]:
        with self._lock:
            return [(name, day, at) for kind, name, day, at in self.requests if kind == op]


class Airflow:
    """A throwaway Airflow: metadata DB, API server and scheduler as child processes."""

    def __init__(self, home: Path, env: dict):
        self.home, self.env, self.processes = home, env, []

    def cli(self, *args: str, timeout: float = STARTUP_SECONDS) -> str:
        done = subprocess.run([str(AIRFLOW), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.home)
        assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen([str(AIRFLOW), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=self.home, start_new_session=True)
        self.processes.append((name, process, log))

    def answering(self, url: str, seconds: float = STARTUP_SECONDS) -> None:
        """Wait until ``url`` answers (the API server takes a while to start)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.alive()
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except OSError:
                time.sleep(1)
        raise AssertionError(f"{url} did not answer within {seconds} s:\n{self.tail('api-server')}")

    def trigger(self, day: date, dag_ids: list[str]) -> None:
        done = subprocess.run([sys.executable, "-c", TRIGGER, day.isoformat(), *dag_ids], env=self.env,
                              capture_output=True, text=True, timeout=STARTUP_SECONDS, cwd=self.home)
        assert done.returncode == 0, done.stderr[-3000:]

    def alive(self) -> None:
        for name, process, _ in self.processes:
            assert process.poll() is None, f"{name} exited:\n{self.tail(name)}"

    def tail(self, name: str, lines: int = 60) -> str:
        return "\n".join((self.home / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # the process and the task runners it started
        for _, process, log in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
            log.close()

    def query(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        logs = sorted((self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}")
                      .glob("*.log"))
        lines = [json.loads(line) for line in logs[-1].read_text().splitlines()] if logs else []
        return "\n".join(f"{e.get('level')}: {e.get('event')} {e.get('error_detail', '')}" for e in lines
                         if e.get("level") != "debug")[-5000:]

    def task_states(self, dag_id: str) -> dict[str, str]:
        return dict(self.query("SELECT task_id, state FROM task_instance WHERE dag_id = ?", dag_id))

    def wait(self, what: str, condition, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.alive()
            failed = self.query("SELECT dag_id, run_id, task_id FROM task_instance WHERE state = 'failed'")
            assert not failed, f"failed tasks {failed}; the first one's log:\n{self.task_log(*failed[0])}"
            if condition():
                return
            time.sleep(1)
        raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}\n"
                             f"runs: {self.query('SELECT dag_id, run_id, state FROM dag_run')}\n"
                             f"scheduler log:\n{self.tail('scheduler')}")


def deliver(landing: Path, manifest: dict, system: str, day: date) -> None:
    from lakehouse.config.fields import dated_path

    for source in manifest["systems"][system]["sources"]:
        for path in (source["path"], source["control"]):
            if path:
                target = landing / dated_path(path, source["path_date_format"], day)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("delivered\n")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    from lakehouse.orchestration import engine_service, operations
    from lakehouse.orchestration.manifest import MANIFEST_FILE, read

    home = tmp_path_factory.mktemp("airflow-scheduler")
    manifest_path = DAGS / MANIFEST_FILE
    manifest = read(manifest_path)
    (home / "dags").mkdir()
    (home / "dags" / "lakehouse_dags.py").write_text(DAG_FILE.format(manifest=str(manifest_path), poke=POKE_SECONDS))
    landing = home / "landing"
    for system in manifest["systems"]:
        deliver(landing, manifest, system, D)
    key, address, api_port = secrets.token_hex(16), f"127.0.0.1:{free_port()}", free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LAKEHOUSE_"))},
           "PYTHONPATH": str(REPO),
           "AIRFLOW_HOME": str(home),
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
           "AIRFLOW__CORE__PARALLELISM": "4",
           "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
           "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
           "AIRFLOW__API__HOST": "127.0.0.1",
           "AIRFLOW__API__PORT": str(api_port),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
           "LAKEHOUSE_CONF": str(REPO / "conf"),
           "LAKEHOUSE_ROOT": str(home / "lakehouse"),
           "LAKEHOUSE_LANDING": str(landing),
           "LAKEHOUSE_REPORTS": str(home / "reports"),
           "LAKEHOUSE_ENGINE": "service",
           "LAKEHOUSE_ENGINE_ADDRESS": address,
           "LAKEHOUSE_ENGINE_KEY": key}
    stub = StubEngine()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEHOUSE_ENGINE_KEY", key)
        patch.setattr(operations, "execute", stub.execute)
        server = engine_service.EngineServer(address)
        server.start_in_thread()
        platform = Airflow(home, env)
        try:
            platform.cli("db", "migrate")
            platform.cli("dags", "reserialize")
            platform.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(api_port))
            platform.answering(f"http://127.0.0.1:{api_port}/execution/health")
            platform.start("scheduler", "scheduler")
            yield platform, stub, manifest, landing
        finally:
            platform.stop()
            server.stop()


def layer_runs(platform: Airflow) -> list[tuple]:
    return platform.query("SELECT dag_id, run_type, partition_key, state FROM dag_run "
                          "WHERE dag_id LIKE 'layer_%' ORDER BY dag_id, id")


def looks(platform: Airflow, at_least: int = 2) -> set[str]:
    """The DAGs whose ``wait_for_cbs_customer`` has looked ``at_least`` times and rescheduled."""
    return {dag_id for dag_id, n in platform.query(
        "SELECT ti.dag_id, count(*) FROM task_reschedule r JOIN task_instance ti ON ti.id = r.ti_id "
        "WHERE ti.task_id = 'wait_for_cbs_customer' GROUP BY ti.dag_id") if n >= at_least}


def test_one_date_of_every_system_gives_each_layer_one_run_after_cross_system_waits(airflow):
    platform, stub, manifest, landing = airflow
    systems = sorted(manifest["systems"])
    platform.trigger(D, [f"t1_{code}" for code in systems if code != "cbs"])

    # t1_cbs has not run yet: ref and lns.repayment load, card and loan wait for cbs_customer
    platform.wait("the loads that look up no cbs table", lambda: {n for n, _, _ in stub.seen("load")} >= {
        "ref.product", "ref.branch", "ref.code", "lns.repayment"}, RUN_SECONDS)
    platform.wait("two looks of t1_ccs and t1_lns for near_source.cbs_customer",
                  lambda: looks(platform) == {"t1_ccs", "t1_lns"}, RUN_SECONDS)
    loaded = {n for n, _, _ in stub.seen("load")}
    assert not loaded & {"cbs.customer", "ccs.card", "ccs.card_txn", "lns.loan"}, loaded
    for dag_id in ("t1_ccs", "t1_lns"):
        states = platform.task_states(dag_id)
        assert states["wait_for_cbs_customer"] != "success", states
        assert states[{"t1_ccs": "load_card", "t1_lns": "load_loan"}[dag_id]] is None, states
    assert layer_runs(platform) == []  # cbs has published nothing: no layer has all its inputs

    platform.trigger(D, ["t1_cbs"])
    platform.wait("one run of every layer DAG for the date", lambda: [
        r[0] for r in layer_runs(platform) if r[3] in ("success", "failed")] == list(LAYERS), RUN_SECONDS)
    time.sleep(5)  # a second run, if the gate let one through, would be created by now

    runs = layer_runs(platform)
    assert runs == [(layer, "asset_triggered", D.isoformat(), "success") for layer in LAYERS], runs
    # a T-1 DAG's tasks after its publish (the real-time reconciliation) may still be running
    def t1_states() -> dict:
        return {code: platform.query("SELECT state FROM dag_run WHERE dag_id = ?", f"t1_{code}")
                for code in systems}
    platform.wait("every T-1 run to end", lambda: all(
        states and states[0][0] in ("success", "failed") for states in t1_states().values()),
        RUN_SECONDS)
    assert t1_states() == {code: [("success",)] for code in systems}
    loads = {name: at for name, _, at in stub.seen("load")}
    assert {day for _, day, _ in stub.seen("load")} == {D.isoformat()}
    assert loads["cbs.customer"] < loads["ccs.card"] and loads["cbs.customer"] < loads["lns.loan"]
    builds = [(name, day) for name, day, _ in stub.seen("build")]
    models = sorted(m["name"] for models in manifest["layers"].values() for m in models)
    assert sorted(builds) == [(m, D.isoformat()) for m in models]  # each model once, for the date
