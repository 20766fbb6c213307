"""The floor under a small source's fixed cost: what one Spark job on tiny data costs here.

    .venv/bin/python benchmarks/spark_job_floor.py            # the engine's session
    .venv/bin/python benchmarks/spark_job_floor.py --plain    # a plain Delta-enabled session

Runs the kind of job a quality suite and a load issue per small source: an aggregate over a
cached 1,000-row DataFrame (``count``, ``max``, a regex count: one Great Expectations metric
bundle), and a read of a 1,000-row Parquet file with a count, each ``--jobs`` times after a
warm-up round as long, and prints milliseconds per job. A small source's T-1 load takes 16-23 such jobs
(see the README, Benchmarks), so this figure times the job count is the least its fixed cost
can be on this machine, whatever the Python around it does.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def session(plain: bool, master: str):
    if not plain:
        from lakehouse.engine import Engine

        engine = Engine(master, conf={"spark.sql.shuffle.partitions": "4"})
        engine.start()
        return engine.spark
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).config("spark.sql.shuffle.partitions", "4") \
        .config("spark.ui.enabled", "false") \
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension") \
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    return configure_spark_with_delta_pip(builder).getOrCreate()


def per_job(run, jobs: int) -> float:
    began = time.perf_counter()
    for _ in range(jobs):
        run()
    return (time.perf_counter() - began) / jobs * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain", action="store_true", help="a plain Delta-enabled session, not the engine's")
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    from pyspark.sql import functions as F

    spark = session(args.plain, args.master)
    work = Path(tempfile.mkdtemp(prefix="job_floor_"))
    try:
        path = str(work / "small.parquet")
        spark.range(1000).withColumn("s", F.col("id").cast("string")).write.parquet(path)
        cached = spark.read.parquet(path).persist()
        cached.count()

        def bundle():
            cached.agg(F.count("*"), F.max("s"),
                       F.sum(F.when(F.col("s").rlike("^1"), 1).otherwise(0))).collect()

        def read_count():
            spark.read.parquet(path).agg(F.count("*")).collect()

        per_job(bundle, args.jobs)  # warm-up: code generation, the JVM's JIT
        per_job(read_count, args.jobs)
        figures = {"metric bundle on cached rows": per_job(bundle, args.jobs),
                   "read 1,000-row Parquet and count": per_job(read_count, args.jobs)}
        session_name = "plain session" if args.plain else "engine session"
        for name, ms in figures.items():
            print(f"{session_name}, {args.master}: {name:34s} {ms:7.1f} ms per job")
        low, high = min(figures.values()), max(figures.values())
        print(f"  x 16-23 jobs per small source: {low * 16 / 1000:.2f}-{high * 23 / 1000:.2f} s "
              "before any Python")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
