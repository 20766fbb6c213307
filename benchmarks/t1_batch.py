"""A bank's night: N synthetic sources through the full T-1 path on one engine, against a plain
PySpark job per source.

    .venv/bin/python benchmarks/t1_batch.py                                  # 200 x 1,000 rows + 3 x 1,000,000
    .venv/bin/python benchmarks/t1_batch.py --sources 20 --large 1 --large-rows 100000   # quick

**ours**: ``Lakehouse.run`` for the data date: landing in the raw zone, the six admission
checks, parsing, the near-source load (snapshot, zipper and append mixed), the Great
Expectations suites and every governance record, ``--parallel`` sources side by side (default:
the ``parallel_loads`` setting). The small sources run first, then the large ones, each as one
run, so that both figures are clean.

**baseline**: what a hand-written job does with the same files, one source after another, in
the same Spark session: ``spark.read.csv`` with the contract's schema, a ``data_date`` column,
and an overwrite of that date's partition of a Delta table (no checks, no records).

Prints the seconds of both, the fixed cost per small source-date (its phase's seconds over its
sources), rows/s of the large ones and ratio = ours / baseline (the goal is at most 1.0), and
a last JSON line for tooling. Every source must load; otherwise it exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA_DATE = date(2026, 11, 1)
LOAD_TYPES = ("snapshot", "zipper", "append")


def synthetic_project(work: Path, sources: int, large: int) -> tuple[list[str], list[str]]:
    """The repo's project (conf, layers and quality rules: its holds, retention, history and
    services name the demo bank's tables, so its sources stay registered, though not run) plus
    a system ``bnk`` of cloned deposit-account contracts: ``sources`` small and ``large`` large
    ones, load types in turn, and a master key of its own. Returns their names (small, large)."""
    from lakehouse.security.keys import create_key_file

    shutil.copytree(REPO / "conf", work / "conf")
    for folder in ("layers", "quality_rules"):  # the clones get the rules derived from their contract
        shutil.copytree(REPO / folder, work / folder)
    create_key_file(work / ".secrets" / "master.key")  # removed with the work folder
    systems = (REPO / "conf" / "systems.yaml").read_text()
    cbs = systems[systems.index("  - code: cbs"):systems.index("  - code: ccs")]
    (work / "conf" / "systems.yaml").write_text(systems + cbs.replace("code: cbs", "code: bnk"))
    template = (REPO / "conf" / "sources" / "cbs" / "account.yaml").read_text()
    folder = work / "conf" / "sources" / "bnk"
    folder.mkdir(parents=True)
    small, big = [], []
    for index in range(sources + large):
        entity = f"acct{index:04d}" if index < sources else f"big{index - sources + 1}"
        text = re.sub(r"^system: cbs$", "system: bnk", template, flags=re.M)
        text = re.sub(r"^entity: account$", f"entity: {entity}", text, flags=re.M)
        text = re.sub(r"^load_type: \w+$", f"load_type: {LOAD_TYPES[index % 3]}", text, flags=re.M)
        text = text.replace("cbs/{data_date}/account_", f"bnk/{{data_date}}/{entity}_")
        (folder / f"{entity}.yaml").write_text(text)
        (small if index < sources else big).append(f"bnk.{entity}")
    return small, big


def accounts(rows: int, seed: int) -> list[dict]:
    return [{"account_id": f"62{seed:04d}{i:010d}", "customer_id": f"C{i % 50000:010d}",
             "product_code": "DEP001", "currency": "CNY",
             "balance": Decimal(i % 100000) / 100 + 1, "status": "A",
             "open_date": date(2020, 1, 1) + timedelta(days=i % 2000)} for i in range(rows)]


def deliver(lh, names: list[str], rows: int, seed: int) -> None:
    from lakehouse.demo.delivery_writer import write_delivery

    landing = Path(lh.settings.landing)
    arrived = datetime.combine(DATA_DATE + timedelta(days=1), datetime.min.time()).timestamp() + 5400
    for offset, name in enumerate(names):
        path = write_delivery(lh.contract(name), landing, DATA_DATE, accounts(rows, seed + offset))
        for delivered in path.parent.iterdir():
            os.utime(delivered, (arrived, arrived))


def ours(lh, names: list[str], parallel: int | None) -> float:
    began = time.perf_counter()
    summary = lh.run(DATA_DATE, sources=names, parallel=parallel)
    seconds = time.perf_counter() - began
    failed = [f"{r.source}: {r.message[:300]}" for r in summary.results if r.status != "succeeded"]
    if failed:
        raise SystemExit("loads failed:\n" + "\n".join(failed))
    return seconds


def baseline(lh, names: list[str], target: Path) -> float:
    """A plain PySpark job per source: read the CSV with its schema, overwrite the date."""
    from pyspark.sql import functions as F

    spark = lh.engine.spark
    began = time.perf_counter()
    for name in names:
        contract = lh.contract(name)
        schema = ", ".join(f"`{a.name}` {a.spark_type}" for a in contract.attributes)
        path = Path(lh.settings.landing) / contract.delivery.data_path(DATA_DATE)
        frame = spark.read.option("header", "true").schema(schema).csv(str(path))
        (frame.withColumn("data_date", F.lit(DATA_DATE)).write.format("delta").mode("overwrite")
         .option("replaceWhere", f"data_date = DATE'{DATA_DATE}'").partitionBy("data_date")
         .save(str(target / contract.table_name)))
    return time.perf_counter() - began


def _setting(text: str) -> str:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=200, help="small sources (default 200)")
    ap.add_argument("--rows", type=int, default=1000, help="rows per small source (default 1,000)")
    ap.add_argument("--large", type=int, default=3, help="large sources (default 3)")
    ap.add_argument("--large-rows", type=int, default=1_000_000, help="rows per large source")
    ap.add_argument("--parallel", type=int, default=None, help="loads side by side (default: setting)")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", type=_setting,
                    help="a Spark setting for both paths (repeatable), e.g. "
                    "spark.sql.codegen.factoryMode=NO_CODEGEN")
    add_workdir_options(ap)
    args = ap.parse_args()
    with workdir(ap, args, "t1_batch_") as work:
        run(args, work)


def run(args, work: Path) -> None:
    from lakehouse.api import Lakehouse
    from lakehouse.config.project import SOURCES_DIR
    from lakehouse.engine import Engine

    small, large = synthetic_project(work, args.sources, args.large)
    conf = {"spark.sql.shuffle.partitions": "4", **dict(item.split("=", 1) for item in args.conf)}
    engine = Engine(args.master, conf=conf)
    began = time.perf_counter()
    engine.start()
    lh = Lakehouse(work / "conf", engine, root=work / "lakehouse", landing=work / "landing",
                   reports_dir=work / "reports")
    print(f"spark session started in {time.perf_counter() - began:.1f}s")
    began = time.perf_counter()
    deliver(lh, small, args.rows, 1)
    deliver(lh, large, args.large_rows, 1000)
    registered = lh.register(lh.project.file(SOURCES_DIR), by="benchmark")
    assert all(r.error is None for r in registered), [r.error for r in registered if r.error]
    print(f"untimed: {len(small)} x {args.rows:,} + {len(large)} x {args.large_rows:,} rows "
          f"delivered, contracts registered in {time.perf_counter() - began:.1f}s")
    # warm-up (untimed): the first small source through both paths (the baseline's into a
    # folder removed after)
    ours(lh, small[:1], 1)
    baseline(lh, small[:1], work / "warmup")
    shutil.rmtree(work / "warmup")
    parallel = args.parallel or lh.settings.parallel_loads
    figures = {"ours_small_s": ours(lh, small[1:], parallel),
               "ours_large_s": ours(lh, large, parallel) if large else 0.0}
    figures["baseline_small_s"] = baseline(lh, small[1:], work / "baseline")
    figures["baseline_large_s"] = baseline(lh, large, work / "baseline") if large else 0.0
    count = len(small) - 1
    ours_total = figures["ours_small_s"] + figures["ours_large_s"]
    base_total = figures["baseline_small_s"] + figures["baseline_large_s"]
    figures |= {
        "sources": count + len(large), "small_rows": args.rows, "large_rows": args.large_rows,
        "parallel": parallel, "cores": os.cpu_count(), "conf": args.conf,
        "ours_fixed_per_source_s": figures["ours_small_s"] / count,
        "baseline_per_source_s": figures["baseline_small_s"] / count,
        "ours_large_rows_per_s": (args.large_rows * len(large) / figures["ours_large_s"]) if large else None,
        "baseline_large_rows_per_s": (args.large_rows * len(large) / figures["baseline_large_s"]) if large else None,
        "ours_s": ours_total, "baseline_s": base_total, "ratio_ours_baseline": ours_total / base_total,
    }
    print(f"\n{count} small sources ({args.rows:,} rows) + {len(large)} large ({args.large_rows:,} rows), "
          f"{os.cpu_count()} cores, {parallel} loads side by side (the first small source was the warm-up)")
    print(f"  ours (every check, every record)  {ours_total:8.1f} s   "
          f"{figures['ours_fixed_per_source_s']:.2f} s per small source")
    print(f"  baseline (plain PySpark, serial)  {base_total:8.1f} s   "
          f"{figures['baseline_per_source_s']:.2f} s per small source")
    if large:
        print(f"  large sources: ours {figures['ours_large_rows_per_s']:,.0f} rows/s, "
              f"baseline {figures['baseline_large_rows_per_s']:,.0f} rows/s")
    print(f"  ratio ours/baseline: {figures['ratio_ours_baseline']:.2f}x (goal <= 1.0)")
    print(json.dumps({"benchmark": "t1_batch", **{k: round(v, 3) if isinstance(v, float) else v
                                                  for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
