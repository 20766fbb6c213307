"""The driver memory Delta's log cache holds, and what bounding it costs.

    .venv/bin/python benchmarks/delta_log_cache.py                  # 250 tables, about 15 minutes
    .venv/bin/python benchmarks/delta_log_cache.py --tables 120     # about 7 minutes

Delta keeps every table it touched in an in-memory cache of Delta logs (each with its latest
snapshot and that snapshot's query plans), up to ``spark.databricks.delta.delta.log.cacheSize``
tables (Delta's default 10,000) for an hour. The engine bounds it
(``lakehouse.engine.session.DELTA_LOG_CACHE_SIZE``).

Each side runs in a process of its own (the setting is read when Spark starts), with a 2 GB
driver: it writes ``--tables`` small partitioned Delta tables (each: create, replace a date's
partition, count), then counts the first ``--reread`` of them again (evicted from a bounded
cache, so their log is read again), and prints the driver's heap in use after garbage
collection, the seconds of both phases and the ratios bounded / Delta's default. Run with
nothing else on the machine; the last line is JSON for tooling.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

DELTA_DEFAULT = 10_000


def child(root: Path, tables: int, reread: int, cache_size: int) -> dict:
    from lakehouse.engine import Engine
    from lakehouse.engine.session import DELTA_LOG_CACHE_SIZE

    engine = Engine("local[2]", conf={"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "1",
                                      DELTA_LOG_CACHE_SIZE: str(cache_size)})
    spark = engine.spark
    rows = spark.range(10).selectExpr("id", "CAST(id AS STRING) AS name", "DATE'2026-11-01' AS data_date")
    began = time.perf_counter()
    for index in range(tables):
        path = str(root / f"t{index}")
        rows.write.format("delta").partitionBy("data_date").save(path)
        (rows.write.format("delta").mode("overwrite")
         .option("replaceWhere", "data_date = DATE'2026-11-01'").save(path))
        assert spark.read.format("delta").load(path).count() == 10
    written = time.perf_counter() - began
    began = time.perf_counter()
    for index in range(reread):
        assert spark.read.format("delta").load(str(root / f"t{index}")).count() == 10
    again = time.perf_counter() - began
    jvm = spark.sparkContext._jvm
    for _ in range(3):
        jvm.System.gc()
        time.sleep(0.5)
    heap = jvm.java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed()
    return {"cache_size": cache_size, "tables": tables, "written_s": written, "reread": reread,
            "reread_s": again, "heap_mb": heap / 2**20}


def run_side(args, root: Path, cache_size: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(root), "--tables", str(args.tables),
                          "--reread", str(args.reread), "--cache-size", str(cache_size)],
                         capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"the side with cache size {cache_size} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", type=int, default=250, help="tables written (default 250)")
    ap.add_argument("--reread", type=int, default=20, help="first tables counted again (default 20)")
    ap.add_argument("--cache-size", type=int, default=None, help="ours (default: the engine's)")
    ap.add_argument("--child", type=Path, metavar="ROOT", help=argparse.SUPPRESS)
    add_workdir_options(ap)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tables, args.reread, args.cache_size)))
        return
    from lakehouse.engine.session import DELTA_LOG_CACHE_SIZE, EMBEDDED_DEFAULTS

    ours_size = args.cache_size or int(EMBEDDED_DEFAULTS[DELTA_LOG_CACHE_SIZE])
    with workdir(ap, args, "delta_log_cache_") as work:
        ours = run_side(args, work / "bounded", ours_size)
        delta = run_side(args, work / "delta_default", DELTA_DEFAULT)
    print(f"{args.tables} Delta tables (create, replace a partition, count), then the first "
          f"{args.reread} counted again, 2 GB driver")
    for label, side in (("bounded", ours), ("Delta's default", delta)):
        print(f"  {label:16s} cache {side['cache_size']:>6,}: heap after GC {side['heap_mb']:7.0f} MB, "
              f"writes {side['written_s']:6.1f} s, re-reads {side['reread_s']:5.2f} s")
    ratios = {"heap_ratio": ours["heap_mb"] / delta["heap_mb"],
              "written_ratio": ours["written_s"] / delta["written_s"],
              "reread_ratio": ours["reread_s"] / delta["reread_s"]}
    print(f"  bounded / default: heap {ratios['heap_ratio']:.2f}x, writes {ratios['written_ratio']:.2f}x, "
          f"re-reads {ratios['reread_ratio']:.2f}x")
    print(json.dumps({"benchmark": "delta_log_cache", "ours": ours, "delta_default": delta,
                      **{k: round(v, 3) for k, v in ratios.items()}}))


if __name__ == "__main__":
    main()
