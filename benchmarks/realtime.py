"""Real-time zone: sustained events/s into the zone, and latency from an event being written to
it being visible in the current-state view, against a plain Structured Streaming job.

Ours: the demo bank's card-transaction feed (``ccs.card_txn``) run by the framework: admission,
parsing and typing with reasons, duplicate and late checks, quarantine, idempotent writes keyed
by batch, batch metrics in the commit, status file; visibility read through the current-state
view (``lakehouse.realtime.fusion``). Baseline, same run, same transport (JSON lines files,
same files, same trigger): a plain ``readStream.text -> from_json -> cast -> writeStream.delta``
with no checks, visibility read from its table.

1. Throughput: ``--events`` events in ``--files`` files already landed, read with an
   available-now trigger; events/s = events / wall time of the query.
2. Latency: a writer drops a file of ``--batch`` events every ``--interval`` seconds for
   ``--seconds`` seconds while the query runs with a ``--trigger`` s trigger; a reader polls
   the view (or table) for the events written and not yet seen; p50/p99 of seen - written.

    .venv/bin/python benchmarks/realtime.py
    .venv/bin/python benchmarks/realtime.py --events 100000 --files 50 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FEED = "ccs.card_txn"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def event(i: int) -> str:
    now = datetime.now(SHANGHAI).replace(tzinfo=None)
    return json.dumps({"txn_id": f"B{i:09d}", "card_no": "6228480000000000018",
                       "txn_time": f"{now:%Y-%m-%d %H:%M:%S}", "amount": f"{i % 5000 + 1}.{i % 100:02d}",
                       "direction": "D", "merchant_name": "示例商户", "mcc": "5411"}, ensure_ascii=False)


def drop(folder: Path, name: str, first: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.tmp"
    temporary.write_text("".join(event(i) + "\n" for i in range(first, first + count)), encoding="utf-8")
    os.replace(temporary, folder / name)


class Plain:
    """The baseline: a plain Structured Streaming job, same transport, no checks."""

    def __init__(self, spark, contract, source: Path, table: Path, checkpoint: Path):
        self.spark, self.contract = spark, contract
        self.source, self.table, self.checkpoint = str(source), str(table), str(checkpoint)

    def start(self, available_now: bool, trigger: float):
        from pyspark.sql import functions as F

        schema = ", ".join(f"`{a.name}` string" for a in self.contract.attributes)
        frame = self.spark.readStream.format("text").option("maxFilesPerTrigger", 100) \
            .option("pathGlobFilter", "*.jsonl").load(self.source)
        parsed = frame.select(F.from_json("value", schema).alias("e"))
        typed = parsed.select(*[F.col(f"e.{a.name}").cast(a.spark_type).alias(a.name)
                                for a in self.contract.attributes])
        writer = typed.writeStream.format("delta").option("checkpointLocation", self.checkpoint)
        writer = writer.trigger(availableNow=True) if available_now \
            else writer.trigger(processingTime=f"{trigger} seconds")
        return writer.start(self.table)

    def seen(self, ids: list[str]) -> set[str]:
        from pyspark.sql import functions as F

        try:
            frame = self.spark.read.format("delta").load(self.table)
        except Exception:  # noqa: BLE001 - not created yet
            return set()
        return {r[0] for r in frame.filter(F.col("txn_id").isin(ids)).select("txn_id").collect()}


def latency(start_query, seen, folder: Path, first: int, args) -> tuple[list[float], int]:
    """Run a query while a writer drops files; the write-to-visible latencies (s) of the events."""
    written: dict[str, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def writer():
        n = 0
        end = time.time() + args.seconds
        while time.time() < end:
            ids = [f"B{i:09d}" for i in range(first + n * args.batch, first + (n + 1) * args.batch)]
            drop(folder, f"lat_{first}_{n:05d}.jsonl", first + n * args.batch, args.batch)
            stamp = time.time()
            with lock:
                written.update({i: stamp for i in ids})
            n += 1
            time.sleep(args.interval)
        done.set()

    folder.mkdir(parents=True, exist_ok=True)
    query = start_query()
    time.sleep(args.warmup)
    thread = threading.Thread(target=writer)
    thread.start()
    latencies: list[float] = []
    pending_seen: set[str] = set()
    deadline = None
    while True:
        with lock:
            pending = [i for i in written if i not in pending_seen]
            stamps = dict(written)
        if pending:
            found = seen(pending)
            now = time.time()
            for i in found:
                latencies.append(now - stamps[i])
            pending_seen |= found
        if done.is_set():
            deadline = deadline or time.time() + 120
            if len(pending_seen) == len(written) or time.time() > deadline:
                break
        time.sleep(0.05)
    thread.join()
    query.stop()
    return latencies, len(written)


def busy_seconds(query) -> float:
    """Seconds the query spent in micro-batches that read events (Spark's progress reports)."""
    return sum(p["durationMs"].get("triggerExecution", 0) for p in query.recentProgress
               if p.get("numInputRows", 0) > 0) / 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000, help="events of the throughput phase")
    ap.add_argument("--files", type=int, default=25, help="files they arrive in")
    ap.add_argument("--seconds", type=float, default=40, help="length of the latency phase")
    ap.add_argument("--batch", type=int, default=50, help="events per file in the latency phase")
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between files (latency phase)")
    ap.add_argument("--trigger", type=float, default=1.0, help="micro-batch trigger, seconds")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds the query runs before writing")
    add_workdir_options(ap)
    args = ap.parse_args()
    with workdir(ap, args, "bench_realtime_") as work:
        from lakehouse.security.keys import KEY_FILE_VARIABLE, create_key_file

        for folder in ("conf", "quality_rules", "layers", "realtime"):
            shutil.copytree(REPO / folder, work / folder)
        key = work / ".secrets" / "master.key"
        key.parent.mkdir()
        create_key_file(key)
        os.environ[KEY_FILE_VARIABLE] = str(key)
        feed_yaml = work / "conf" / "sources" / "ccs" / "card_txn.yaml"
        feed_yaml.write_text(feed_yaml.read_text().replace("trigger_seconds: 1", f"trigger_seconds: {args.trigger}"))

        from lakehouse.api import Lakehouse
        from lakehouse.realtime import fusion, ingestion

        lh = Lakehouse(work / "conf", root=work / "lakehouse_data", landing=work / "landing",
                       reports_dir=work / "reports")
        began = time.time()
        lh.register(feed_yaml, by="benchmark")
        print(f"registered {FEED} in {time.time() - began:.1f} s (Spark started)")
        contract = lh.contract(FEED)
        ours_dir = work / "landing" / contract.realtime.path
        per_file = args.events // args.files
        for n in range(args.files):
            drop(ours_dir, f"tp_{n:04d}.jsonl", n * per_file, per_file)
            shutil.copy(ours_dir / f"tp_{n:04d}.jsonl", (work / "landing" / "plain_tp").mkdir(
                parents=True, exist_ok=True) or work / "landing" / "plain_tp" / f"tp_{n:04d}.jsonl")
        total = per_file * args.files
        spark = lh.engine.spark
        plain_tp = Plain(spark, contract, work / "landing" / "plain_tp", work / "plain" / "table",
                         work / "plain" / "checkpoint_tp")

        began = time.time()
        feed = ingestion.start(lh, FEED, available_now=True)
        feed.wait()
        ours_wall = time.time() - began
        ours_seconds = busy_seconds(feed.query)
        batches = len(feed.outcomes)
        began = time.time()
        query = plain_tp.start(True, args.trigger)
        query.awaitTermination()
        plain_wall = time.time() - began
        plain_seconds = busy_seconds(query)
        ours_rate, plain_rate = total / ours_seconds, total / plain_seconds
        print(f"throughput (events / time in micro-batches): ours {ours_rate:,.0f} events/s ({total:,} "
              f"events, {batches} batches, {ours_seconds:.1f} s; {ours_wall:.1f} s from start, "
              f"admission included), plain {plain_rate:,.0f} events/s ({plain_seconds:.1f} s; "
              f"{plain_wall:.1f} s from start), ours/plain {ours_rate / plain_rate:.2f}")

        first = 10_000_000
        ours_lat, ours_n = latency(
            lambda: ingestion.start(lh, FEED, available_now=False),
            lambda ids: {r["txn_id"] for r in fusion.current_state(
                lh, FEED, where="txn_id IN (" + ",".join(f"'{i}'" for i in ids) + ")")},
            ours_dir, first, args)
        print(f"latency ours: {len(ours_lat)} of {ours_n} events seen, p50 {pct(ours_lat, 50):.2f} s, "
              f"p99 {pct(ours_lat, 99):.2f} s")
        plain_lat_job = Plain(spark, contract, work / "landing" / "plain_lat", work / "plain" / "table_lat",
                              work / "plain" / "checkpoint_lat")
        plain_lat, plain_n = latency(lambda: plain_lat_job.start(False, args.trigger), plain_lat_job.seen,
                                     work / "landing" / "plain_lat", first, args)
        for name, values, n in (("ours", ours_lat, ours_n), ("plain", plain_lat, plain_n)):
            print(f"latency {name}: {len(values)} of {n} events seen, p50 {pct(values, 50):.2f} s, "
                  f"p99 {pct(values, 99):.2f} s, mean {statistics.mean(values):.2f} s")
        print(f"latency ours/plain: p50 {pct(ours_lat, 50) / pct(plain_lat, 50):.2f}, "
              f"p99 {pct(ours_lat, 99) / pct(plain_lat, 99):.2f}")
        print(json.dumps({"events": total, "files": args.files, "batches": batches,
                          "trigger_seconds": args.trigger,
                          "ours_events_per_s": round(ours_rate), "plain_events_per_s": round(plain_rate),
                          "throughput_ratio": round(ours_rate / plain_rate, 2),
                          "ours_p50_s": round(pct(ours_lat, 50), 2), "ours_p99_s": round(pct(ours_lat, 99), 2),
                          "plain_p50_s": round(pct(plain_lat, 50), 2), "plain_p99_s": round(pct(plain_lat, 99), 2)}))


if __name__ == "__main__":
    main()
