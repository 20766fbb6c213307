"""What the history zone costs a query: a year of daily snapshots all in the hot table, against
the same rows after the move, most of them in the history table (6.2.3 d).

    .venv/bin/python benchmarks/history_query.py                        # 365 dates x 2,000 rows
    .venv/bin/python benchmarks/history_query.py --days 90 --rows 500   # quick

Writes ``--days`` daily snapshots of ``--rows`` accounts each into ``near_source.cbs_account``
(one file per data date, as daily loads leave it), then times, ``--repeat`` times each (median):

- **range aggregate**: rows and balance per month over the whole year;
- **one-day lookup**: one account on one old data date (in history after the move);
- **hot-day lookup**: one account on the newest data date (still hot after the move).

First with every date in the hot table (the table itself), then after ``lakehouse history
move`` with ``--hot-days`` dates kept hot, through the view across the hot and history tables
that ``lakehouse query`` reads (``Engine.spanning_view``); each query runs once untimed first.
The answers must be the same. Prints seconds, ratio = after / before per query, the move's own
time, the file counts, and a last JSON line for tooling.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

FIRST = date(2025, 11, 1)
QUERIES = {
    "range aggregate": "SELECT trunc(data_date, 'MM') AS month, count(*) AS n, sum(balance) AS total "
                       "FROM {t} WHERE data_date BETWEEN DATE'{first}' AND DATE'{last}' "
                       "GROUP BY 1 ORDER BY 1",
    "one-day lookup": "SELECT account_id, balance, status FROM {t} WHERE data_date = DATE'{old}' "
                      "AND account_id = 'A000017'",
    "hot-day lookup": "SELECT account_id, balance, status FROM {t} WHERE data_date = DATE'{last}' "
                      "AND account_id = 'A000017'",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--rows", type=int, default=2000, help="accounts per daily snapshot")
    ap.add_argument("--hot-days", type=int, default=30, help="data dates kept hot by the move")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--master", default="local[2]")
    add_workdir_options(ap)
    args = ap.parse_args()
    with workdir(ap, args, "history-query-") as work:
        run(args, work)


def run(args, work: Path) -> None:
    import shutil

    from lakehouse.api import Lakehouse
    from lakehouse.engine import Engine
    from lakehouse.lifecycle import history

    repo = Path(__file__).resolve().parents[1]
    for folder in ("conf", "layers", "quality_rules"):
        shutil.copytree(repo / folder, work / folder)
    engine = Engine(args.master, conf={"spark.sql.warehouse.dir": str(work / "_catalog"),
                                       "spark.sql.session.timeZone": "Asia/Shanghai"})
    lh = Lakehouse(work / "conf", engine=engine, root=work / "lakehouse_data",
                   landing=work / "landing", reports_dir=work / "reports")
    spec = lh.table("cbs.account")
    last = FIRST + timedelta(days=args.days - 1)
    dates = {"first": FIRST, "last": last, "old": FIRST + timedelta(days=args.days // 3)}

    began = time.perf_counter()
    write_year(engine, spec, args.days, args.rows)
    print(f"{args.days} daily snapshots of {args.rows:,} accounts ({args.days * args.rows:,} rows) "
          f"written in {time.perf_counter() - began:.1f} s")

    before = timings(engine, spec.qualified_name, dates, args.repeat)
    began = time.perf_counter()
    [moved] = history.move(engine, lh.store, lh.root, [history.Movable(spec, args.hot_days)], last)
    move_seconds = time.perf_counter() - began
    print(f"moved {len(moved.dates)} data dates ({moved.rows:,} rows) to the history zone in "
          f"{move_seconds:.1f} s, {args.hot_days} kept hot")
    view = engine.spanning_view(spec)
    after = timings(engine, view, dates, args.repeat)

    files = {"hot": len(engine.spark.read.format("delta").load(spec.path).inputFiles()),
             "history": len(engine.spark.read.format("delta").load(
                 history.history_path(spec)).inputFiles())}
    figures = {}
    print(f"\n{'query':<18}{'all hot':>10}{'hot+history':>14}{'ratio':>8}")
    for name in QUERIES:
        (hot_s, hot_rows), (span_s, span_rows) = before[name], after[name]
        if hot_rows != span_rows:
            raise SystemExit(f"{name}: the answers differ after the move")
        figures[name] = {"all_hot_s": round(hot_s, 3), "hot_and_history_s": round(span_s, 3),
                         "ratio": round(span_s / hot_s, 2)}
        print(f"{name:<18}{hot_s:>9.3f}s{span_s:>13.3f}s{span_s / hot_s:>7.2f}x")
    print(f"files: {args.days} in the hot table before, {files['hot']} hot + {files['history']} "
          "history after")
    print(json.dumps({"days": args.days, "rows_per_day": args.rows, "hot_days": args.hot_days,
                      "move_s": round(move_seconds, 1), "files": files, "queries": figures}))
    engine.spark.stop()


def write_year(engine, spec, days: int, rows: int) -> None:
    """``days`` snapshots of ``rows`` accounts, one file per data date."""
    from pyspark.sql import functions as F

    engine.ensure_table(spec)
    frame = engine.spark.range(days * rows).select(
        F.format_string("A%06d", (F.col("id") % rows).cast("int")).alias("account_id"),
        F.format_string("C%06d", F.floor(F.col("id") % rows / 2).cast("int")).alias("customer_id"),
        F.lit("DEP001").alias("product_code"), F.lit("CNY").alias("currency"),
        ((F.col("id") * 7919 % 10_000_000) / 100).cast("decimal(18,2)").alias("balance"),
        F.lit("A").alias("status"), F.lit(date(2020, 1, 1)).alias("open_date"),
        F.date_add(F.lit(FIRST), F.floor(F.col("id") / rows).cast("int")).alias("data_date"))
    frame.repartition("data_date").write.format("delta").mode("append").save(spec.path)


def timings(engine, table: str, dates: dict, repeat: int) -> dict[str, tuple[float, list]]:
    found = {}
    for name, text in QUERIES.items():
        sql = text.format(t=table, **{k: v.isoformat() for k, v in dates.items()})
        answer, seconds = engine.sql(sql), []  # a first run, not timed: plans and caches warm up
        for _ in range(repeat):
            began = time.perf_counter()
            answer = engine.sql(sql)
            seconds.append(time.perf_counter() - began)
        found[name] = (statistics.median(seconds), answer)
    return found


if __name__ == "__main__":
    main()
