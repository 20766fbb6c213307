"""Customer 360 by party id: the published data service on loopback against the same lookup
answered by Spark SQL per request.

    .venv/bin/python benchmarks/services.py                         # 100,000 customers, 20 s of load
    .venv/bin/python benchmarks/services.py --customers 10000 --seconds 5   # quick

Writes one data date of a customer 360 mart (synthetic, ``--customers`` rows, with delta-rs) and a
risk warning mart into a project in the work folder, publishes the demo services (customer_360's
rate limit lifted, so that no answer is a fast 429), issues an API
key for ``app.customer_desk`` (a masked role: the masking is part of every answer) and starts
``lakehouse serve`` in its own process on a free loopback port. Then:

- **service**: a real HTTP load generator on loopback for ``--seconds``: ``hey`` when it is
  installed (``make setup`` installs it), else a multi-process asyncio httpx client, ``--concurrency``
  connections, party ids drawn at random (httpx) or one party id (hey); every call is audited.
  With hey, two runs: as fast as it goes (requests/s), then held at 500 requests/s (the latency
  at the goal's rate);
- **Spark SQL**: ``--spark-requests`` lookups of random party ids, one Spark SQL query each
  (``SELECT ... FROM delta.`<mart>` WHERE data_date = ... AND party_id = ...``) on a local
  Spark session of 2 cores, after one warm-up query.

Prints p50/p99 latency and requests/s of each, the ratios (Spark / service latency, service /
Spark throughput), whether the goal (p99 <= 20 ms, >= 500 requests/s) was met, and a last JSON
line for tooling. The audit records written must equal the calls answered 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

DATA_DATE = date(2026, 11, 1)
GOAL_P99_MS, GOAL_RPS = 20.0, 500.0


def _percentiles(milliseconds: list[float]) -> dict:
    ordered = sorted(milliseconds)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None}
    return {"p50_ms": round(ordered[len(ordered) // 2], 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}


def _wait_ready(base: str, server: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server on {base} did not become ready in {timeout:g} s")


# -- the load generators -----------------------------------------------------------------------

def _hey(url: str, key: str, seconds: float, concurrency: int, rate: float | None = None) -> dict:
    held = ["-q", f"{rate / concurrency:g}"] if rate else []
    done = subprocess.run(["hey", "-z", f"{seconds:g}s", "-c", str(concurrency), *held, "-H",
                           f"X-API-Key: {key}", "-o", "csv", url], capture_output=True, text=True, check=True)
    latencies, statuses = [], {}
    for line in done.stdout.splitlines()[1:]:
        fields = line.split(",")
        latencies.append(float(fields[0]) * 1000)
        statuses[int(fields[6])] = statuses.get(int(fields[6]), 0) + 1
    return {"generator": f"hey -c {concurrency}" + (f" at {rate:g}/s" if rate else ""), "latencies": latencies, "statuses": statuses,
            "seconds": seconds}


async def _httpx_worker(base: str, key: str, deadline: float, customers: int, connections: int, out):
    import httpx

    latencies, statuses = [], {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, limits=limits) as client:
        async def loop():
            while time.monotonic() < deadline:
                party = f"P{random.randrange(customers):08d}"
                began = time.perf_counter()
                answer = await client.get("/services/customer_360", params={"party_id": party})
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        await asyncio.gather(*(loop() for _ in range(connections)))
    out.put((latencies, statuses))


def _httpx_process(base, key, deadline, customers, connections, out):
    asyncio.run(_httpx_worker(base, key, deadline, customers, connections, out))


def _httpx(base: str, key: str, seconds: float, concurrency: int, processes: int, customers: int) -> dict:
    out = multiprocessing.Queue()
    deadline = time.monotonic() + seconds
    workers = [multiprocessing.Process(target=_httpx_process, args=(
        base, key, deadline, customers, max(1, concurrency // processes), out)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    latencies, statuses = [], {}
    for _ in workers:
        found, counted = out.get()
        latencies += found
        for status, n in counted.items():
            statuses[status] = statuses.get(status, 0) + n
    for worker in workers:
        worker.join()
    return {"generator": f"httpx asyncio, {processes} processes x {max(1, concurrency // processes)} "
                         "connections", "latencies": latencies, "statuses": statuses, "seconds": seconds}


# -- Spark SQL per request ---------------------------------------------------------------------

def _spark(path: str, customers: int, requests: int) -> dict:
    from lakehouse.engine import Engine

    engine = Engine("local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    columns = ("party_id, party_name, gender, age, mobile, branch_name, city, deposit_accounts, "
               "credit_cards, loans, total_assets_cny, total_liabilities_cny, mtd_inflow, rfm_segment, "
               "lifecycle_stage, risk_warnings, data_date")

    def lookup(i: int) -> list:
        return engine.sql(f"SELECT {columns} FROM delta.`{path}` WHERE data_date = DATE'{DATA_DATE}' "
                          f"AND party_id = 'P{i:08d}'")

    assert len(lookup(0)) == 1  # warm-up: the session, the Delta log, the first plan
    latencies = []
    began = time.perf_counter()
    for _ in range(requests):
        start = time.perf_counter()
        assert len(lookup(random.randrange(customers))) == 1
        latencies.append((time.perf_counter() - start) * 1000)
    seconds = time.perf_counter() - began
    engine.spark.stop()
    return {"latencies": latencies, "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of load on the service")
    ap.add_argument("--concurrency", type=int, default=10, help="connections of the load generator")
    ap.add_argument("--processes", type=int, default=2, help="client processes (httpx generator)")
    ap.add_argument("--generator", choices=("auto", "hey", "httpx"), default="auto")
    ap.add_argument("--spark-requests", type=int, default=30, help="lookups answered by Spark SQL")
    add_workdir_options(ap)
    args = ap.parse_args()

    from tests.services_env import free_port, issue_keys, make_project
    from lakehouse.engine import delta_rs
    from lakehouse.governance.records import AccessAuditRecord, spec_of
    from lakehouse.layers.model_tables import model_spec

    with workdir(ap, args, "bench-services-") as work:
        began = time.perf_counter()
        # the benchmark's consumer may call as fast as the generator can (no 429s)
        project = make_project(work, args.customers, [DATA_DATE], retired=False, unlimited=True)
        key = issue_keys(project, "app.customer_desk")["app.customer_desk"]
        print(f"prepared {args.customers:,} customers in {time.perf_counter() - began:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        server = subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "serve", "--conf",
                                   str(project.conf_dir), "--port", str(port)], env=env,
                                  start_new_session=True)
        try:
            began = time.perf_counter()
            _wait_ready(base, server)
            print(f"server ready in {time.perf_counter() - began:.1f} s (serving copy loaded)")
            generator = args.generator
            if generator == "auto":
                generator = "hey" if shutil.which("hey") else "httpx"
            url = f"{base}/services/customer_360?party_id=P{args.customers // 2:08d}"
            if generator == "hey":
                service = _hey(url, key, args.seconds, args.concurrency)
                held = _hey(url, key, args.seconds, args.concurrency, GOAL_RPS)
            else:
                service = _httpx(base, key, args.seconds, args.concurrency, args.processes, args.customers)
                held = None
            time.sleep(1.0)  # the last audit batch
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        answered = service["statuses"].get(200, 0) + (held["statuses"].get(200, 0) if held else 0)
        audit_rows = len(delta_rs.rows(spec_of(AccessAuditRecord, project.settings.root).path, ["seq"]))
        mart = model_spec(project, project.models["mart_customer_360"]).path
        spark = _spark(mart, args.customers, args.spark_requests)

    rps = len(service["latencies"]) / service["seconds"]
    spark_rps = len(spark["latencies"]) / spark["seconds"]
    figures = {
        "customers": args.customers, "generator": service["generator"],
        "service": {"requests": len(service["latencies"]), "statuses": service["statuses"],
                    "requests_per_s": round(rps, 1), **_percentiles(service["latencies"])},
        "spark_sql": {"requests": len(spark["latencies"]), "requests_per_s": round(spark_rps, 2),
                      **_percentiles(spark["latencies"])},
        "service_at_goal_rate": None if held is None else {
            "generator": held["generator"], "requests": len(held["latencies"]),
            "requests_per_s": round(len(held["latencies"]) / held["seconds"], 1),
            **_percentiles(held["latencies"])},
        "audit_records": audit_rows, "audited_all_answered": audit_rows == answered,
    }
    s, p = figures["service"], figures["spark_sql"]
    figures["latency_ratio_p50"] = round(p["p50_ms"] / s["p50_ms"], 1) if s["p50_ms"] else None
    figures["throughput_ratio"] = round(rps / spark_rps, 1) if spark_rps else None
    at_goal = figures["service_at_goal_rate"] or s
    all_answered = set(s["statuses"]) == {200} and (held is None or set(held["statuses"]) == {200})
    figures["all_answered_200"] = all_answered  # a 429 or 5xx is fast and would flatter the figures
    figures["goal_met"] = bool(at_goal["p99_ms"] is not None and at_goal["p99_ms"] <= GOAL_P99_MS
                               and rps >= GOAL_RPS and at_goal["requests_per_s"] >= 0.95 * GOAL_RPS
                               and all_answered)
    print(f"service ({figures['generator']}): {s['requests']} requests {s['statuses']}, "
          f"{s['requests_per_s']} requests/s, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms")
    if figures["service_at_goal_rate"]:
        g = figures["service_at_goal_rate"]
        print(f"service held at {GOAL_RPS:g} requests/s ({g['generator']}): {g['requests']} requests, "
              f"{g['requests_per_s']} requests/s, p50 {g['p50_ms']} ms, p99 {g['p99_ms']} ms")
    print(f"Spark SQL per request: {p['requests']} requests, {p['requests_per_s']} requests/s, "
          f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms")
    print(f"ratio: Spark p50 / service p50 = {figures['latency_ratio_p50']}x; service / Spark "
          f"throughput = {figures['throughput_ratio']}x; goal (p99 <= {GOAL_P99_MS:g} ms, >= "
          f"{GOAL_RPS:g} requests/s): {'met' if figures['goal_met'] else 'NOT met'}; audit records "
          f"{audit_rows} for {answered} answered calls")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
