"""TPC-DI on the framework (issue #20): unpack the generator's output, run the historical load
and the two incremental batches, print the time and rows per second of each batch (the
benchmark's throughput measure: source rows of the batch over its elapsed time) and the audit.

    .venv/bin/python benchmarks/tpcdi.py                       # SF3 from ../shared/tpcdi
    .venv/bin/python benchmarks/tpcdi.py --data /tmp/tpcdi-sf3 # already unpacked
    .venv/bin/python benchmarks/tpcdi.py --data tests/fixtures/tpcdi_slice --no-figures

The warehouse is written under --work (a fresh temporary directory by default) and removed
afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ARCHIVE = REPO.parent / "shared" / "tpcdi" / "sf3.tar.zst"


def unpack(archive: Path, target: Path) -> Path:
    if not (target / "Batch1").exists():
        target.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        subprocess.run(f"zstd -dc '{archive}' | tar -x -C '{target}'", shell=True, check=True)
        print(f"unpacked {archive.name} into {target} in {time.perf_counter() - started:.1f} s")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="unpacked generator output (Batch1/ ...)")
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--work", type=Path, help="where the warehouse is written")
    parser.add_argument("--keep", action="store_true", help="keep the warehouse")
    parser.add_argument("--no-figures", action="store_true",
                        help="skip the checks against the generator's audit figures (a slice)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--audit-only", action="store_true",
                        help="audit the warehouse a --keep run left under --work")
    args = parser.parse_args()

    from examples.tpcdi.audit import audit, report
    from examples.tpcdi.workload import run
    from lakehouse.engine import Engine

    data = args.data or unpack(args.archive, Path(tempfile.gettempdir()) / "tpcdi-sf3")
    work = args.work or Path(tempfile.mkdtemp(prefix="tpcdi-"))
    engine = Engine(args.master, conf={"spark.driver.memory": "6g",
                                        "spark.sql.shuffle.partitions": "4",
                                        "spark.sql.session.timeZone": "UTC",
                                        "spark.sql.execution.arrow.pyspark.enabled": "true"})
    spark = engine.spark
    started = time.perf_counter()
    if args.audit_only:
        from examples.tpcdi.warehouse import TABLES, Warehouse

        wh = Warehouse(spark, work / "warehouse")
        for table in TABLES:
            if wh.exists(table):
                wh.view(table)
        print("TPC-DI audit\n" + report(audit(spark, data)))
        spark.stop()
        return 0
    try:
        runs = run(engine, data, work / "warehouse")
        total = time.perf_counter() - started
        print(f"\n{'batch':>5} {'date':>10} {'rows in':>10} {'rejected':>8} {'parse s':>8} "
              f"{'elapsed s':>9} {'rows/s':>9}")
        for r in runs:
            print(f"{r.batch:>5} {r.batch_date!s:>10} {r.rows_in:>10} {r.rows_rejected:>8} "
                  f"{r.parse_seconds:>8.1f} {r.seconds:>9.1f} {r.rows_per_second:>9.0f}")
        rows = sum(r.rows_in for r in runs)
        print(f"{'all':>5} {'':>10} {rows:>10} {'':>8} {'':>8} {total:>9.1f} {rows / total:>9.0f}")
        audit_started = time.perf_counter()
        checks = audit(spark, data)
        if args.no_figures:
            checks = [c for c in checks if not c.needs_figures]
        print("\nTPC-DI audit\n" + report(checks))
        print(f"audit: {time.perf_counter() - audit_started:.1f} s")
        return 0 if all(c.passed for c in checks) else 1
    finally:
        spark.stop()
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
