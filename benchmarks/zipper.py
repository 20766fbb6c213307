"""Zipper (SCD2) load: ``Engine.load_zipper`` against the textbook delta-spark MERGE job.

Both load the same day-2 full extract (about 1% changed, 0.1% new and 0.05% deleted keys) into
a zipper table that already holds day 1, in the same Spark session, and must end with the same
rows. Prints seconds, rows/s (extract rows / seconds) and the ratio baseline / ours.

    .venv/bin/python benchmarks/zipper.py --rows 100000
    .venv/bin/python benchmarks/zipper.py                 # 1,000,000 keys, 8 attributes

The baseline is the pattern of the Delta Lake docs ("Slowly changing data (SCD) Type 2
operation into Delta tables"): stage = changed rows with a NULL merge key UNION all extract
rows keyed by their key; ``MERGE ON key = mergeKey``; ``WHEN MATCHED AND open AND differs THEN
UPDATE end_dt = D``; ``WHEN NOT MATCHED THEN INSERT`` an open row; plus ``WHEN NOT MATCHED BY
SOURCE AND open THEN UPDATE end_dt = D`` to close deleted keys. By default "differs" compares a
stored md5 of the attributes (``--baseline-compare hash``); ``columns`` compares every attribute
null-safely instead. Its table is not partitioned, as in the docs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402
from lakehouse.engine import Engine  # noqa: E402
from lakehouse.zones.tables import (  # noqa: E402
    OPEN_END_DATE,
    ZIPPER_PARTITION_BY,
    ZIPPER_PROPERTIES,
    Column,
    TableSpec,
    zipper_columns,
)

KEY = "cust_id"
KINDS = (("str", "string"), ("amt", "decimal(18,2)"), ("dt", "date"), ("num", "bigint"))
DAY1, DAY2 = date(2024, 6, 1), date(2024, 6, 2)
OPEN_SQL = f"DATE'{OPEN_END_DATE}'"


# -- data ------------------------------------------------------------------------------------
def attribute_columns(count: int) -> list[tuple[str, str]]:
    """``count`` attribute (name, spark type) pairs cycling string/decimal/date/bigint."""
    return [(f"{KINDS[i % 4][0]}_{i}", KINDS[i % 4][1]) for i in range(count)]


def _values(spark_type: str, v: np.ndarray, j: int) -> pa.Array:
    """An injective function of the seeds ``v``: seeds v and v+1 always give different values."""
    if spark_type == "string":
        text = pc.binary_join_element_wise(f"attr{j}-", pc.cast(pa.array(v), pa.string()), "")
        return pc.if_else(pa.array(v % 101 == 0), pa.scalar(None, pa.string()), text)  # ~1% NULL
    if spark_type.startswith("decimal"):
        cents = v * 7 + 1999
        buf = np.empty((len(v), 2), dtype="<i8")  # decimal128 = little-endian 128-bit integer
        buf[:, 0], buf[:, 1] = cents, np.where(cents < 0, -1, 0)
        return pa.Array.from_buffers(pa.decimal128(18, 2), len(v), [None, pa.py_buffer(buf)])
    if spark_type == "date":
        return pa.array((7000 + v % 20000).astype(np.int32)).cast(pa.date32())
    return pa.array(v * 13 + j, type=pa.int64())


def extract(keys: np.ndarray, attributes: list[tuple[str, str]], changed: np.ndarray) -> pa.Table:
    """The full extract for ``keys``; where ``changed`` one attribute (key mod count) differs."""
    cols = {KEY: pa.array(keys, type=pa.int64())}
    which = keys % len(attributes)
    for j, (name, spark_type) in enumerate(attributes):
        seeds = keys * (2 * j + 3) + j * 1_000_003 + (changed & (which == j))
        cols[name] = _values(spark_type, seeds, j)
    return pa.table(cols)


@dataclasses.dataclass(frozen=True)
class Extracts:
    day1: str
    day2: str
    rows: int
    changed: int
    new: int
    deleted: int


def write_extracts(root: Path, rows: int, attributes, changed_pct, new_pct, deleted_pct,
                   seed: int) -> Extracts:
    rng = np.random.default_rng(seed)
    keys = np.arange(1, rows + 1, dtype=np.int64)
    n_changed, n_new, n_deleted = (round(rows * p / 100) for p in (changed_pct, new_pct, deleted_pct))
    picked = rng.permutation(rows)[: n_changed + n_deleted]
    changed = np.zeros(rows, dtype=bool)
    changed[picked[:n_changed]] = True
    kept = np.ones(rows, dtype=bool)
    kept[picked[n_changed:]] = False
    root.mkdir(parents=True, exist_ok=True)
    day1, day2 = root / "day1.parquet", root / "day2.parquet"
    # Row groups of 128k rows let Spark split the file across cores.
    pq.write_table(extract(keys, attributes, np.zeros(rows, dtype=bool)), day1,
                   row_group_size=131072)
    day2_keys = np.concatenate([keys[kept], np.arange(rows + 1, rows + n_new + 1, dtype=np.int64)])
    day2_changed = np.concatenate([changed[kept], np.zeros(n_new, dtype=bool)])
    pq.write_table(extract(day2_keys, attributes, day2_changed), day2, row_group_size=131072)
    return Extracts(str(day1), str(day2), rows, n_changed, n_new, n_deleted)


# -- the two loads ---------------------------------------------------------------------------
def zipper_spec(path: str, name: str, attributes) -> TableSpec:
    """The spec ``near_source_spec`` would build for a zipper contract with these attributes."""
    columns = [Column(KEY, "bigint", nullable=False)]
    columns += [Column(n, t) for n, t in attributes]
    columns += zipper_columns()
    return TableSpec(name=name, zone="standard", layer="near_source", path=path,
                     columns=tuple(columns), partition_by=ZIPPER_PARTITION_BY, load_type="zipper",
                     keys=(KEY,), properties=dict(ZIPPER_PROPERTIES))


def _typed(spark, parquet: str, attributes):
    from pyspark.sql import functions as F

    frame = spark.read.parquet(parquet)
    return frame.select(F.col(KEY).cast("bigint").alias(KEY),
                        *[F.col(n).cast(t).alias(n) for n, t in attributes])


def _baseline_hash(attributes):
    from pyspark.sql import functions as F

    return F.md5(F.concat_ws("||", *[F.coalesce(F.col(n).cast("string"), F.lit("<null>"))
                                      for n, _ in attributes]))


def baseline_init(spark, path: str, parquet: str, attributes, data_date: date) -> None:
    from pyspark.sql import functions as F

    (_typed(spark, parquet, attributes)
     .withColumn("row_hash", _baseline_hash(attributes))
     .withColumn("start_dt", F.lit(data_date.isoformat()).cast("date"))
     .withColumn("end_dt", F.lit(OPEN_END_DATE).cast("date"))
     .write.format("delta").mode("overwrite").save(path))


def baseline_merge(spark, path: str, parquet: str, attributes, data_date: date,
                   compare: str) -> None:
    """The Delta docs' SCD2 MERGE, plus closing the open rows of keys missing from the extract."""
    from delta.tables import DeltaTable

    d = f"DATE'{data_date.isoformat()}'"
    target = DeltaTable.forPath(spark, path)
    updates = _typed(spark, parquet, attributes).withColumn("row_hash", _baseline_hash(attributes))
    if compare == "hash":
        differs = "{t}.row_hash <> {s}.row_hash"
    else:
        differs = " OR ".join(f"NOT ({{t}}.{n} <=> {{s}}.{n})" for n, _ in attributes)
    current = target.toDF().where(f"end_dt = {OPEN_SQL}")
    changed = (updates.alias("u").join(current.alias("c"), KEY)
               .where(differs.format(t="c", s="u")).select("u.*"))
    staged = (changed.selectExpr("CAST(NULL AS bigint) AS merge_key", "*")
              .unionByName(updates.selectExpr(f"{KEY} AS merge_key", "*")))
    insert = {c: f"s.{c}" for c in [KEY, *[n for n, _ in attributes], "row_hash"]}
    (target.alias("t")
     .merge(staged.alias("s"), f"t.{KEY} = s.merge_key")
     .whenMatchedUpdate(condition=f"t.end_dt = {OPEN_SQL} AND ({differs.format(t='t', s='s')})",
                        set={"end_dt": d})
     .whenNotMatchedInsert(values={**insert, "start_dt": d, "end_dt": OPEN_SQL})
     .whenNotMatchedBySourceUpdate(condition=f"t.end_dt = {OPEN_SQL}", set={"end_dt": d})
     .execute())


# -- checks and reports ----------------------------------------------------------------------
def summary(spark, path: str, attributes) -> dict[str, int]:
    """Open/closed/started-today counts and an order-independent checksum, ignoring row_hash."""
    from pyspark.sql import functions as F

    cols = [KEY, *[n for n, _ in attributes], "start_dt", "end_dt"]
    is_open = F.col("end_dt") == F.lit(OPEN_END_DATE).cast("date")
    row = spark.read.format("delta").load(path).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(is_open, 1).otherwise(0)).alias("open"),
        F.sum(F.when(is_open, 0).otherwise(1)).alias("closed"),
        F.sum(F.when(F.col("start_dt") == F.lit(DAY2.isoformat()).cast("date"), 1)
              .otherwise(0)).alias("started_day2"),
        F.sum(F.xxhash64(*cols).cast("decimal(38,0)")).alias("xxhash64_sum"),
        F.sum(F.hash(*cols).cast("decimal(38,0)")).alias("murmur3_sum"),
    ).first()
    return {k: int(v or 0) for k, v in row.asDict().items()}


def verify(spark, ours: str, base: str, attributes, data: Extracts) -> dict[str, int]:
    a, b = summary(spark, ours, attributes), summary(spark, base, attributes)
    expected = {"open": data.rows - data.deleted + data.new, "closed": data.changed + data.deleted,
                "started_day2": data.changed + data.new}
    problems = [f"ours {k}={a[k]} baseline {k}={b[k]}" for k in a if a[k] != b[k]]
    problems += [f"{who} {k}={s[k]}, expected {v}" for who, s in (("ours", a), ("baseline", b))
                 for k, v in expected.items() if s[k] != v]
    if problems:
        cols = [KEY, *[n for n, _ in attributes], "start_dt", "end_dt"]
        left = spark.read.format("delta").load(ours).select(*cols)
        right = spark.read.format("delta").load(base).select(*cols)
        print("only in ours:", file=sys.stderr)
        left.exceptAll(right).orderBy(KEY).show(10, truncate=False)
        print("only in baseline:", file=sys.stderr)
        right.exceptAll(left).orderBy(KEY).show(10, truncate=False)
        raise SystemExit("RESULTS DIFFER:\n  " + "\n  ".join(problems))
    return a


def last_commit_metrics(spark, path: str) -> dict[str, str]:
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("operation", "operationMetrics").first()
    wanted = ("numFiles", "numRemovedFiles", "numOutputRows", "numOutputBytes",
              "numTargetRowsCopied", "numTargetRowsUpdated", "numTargetRowsInserted",
              "numTargetRowsNotMatchedBySourceUpdated", "numTargetFilesAdded",
              "numTargetFilesRemoved", "executionTimeMs", "scanTimeMs", "rewriteTimeMs")
    metrics = {k: v for k, v in (row["operationMetrics"] or {}).items() if k in wanted}
    return {"operation": row["operation"], **metrics}


def plan_shape(frame) -> str:
    """Shuffles and scans in a DataFrame's physical plan (before adaptive re-planning)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        frame.explain()
    text = out.getvalue()
    return (f"{len(re.findall(r'Exchange ', text))} shuffles, "
            f"{len(re.findall(r'Scan parquet', text))} parquet scans, "
            f"{len(re.findall(r'Window ', text))} window operators, "
            f"{len(re.findall(r'(?:SortMergeJoin|BroadcastHashJoin|ShuffledHashJoin) ', text))} joins")


def ours_rebuild_frame(engine: Engine, spec: TableSpec, parquet: str):
    """The frame ``load_zipper`` writes for the day-2 load into a day-1 table (rebuilt here)."""
    from lakehouse.engine.zipper import ZipperWindow, rebuild, row_hash

    attrs = [c.name for c in spec.columns if c.name not in (KEY, "row_hash", "start_dt", "end_dt")]
    types = {c.name: c.spark_type for c in spec.columns}
    extract_df = engine._staged(parquet, spec).withColumn("row_hash", row_hash(attrs, types))
    window = ZipperWindow.around(DAY2, [DAY1])
    return rebuild(engine.delta.read(spec.path), extract_df, [KEY], attrs, window)


def profile_ours(engine: Engine, spec: TableSpec, parquet: str) -> None:
    """Where our load's time goes: plan shape, and the rebuild computed without the Delta write."""
    frame = ours_rebuild_frame(engine, spec, parquet)
    print("ours, plan of the rebuilt rows:", plan_shape(frame))
    t = time.perf_counter()
    frame.write.format("noop").mode("overwrite").save()
    rebuilt = time.perf_counter() - t
    t = time.perf_counter()
    engine._staged(parquet, spec).write.format("noop").mode("overwrite").save()
    scan_extract = time.perf_counter() - t
    t = time.perf_counter()
    engine.delta.read(spec.path).write.format("noop").mode("overwrite").save()
    scan_table = time.perf_counter() - t
    print(f"ours, rebuilt rows computed into a noop sink (no Delta write): {rebuilt:.2f}s; "
          f"one scan of the extract {scan_extract:.2f}s, of the day-1 table {scan_table:.2f}s")


# -- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="keys on day 1 (default 1M)")
    ap.add_argument("--attributes", type=int, default=8,
                    help="attribute columns besides the key, cycling string/decimal/date/bigint")
    ap.add_argument("--changed-pct", type=float, default=1.0)
    ap.add_argument("--new-pct", type=float, default=0.1)
    ap.add_argument("--deleted-pct", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=20240601)
    add_workdir_options(ap)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Spark conf (repeatable)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of each; best is reported")
    ap.add_argument("--baseline-compare", choices=("hash", "columns"), default="hash")
    ap.add_argument("--explain", action="store_true",
                    help="also profile our load: plan shape, rebuild without the write, scans")
    args = ap.parse_args(argv)
    if args.attributes < 1 or args.rows < 1 or args.repeat < 1:
        ap.error("--rows, --attributes and --repeat must be positive")

    with workdir(ap, args, "zipper-bench-") as work:
        run(args, work)


def run(args, work: Path) -> None:
    attributes = attribute_columns(args.attributes)
    t = time.perf_counter()
    data = write_extracts(work / "extracts", args.rows, attributes, args.changed_pct,
                          args.new_pct, args.deleted_pct, args.seed)
    day2_rows = data.rows - data.deleted + data.new
    print(f"extracts: {data.rows:,} keys day 1, {day2_rows:,} rows day 2 "
          f"({data.changed:,} changed, {data.new:,} new, {data.deleted:,} deleted), "
          f"{len(attributes)} attributes; generated in {time.perf_counter() - t:.1f}s")

    conf = {"spark.sql.warehouse.dir": str(work / "warehouse")}
    conf.update(kv.split("=", 1) for kv in args.conf)
    t = time.perf_counter()
    engine = Engine(args.master, conf=conf)
    spark = engine.spark
    print(f"spark session started in {time.perf_counter() - t:.1f}s")
    tables = work / "tables"

    # Untimed setup: day 1 into one template table of each kind; every run starts from a copy.
    t = time.perf_counter()
    ours_day1 = zipper_spec(str(tables / "ours_day1"), "bench_zipper_day1", attributes)
    engine.load_zipper(ours_day1, data.day1, DAY1, {"benchmark": "day1"})
    t1 = time.perf_counter()
    base_day1 = str(tables / "baseline_day1")
    baseline_init(spark, base_day1, data.day1, attributes, DAY1)
    print(f"setup (untimed, includes JVM warm-up): day 1 into our table "
          f"{t1 - t:.1f}s (first Spark jobs), into the baseline table {time.perf_counter() - t1:.1f}s")

    ours_times, base_times = [], []
    for i in range(args.repeat):
        spec = dataclasses.replace(ours_day1, path=str(tables / f"ours_{i}"),
                                   name=f"bench_zipper_{i}")
        base = str(tables / f"baseline_{i}")
        shutil.copytree(ours_day1.path, spec.path)
        shutil.copytree(base_day1, base)

        def ours():
            t0 = time.perf_counter()
            engine.load_zipper(spec, data.day2, DAY2, {"benchmark": "day2"})
            ours_times.append(time.perf_counter() - t0)

        def baseline():
            t0 = time.perf_counter()
            baseline_merge(spark, base, data.day2, attributes, DAY2, args.baseline_compare)
            base_times.append(time.perf_counter() - t0)

        # Alternate who goes first so JIT warm-up and OS caches favour neither.
        for step in ((ours, baseline) if i % 2 == 0 else (baseline, ours)):
            step()
        checked = verify(spark, spec.path, base, attributes, data)
        print(f"run {i + 1}/{args.repeat}: ours {ours_times[-1]:.2f}s, "
              f"baseline {base_times[-1]:.2f}s; same rows: {checked['open']:,} open, "
              f"{checked['closed']:,} closed, checksum {checked['xxhash64_sum']}")

    if args.explain:
        profiled = dataclasses.replace(ours_day1, path=str(tables / "ours_profile"),
                                       name="bench_zipper_profile")
        shutil.copytree(ours_day1.path, profiled.path)
        profile_ours(engine, profiled, data.day2)

    # Cheap breakdown of our load: the Delta metadata calls it makes before the write.
    # A name not yet registered this session, so ensure_table does what it did in the load.
    t0 = time.perf_counter()
    engine.ensure_table(dataclasses.replace(spec, name=f"{spec.name}_again"))
    t1 = time.perf_counter()
    engine.zipper_loaded_dates(spec)
    t2 = time.perf_counter()
    print(f"ours, metadata before the write (re-measured after the load): "
          f"ensure_table {t1 - t0:.2f}s, zipper_loaded_dates {t2 - t1:.2f}s")
    print("commit, ours:    ", json.dumps(last_commit_metrics(spark, spec.path)))
    print("commit, baseline:", json.dumps(last_commit_metrics(spark, base)))

    best_ours, best_base = min(ours_times), min(base_times)
    cores = os.cpu_count()
    print()
    print(f"machine: {cores} cores (os.cpu_count), Spark master {args.master}, "
          f"defaultParallelism {spark.sparkContext.defaultParallelism}, "
          f"shuffle partitions {spark.conf.get('spark.sql.shuffle.partitions')}")
    print(f"N = {data.rows:,} keys, {len(attributes)} attributes, best of {args.repeat}")
    print(f"  ours     (Engine.load_zipper): {best_ours:8.2f} s  {data.rows / best_ours:12,.0f} rows/s")
    print(f"  baseline (MERGE, {args.baseline_compare:7s}):    {best_base:8.2f} s  "
          f"{data.rows / best_base:12,.0f} rows/s")
    print(f"  ratio baseline/ours: {best_base / best_ours:.2f}x "
          f"({'ours faster' if best_base > best_ours else 'baseline faster'})")
    print(json.dumps({"benchmark": "zipper", "rows": data.rows, "attributes": len(attributes),
                      "cores": cores, "master": args.master, "repeat": args.repeat,
                      "ours_s": round(best_ours, 3), "baseline_s": round(best_base, 3),
                      "ratio": round(best_base / best_ours, 3),
                      "baseline_compare": args.baseline_compare}))
    spark.stop()


if __name__ == "__main__":
    main()
