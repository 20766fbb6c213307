"""Scale-out is configuration only: the same T-1 load against a Spark standalone cluster.

The test starts a master and one worker on loopback, runs `lakehouse run` in a separate
process with LAKEHOUSE_SPARK_MASTER pointing at it, and reads the result back
with the local engine (the files are encrypted at rest by the cluster with the project's keys).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from lakehouse.config import load_project
from lakehouse.demo.delivery_writer import write_delivery

from .test_near_source_loads import customer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SPARK_CLASS = Path(sys.executable).parent.parent / "lib/python3.11/site-packages/pyspark/bin/spark-class"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import pyspark

    if not SPARK_CLASS.exists():
        pytest.skip(f"spark-class not found at {SPARK_CLASS}")
    logs = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "SPARK_HOME": str(Path(pyspark.__file__).parent),
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(logs / "work")}
    port, ui = free_port(), free_port()
    master = subprocess.Popen(
        [str(SPARK_CLASS), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(port), "--webui-port", str(ui)],
        env=env, stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT)
    worker = None
    try:
        wait_for_port(port, 60)
        worker = subprocess.Popen(
            [str(SPARK_CLASS), "org.apache.spark.deploy.worker.Worker",
             f"spark://127.0.0.1:{port}", "--host", "127.0.0.1", "--cores", "1",
             "--memory", "1g", "--webui-port", str(free_port())],
            env=env, stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT)
        yield f"spark://127.0.0.1:{port}", logs / "master.log"
    finally:
        for process in (worker, master):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_t1_load_on_a_standalone_cluster(cluster, tmp_path, engine):
    from lakehouse.api import Lakehouse

    master_url, master_log = cluster
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    env = {**os.environ, "LAKEHOUSE_ROOT": str(tmp_path / "lakehouse"),
           "LAKEHOUSE_LANDING": str(tmp_path / "landing"), "LAKEHOUSE_SPARK_MASTER": master_url,
           "PYSPARK_PYTHON": sys.executable}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    project = load_project(tmp_path / "conf")
    contract = project.sources["cbs.customer"]
    d1, d2 = date(2026, 11, 1), date(2026, 11, 2)
    write_delivery(contract, tmp_path / "landing", d1, [customer("C1"), customer("C2")])
    write_delivery(contract, tmp_path / "landing", d2, [customer("C1", "13900000009")])
    # registered in this process (the shared local engine) to save a cluster application's start
    local = Lakehouse(tmp_path / "conf", engine=engine, root=env["LAKEHOUSE_ROOT"],
                      landing=env["LAKEHOUSE_LANDING"])
    registered = local.register(tmp_path / "conf/sources/cbs/customer.yaml", by="test")
    assert [r.status for r in registered] == ["registered"]
    commands = [["run", "--date", day.isoformat(), "--source", "cbs.customer"] for day in (d1, d2)]
    for command in commands:
        done = subprocess.run([sys.executable, "-m", "lakehouse.cli", *command,
                               "--conf", str(tmp_path / "conf")],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    # read back by the local engine with the project's keys: the cluster wrote its files encrypted
    path = tmp_path / "lakehouse/standard/near_source/cbs_customer"
    rows = [tuple(r.values()) for r in local.engine.sql(
        "SELECT customer_id, mobile, CAST(start_dt AS STRING) AS s, CAST(end_dt AS STRING) AS e "
        f"FROM delta.`{path}` ORDER BY customer_id, start_dt")]
    assert rows == [
        ("C1", "13800000001", "2026-11-01", "2026-11-02"),
        ("C1", "13900000009", "2026-11-02", "9999-12-31"),
        ("C2", "13800000001", "2026-11-01", "2026-11-02"),
    ]
    # both runs were applications of the cluster, not a local engine
    assert master_log.read_text().count("Registering app lakehouse") == 2

