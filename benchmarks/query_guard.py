"""The cost of enforcing security on `lakehouse query`: the same queries over the demo bank's
customer 360 mart, guarded (parse, rewrite, masking views, audit record) and plain.

    .venv/bin/python benchmarks/query_guard.py                       # demo bank of 100,000 customers
    .venv/bin/python benchmarks/query_guard.py --customers 2000      # quick
    .venv/bin/python benchmarks/query_guard.py --audit-records 1000  # an audit table in use

Builds one data date of the demo bank (generation, admission, loads, layers) in the work folder,
then runs each query ``--repeat`` times, alternating:

- **plain**: ``Engine.sql`` of the query as written, on the tables (no checks, no record);
- **guarded**: ``Lakehouse.query`` as ``--principal`` (default ``local.dev``, a data engineer:
  identity masked), split into its phases: parse and rewrite (sqlglot, no Spark), the query
  through the masking views, and the audit record (one chained Delta append).

``--audit-records N`` first writes a valid chain of N records, one file each, as in a lakehouse
queried for a while (every audited read adds a file to the audit table).

Prints the median seconds of each, the Spark jobs of the audit record, ratio = guarded / plain per
query and overall, and a last JSON line for tooling. The rows of both must be as many (the values
differ: masked), and the audit chain must verify at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402

QUERIES = {
    "one customer": "SELECT party_name, mobile, age, total_assets_cny FROM mart.mart_customer_360 "
                    "WHERE data_date = DATE'{d}' AND cbs_customer_id = '{c}'",
    "top 100 by liabilities": "SELECT party_id, party_name, branch_name, total_assets_cny FROM "
                         "mart.mart_customer_360 WHERE data_date = DATE'{d}' "
                         "ORDER BY total_liabilities_cny DESC LIMIT 100",
    "per branch": "SELECT branch_name, count(*) AS customers, count(DISTINCT mobile) AS mobiles "
                  "FROM mart.mart_customer_360 WHERE data_date = DATE'{d}' GROUP BY branch_name",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--principal", default="local.dev")
    ap.add_argument("--audit-records", type=int, default=0,
                    help="start the audit chain with this many records, one file each, as in a "
                         "lakehouse queried for a while (default: none)")
    add_workdir_options(ap)
    args = ap.parse_args()
    with workdir(ap, args, "query-guard-") as work:
        run(args, work)


def run(args, work: Path) -> None:
    import shutil

    from lakehouse.api import Lakehouse
    from lakehouse.demo.run import run_batches
    from lakehouse.security import guarded_read
    from lakehouse.security.audit import record_access, verify

    repo = Path(__file__).resolve().parents[1]
    for folder in ("conf", "layers", "quality_rules"):
        shutil.copytree(repo / folder, work / folder)
    lh = Lakehouse(work / "conf", root=work / "lakehouse_data", landing=work / "landing",
                   reports_dir=work / "reports", principal=args.principal)
    day = date(2026, 11, 1)
    began = time.perf_counter()
    outcome = run_batches(lh, args.customers, 1, day, seed=7, defect_rate=0)
    print(f"demo bank of {args.customers:,} customers, 1 data date: {time.perf_counter() - began:.0f} s "
          f"(ok: {outcome.ok})")
    if args.audit_records:
        _seed_audit(lh, args.audit_records)
    [first] = lh.as_service().query(f"SELECT min(cbs_customer_id) AS c FROM mart.mart_customer_360 "
                                    f"WHERE data_date = DATE'{day}'")
    timings: dict[str, dict[str, list[float]]] = {}
    phases = _instrument(guarded_read, record_access, lh.engine.spark.sparkContext)
    for name, template in QUERIES.items():
        sql = template.format(d=day, c=first["c"])
        found = timings.setdefault(name, {"plain": [], "guarded": [], "parse and rewrite": [],
                                          "query through views": [], "audit record": [],
                                          "audit Spark jobs": []})
        lh.engine.sql(sql)  # warm both paths once
        lh.query(sql)
        for _ in range(args.repeat):
            t = time.perf_counter()
            plain = lh.engine.sql(sql, 1000)
            found["plain"].append(time.perf_counter() - t)
            phases.clear()
            t = time.perf_counter()
            guarded = lh.query(sql)
            found["guarded"].append(time.perf_counter() - t)
            for phase, seconds in phases.items():
                found[phase].append(seconds)
            if len(plain) != len(guarded):
                sys.exit(f"{name}: {len(plain)} plain rows but {len(guarded)} guarded")
    chain = verify(lh.engine, lh.root)
    if not chain.intact:
        sys.exit(f"the audit chain is broken: {chain.broken.render()}")
    report = {}
    print(f"\naudit chain: {chain.records:,} records, intact")
    print(f"\n{'query':<20}{'plain s':>9}{'guarded s':>11}{'parse+rewrite':>15}{'views+run':>11}"
          f"{'audit':>8}{'jobs':>6}{'ratio':>8}")
    for name, found in timings.items():
        median = {k: statistics.median(v) for k, v in found.items() if v}
        ratio = median["guarded"] / median["plain"]
        report[name] = {**{k: round(v, 4) for k, v in median.items()}, "ratio": round(ratio, 2)}
        print(f"{name:<20}{median['plain']:>9.3f}{median['guarded']:>11.3f}"
              f"{median.get('parse and rewrite', 0):>15.3f}{median.get('query through views', 0):>11.3f}"
              f"{median.get('audit record', 0):>8.3f}{median.get('audit Spark jobs', 0):>6g}{ratio:>8.2f}")
    total_plain = sum(r["plain"] for r in report.values())
    total_guarded = sum(r["guarded"] for r in report.values())
    print(f"\noverall ratio guarded / plain: {total_guarded / total_plain:.2f} "
          f"({args.repeat} runs each, medians; principal {args.principal}; "
          f"{args.audit_records:,} audit records before)")
    print(json.dumps({"customers": args.customers, "principal": args.principal,
                      "audit_records": args.audit_records, "queries": report,
                      "ratio": round(total_guarded / total_plain, 2)}))


def _seed_audit(lh, records: int) -> None:
    """A valid chain of ``records`` records in as many files (one commit): the audit table of a
    lakehouse queried for a while, where every audited read added a file."""
    from lakehouse.governance.records import AccessAuditRecord, spec_of
    from lakehouse.security.audit import AccessedColumn, AccessEvent, next_record

    event = AccessEvent("bench.seed", ["analyst"], "query",
                        [AccessedColumn("mart.mart_customer_360", "mobile", 3)], "masked", 1, "SELECT 1")
    rows, last = [], None
    for _ in range(records):
        last = next_record(event, last)
        rows.append(last.as_row())
    spec = spec_of(AccessAuditRecord, lh.root)
    lh.engine.ensure_table(spec)
    lh.engine.delta.rows_frame(spec, rows).write.format("delta").mode("append") \
        .option("maxRecordsPerFile", 1).save(spec.path)


def _instrument(guarded_read, record_access, spark_context) -> dict[str, float]:
    """Time the phases of ``guarded_rows`` by wrapping the functions it calls, and count the
    Spark jobs of the audit record (a figure the other work on the machine does not change)."""
    from lakehouse.engine import Engine
    from lakehouse.security import audit

    phases: dict[str, float] = {}

    def timed(phase, function):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - t
        return wrapper

    def counted(function):
        def wrapper(*args, **kwargs):
            group = f"audit-{time.monotonic_ns()}"
            spark_context.setLocalProperty("spark.jobGroup.id", group)
            try:
                return function(*args, **kwargs)
            finally:
                spark_context.setLocalProperty("spark.jobGroup.id", None)
                phases["audit Spark jobs"] = len(spark_context.statusTracker().getJobIdsForGroup(group))
        return wrapper

    guarded_read.guard = timed("parse and rewrite", guarded_read.guard)
    Engine.sql_over_views = timed("query through views", Engine.sql_over_views)
    audit.record_access = counted(timed("audit record", record_access))
    return phases


if __name__ == "__main__":
    main()
