"""The cost of one governance append (a few rows, one Delta commit) as the engine writes it, against
the way it was written before issue #16's cuts.

    .venv/bin/python benchmarks/governance_append.py                 # 10 rows, 6 appends per way
    .venv/bin/python benchmarks/governance_append.py --rows 200 --appends 10

Four ways, each appending ``--rows`` rows (string, bigint, timestamp, array) ``--appends`` times
to its own new Delta table in one Spark session (session time zone Asia/Shanghai, as the
lakehouse runs):

- rows handed to Spark as Python tuples (``createDataFrame`` of tuples: a Python worker unpickles
  them in the write task) or as an Arrow table (``engine.arrow_rows``, what the engine does now);
- Delta 4.4's per-commit file-list check for non-UTC sessions on (Delta's default) or off (the
  engine's setting, ``engine.session.NON_UTC_COMMIT_CHECK``).

The baseline is tuples with the check on (the engine before); the first append of each way is
a warm-up and left out. Prints Spark jobs and the median seconds per append, ratio = baseline /
way, and a last JSON line. Every table must hold ``rows x appends`` rows at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

COLUMNS = [("source", "string"), ("rows", "bigint"), ("recorded_at", "timestamp"),
           ("problems", "array<string>")]
WAYS = [("tuples", "true"), ("arrow", "true"), ("tuples", "false"), ("arrow", "false")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10, help="rows per append (default 10)")
    ap.add_argument("--appends", type=int, default=6, help="appends per way, the first a warm-up")
    ap.add_argument("--master", default="local[*]")
    add_workdir_options(ap)
    args = ap.parse_args()
    if args.appends < 2:
        ap.error("--appends must be at least 2 (the first is a warm-up)")

    from lakehouse.engine.arrow_rows import rows_table
    from lakehouse.engine.session import NON_UTC_COMMIT_CHECK, build_session

    spark = build_session(args.master, None, {"spark.sql.session.timeZone": "Asia/Shanghai"})
    sc = spark.sparkContext
    ddl = ", ".join(f"`{name}` {kind}" for name, kind in COLUMNS)
    rows = [{"source": f"bnk.src_{i:03d}", "rows": i, "recorded_at": datetime.now(),
             "problems": ["p"] * (i % 3)} for i in range(args.rows)]

    def frame(way: str):
        if way == "tuples":
            return spark.createDataFrame([tuple(r[c] for c, _ in COLUMNS) for r in rows], ddl)
        return spark.createDataFrame(rows_table(COLUMNS, rows), ddl)

    figures = []
    with workdir(ap, args, "governance-append-") as work:
        for way, check in WAYS:
            spark.conf.set(NON_UTC_COMMIT_CHECK, check)
            path = str(work / f"{way}-check-{check}")
            seconds, jobs = [], []
            for number in range(args.appends):
                group = f"{way}-{check}-{number}"
                sc.setJobGroup(group, group)
                began = time.perf_counter()
                frame(way).coalesce(1).write.format("delta").mode("append").save(path)
                seconds.append(time.perf_counter() - began)
                jobs.append(len(sc.statusTracker().getJobIdsForGroup(group)))
            held = spark.read.format("delta").load(path).count()
            if held != args.rows * args.appends:
                print(f"{path} holds {held} rows, expected {args.rows * args.appends}")
                return 1
            figures.append({"rows_as": way, "non_utc_check": check == "true",
                            "jobs": statistics.median(jobs[1:]),
                            "seconds": statistics.median(seconds[1:])})
    base = figures[0]["seconds"]
    print(f"{'rows as':<8} {'non-UTC check':<14} {'jobs':>5} {'s/append':>9} {'ratio':>6}")
    for f in figures:
        f["ratio"] = round(base / f["seconds"], 2)
        print(f"{f['rows_as']:<8} {'on' if f['non_utc_check'] else 'off':<14} {f['jobs']:>5g} "
              f"{f['seconds']:>9.3f} {f['ratio']:>5.2f}x")
    print(json.dumps({"benchmark": "governance_append", "rows": args.rows, "appends": args.appends,
                      "cores": sc.defaultParallelism, "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
