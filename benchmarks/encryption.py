"""The cost of encryption at rest (4.2.2.2 c), as ratios to the same work in clear.

    .venv/bin/python benchmarks/encryption.py                       # 2,000 customers, 300,000 rows
    .venv/bin/python benchmarks/encryption.py --customers 300 --rows 50000 --skip-mechanisms

1. **Mechanisms** on one Delta table of ``--rows`` rows (an ID number, a name, a mobile, an
   amount, a branch): write it, then read it back whole and with a filter on the branch, with
   (a) no encryption, (b) Parquet modular encryption of every column and the footer (our
   choice: ``lakehouse.engine.parquet_encryption``), (c) Spark's ``aes_encrypt`` of the four
   protected columns on write and ``aes_decrypt`` on read (its key is a literal of the query:
   it shows in the plan, which is why it is measured but not used).
2. **T-1 load**: the demo bank's deliveries of one data date (``--customers``) through
   ``Lakehouse.run`` (raw zone, admission, staging, near-source loads, quality, governance
   records) into a lakehouse with ``encrypt_at_rest: true`` and one with ``false``.
3. **Query**: an aggregate over the loaded near-source tables (accounts by branch joined to
   customers) on both lakehouses.

Each figure is the best of ``--repeat`` runs, clear and encrypted alternating which goes first
(the first load of a process also warms up the JVM: use ``--repeat 2`` or more). Prints seconds,
ratio = encrypted / clear, and a last JSON line for tooling.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA_DATE = date(2026, 11, 1)
QUERY = ("SELECT c.branch_id, count(*) AS accounts, sum(a.balance) AS balance "
         "FROM delta.`{root}/standard/near_source/cbs_account` a "
         "JOIN delta.`{root}/standard/near_source/cbs_customer` c ON a.customer_id = c.customer_id "
         "WHERE a.data_date = DATE'{d}' AND c.end_dt = DATE'9999-12-31' GROUP BY c.branch_id")


def timed(work) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def mechanisms(engine, work: Path, rows: int, repeat: int) -> dict[str, dict[str, float]]:
    """Write / read / filtered-read seconds of one table per mechanism (best of ``repeat``)."""
    import os

    from pyspark.sql import functions as F

    spark = engine.spark
    key = os.urandom(32)
    source = spark.range(rows).select(
        F.format_string("1101051949%08d", "id").alias("id_number"),
        F.concat(F.lit("客户"), F.col("id").cast("string")).alias("name"),
        F.format_string("139%08d", "id").alias("mobile"),
        (F.col("id") % 100000 / 100).cast("decimal(18,2)").alias("amount"),
        F.format_string("B%04d", F.col("id") % 50).alias("branch_id")).cache()
    source.count()
    protected = ["id_number", "name", "mobile", "amount"]
    hex_key = key.hex()

    def aes_frame():
        return source.select(*[F.expr(f"aes_encrypt(cast({c} as string), unhex('{hex_key}'), 'GCM')").alias(c)
                               for c in protected], "branch_id")

    def aes_read(path):
        frame = spark.read.format("delta").load(path)
        return frame.select(*[F.expr(f"cast(aes_decrypt({c}, unhex('{hex_key}'), 'GCM') as string)").alias(c)
                              for c in protected], "branch_id")

    plans = {
        "clear": (lambda: source, lambda p: spark.read.format("delta").load(p), None),
        "parquet modular encryption": (lambda: source, lambda p: spark.read.format("delta").load(p), key),
        "aes_encrypt columns": (aes_frame, aes_read, None),
    }
    best: dict[str, dict[str, float]] = {}
    for attempt in range(repeat):
        for name, (frame, read, parquet_key) in plans.items():
            engine.encrypt_at_rest(parquet_key)
            path = str(work / f"mech_{attempt}_{name.replace(' ', '_')}")
            seconds = {
                "write": timed(lambda: frame().write.format("delta").save(path)),
                "read": timed(lambda: read(path).agg(*[F.max(c) for c in protected]).collect()),
                "filtered read": timed(lambda: read(path).filter("branch_id = 'B0007'")
                                       .agg(F.count(F.lit(1)), F.max("mobile")).collect()),
            }
            for stage, value in seconds.items():
                best.setdefault(name, {})[stage] = min(best.get(name, {}).get(stage, value), value)
    engine.encrypt_at_rest(None)
    source.unpersist()
    return best


def lakehouse_of(work: Path, name: str, encrypted: bool, engine):
    from lakehouse.api import Lakehouse
    from lakehouse.security.keys import create_key_file

    folder = work / name
    for part in ("conf", "quality_rules", "layers"):
        shutil.copytree(REPO / part, folder / part)
    create_key_file(folder / ".secrets" / "master.key")  # the project's key_file
    settings = folder / "conf" / "lakehouse.yaml"
    settings.write_text(settings.read_text() + f"\nencrypt_at_rest: {'true' if encrypted else 'false'}\n")
    return Lakehouse(folder / "conf", engine=engine, root=folder / "lakehouse_data",
                     landing=folder / "landing", reports_dir=folder / "reports").as_service()


def t1_and_query(engine, work: Path, customers: int, repeat: int) -> dict[str, dict[str, float]]:
    from lakehouse.demo.run import generate

    best: dict[str, dict[str, float]] = {}
    for attempt in range(repeat):
        for encrypted in ((False, True) if attempt % 2 == 0 else (True, False)):
            label = "encrypted" if encrypted else "clear"
            lh = lakehouse_of(work, f"{label}_{attempt}", encrypted, engine)
            generate(lh, customers, 1, DATA_DATE, 7, 0.0)
            for r in lh.register(lh.project.conf_dir / "sources", by="benchmark"):
                if r.error is not None:
                    raise r.error
            lh.engine  # noqa: B018 - applies this lakehouse's encryption setting
            began = time.perf_counter()
            summary = lh.run(DATA_DATE)
            load = time.perf_counter() - began
            failed = [r for r in summary.results if r.status != "succeeded"]
            if failed:
                sys.exit(f"{label}: {failed[0].source} failed: {failed[0].message}")
            query = QUERY.format(root=lh.root, d=DATA_DATE)
            engine.sql(query)  # the plan and the file listing cached alike for both
            seconds = {"T-1 load": load, "query": timed(lambda: engine.sql(query))}
            for stage, value in seconds.items():
                best.setdefault(label, {})[stage] = min(best.get(label, {}).get(stage, value), value)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000, help="rows of the mechanisms' table")
    ap.add_argument("--customers", type=int, default=2000, help="demo-bank customers of the T-1 load")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--skip-mechanisms", action="store_true")
    ap.add_argument("--skip-t1", action="store_true")
    add_workdir_options(ap)
    args = ap.parse_args()

    from lakehouse.engine import Engine

    engine = Engine("local[*]")
    figures: dict = {"rows": args.rows, "customers": args.customers}
    with workdir(ap, args, "bench-encryption-") as work:
        if not args.skip_mechanisms:
            found = mechanisms(engine, work, args.rows, args.repeat)
            figures["mechanisms"] = found
            print(f"mechanisms, one Delta table of {args.rows:,} rows (seconds; ratio to clear):")
            for name, stages in found.items():
                print(f"  {name:28s} " + "  ".join(
                    f"{stage} {value:6.2f} ({value / found['clear'][stage]:.2f}x)"
                    for stage, value in stages.items()))
        if not args.skip_t1:
            found = t1_and_query(engine, work, args.customers, args.repeat)
            figures["lakehouse"] = found
            print(f"demo bank, {args.customers:,} customers, one data date (seconds):")
            for stage in ("T-1 load", "query"):
                clear, encrypted = found["clear"][stage], found["encrypted"][stage]
                figures[f"{stage} ratio"] = encrypted / clear
                print(f"  {stage:9s} clear {clear:7.2f}  encrypted {encrypted:7.2f}  "
                      f"ratio {encrypted / clear:.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
