"""Airflow overhead: DAG-folder parse time for 200 sources, and per-task overhead to Spark.

1. Parse. A synthetic project of ``--sources`` contracts (20 systems; the demo bank's layers)
   is compiled into a DAG manifest (``lakehouse dags compile``); a fresh process then fills an
   Airflow DagBag from the DAG folder, as the DAG processor does, ``--repeat`` times. Baseline,
   same run: a DAG file that read the registry itself would pay ``load_project`` on every parse.
2. Per-task overhead: from the moment a task starts (operator ``execute``) to the first Spark
   work, in a fresh process per task as Airflow's executors start them. Ours: the task sends its
   work to the resident engine (``lakehouse engine serve``, started once). Baseline, same run:
   ``engine: in_process``, where each task starts its own JVM with Delta Lake.

    .venv/bin/python benchmarks/airflow_overhead.py
    .venv/bin/python benchmarks/airflow_overhead.py --sources 200 --tasks 10 --cold-tasks 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SYSTEMS = 20


def synthetic_project(work: Path, sources: int) -> Path:
    """The repo's project plus systems ``s01``.. and cloned contracts, ``sources`` in all."""
    for folder in ("conf", "quality_rules", "layers"):
        shutil.copytree(REPO / folder, work / folder)
    template = (REPO / "conf" / "sources" / "cbs" / "account.yaml").read_text()
    system = (REPO / "conf" / "systems.yaml").read_text()
    cbs = system[system.index("  - code: cbs"):system.index("  - code: ccs")]
    existing = len(list((REPO / "conf" / "sources").rglob("*.yaml")))
    extra_systems, made = [], existing
    for n in range(1, SYSTEMS + 1):
        code = f"s{n:02d}"
        extra_systems.append(cbs.replace("code: cbs", f"code: {code}"))
        folder = work / "conf" / "sources" / code
        folder.mkdir(parents=True)
        for e in range((sources - existing) // SYSTEMS + (1 if n <= (sources - existing) % SYSTEMS else 0)):
            entity = f"account{e:02d}"
            text = re.sub(r"^system: cbs$", f"system: {code}", template, flags=re.M)
            text = re.sub(r"^entity: account$", f"entity: {entity}", text, flags=re.M)
            text = text.replace("cbs/{data_date}/account_", f"{code}/{{data_date}}/{entity}_")
            (folder / f"{entity}.yaml").write_text(text)
            made += 1
    (work / "conf" / "systems.yaml").write_text(system + "".join(extra_systems))
    assert made == sources, made
    return work / "conf"


PARSE = """
import json, sys, time
began = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
parsed = time.perf_counter()
assert not bag.import_errors, bag.import_errors
print("RESULT", json.dumps({"airflow_import": imported - began, "parse": parsed - imported, "dags": len(bag.dags),
                  "tasks": sum(len(d.tasks) for d in bag.dags.values())}))
"""

LOAD_REGISTRY = """
import json, sys, time
from lakehouse.config import load_project
began = time.perf_counter()
project = load_project(sys.argv[1])
print("RESULT", json.dumps({"seconds": time.perf_counter() - began, "sources": len(project.sources)}))
"""

TASK = """
import json, sys, time
from pathlib import Path
import airflow.sdk  # loaded by Airflow's task runner before execute(), with the DAG file:
from lakehouse.orchestration import dag_factory  # noqa: F401
began = time.time()  # the operator's execute() starts here (LoadOperator, BuildModelOperator)
from lakehouse.orchestration import task_runtime
mode, answer = task_runtime.engine_answer(Path(sys.argv[1]), {"op": "ping"})
assert answer["ok"], answer
print("RESULT", json.dumps({"mode": mode, "overhead": answer["timing"]["work_started"] - began,
                  "pid": answer["result"]["pid"]}))
"""


def run_json(code: str, *args: str, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env or os.environ.copy(), cwd=REPO, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"failed:\n{done.stderr[-3000:]}")
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(work: Path, dags: Path) -> dict:
    home = work / "airflow"
    home.mkdir(exist_ok=True)
    return {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"}


def measure_parse(work: Path, sources: int, repeat: int) -> None:
    from lakehouse.config import load_project
    from lakehouse.orchestration import manifest

    conf = synthetic_project(work / "project", sources)
    dags = work / "project" / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / "lakehouse_dags.py", dags)
    began = time.perf_counter()
    manifest.write(load_project(conf), dags / manifest.MANIFEST_FILE)
    compiled = time.perf_counter() - began
    env = airflow_env(work, dags)
    parses = [run_json(PARSE, str(dags), env=env) for _ in range(repeat)]
    registry = [run_json(LOAD_REGISTRY, str(conf))["seconds"] for _ in range(max(1, repeat // 2))]
    parse = statistics.median(p["parse"] for p in parses)
    baseline = statistics.median(registry)
    size = (dags / manifest.MANIFEST_FILE).stat().st_size
    print(f"DAG folder for {sources} sources: {parses[0]['dags']} DAGs, {parses[0]['tasks']} tasks, "
          f"manifest {size / 1024:.0f} KiB (compiled in {compiled:.2f} s)")
    print(f"  parse (DagBag fill, median of {repeat} fresh processes): {parse:.3f} s  "
          f"[min {min(p['parse'] for p in parses):.3f}, max {max(p['parse'] for p in parses):.3f}; "
          f"importing Airflow itself: {statistics.median(p['airflow_import'] for p in parses):.2f} s]")
    print(f"  baseline, reading the YAML registry at parse time: {baseline:.3f} s  "
          f"-> {baseline / parse:.1f}x the manifest parse")
    print(f"  under 1 second: {'yes' if parse < 1 else 'NO'}")


def measure_tasks(work: Path, tasks: int, cold_tasks: int) -> None:
    project = work / "engine"
    for folder in ("conf", "quality_rules", "layers"):
        shutil.copytree(REPO / folder, project / folder)
    conf = project / "conf"
    env = {**os.environ, "LAKEHOUSE_ROOT": str(project / "lakehouse"),
           "LAKEHOUSE_LANDING": str(project / "landing"), "LAKEHOUSE_ENGINE_KEY": secrets.token_hex(16),
           "LAKEHOUSE_ENGINE_ADDRESS": f"127.0.0.1:{free_port()}", "LAKEHOUSE_ENGINE": "service",
           "LAKEHOUSE_SPARK_MASTER": "local[2]"}
    began = time.perf_counter()
    server = subprocess.Popen([str(Path(sys.executable).with_name("lakehouse")), "engine", "serve",
                               "--conf", str(conf)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if "lakehouse engine ready" in line:
                break
        else:
            raise SystemExit("the engine service did not start")
        startup = time.perf_counter() - began
        warm = [run_json(TASK, str(conf), env=env) for _ in range(tasks)]
    finally:
        server.terminate()
        server.wait(timeout=60)
    cold_env = {**env, "LAKEHOUSE_ENGINE": "in_process"}
    cold = [run_json(TASK, str(conf), env=cold_env) for _ in range(cold_tasks)]
    ours = statistics.median(t["overhead"] for t in warm)
    baseline = statistics.median(t["overhead"] for t in cold)
    print(f"Per-task overhead, task start to first Spark work ({tasks} tasks, a fresh process each):")
    print(f"  engine service (started once in {startup:.1f} s, one JVM, pid "
          f"{warm[0]['pid']}): median {ours:.3f} s, max {max(t['overhead'] for t in warm):.3f} s")
    print(f"  baseline, in_process (each task starts Spark + Delta; {cold_tasks} tasks): median "
          f"{baseline:.2f} s  -> {baseline / ours:.0f}x ours")
    print(f"  under 2 seconds: {'yes' if ours < 2 else 'NO'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5, help="fresh-process parses to take the median of")
    ap.add_argument("--tasks", type=int, default=10, help="tasks sent to the engine service")
    ap.add_argument("--cold-tasks", type=int, default=3, help="in-process tasks (baseline)")
    add_workdir_options(ap)
    args = ap.parse_args()
    with workdir(ap, args, "airflow-overhead-") as work:
        measure_parse(work, args.sources, args.repeat)
        measure_tasks(work, args.tasks, args.cold_tasks)


if __name__ == "__main__":
    main()
