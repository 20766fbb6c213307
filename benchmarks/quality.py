"""Quality rules: ``ge_adapter.validate`` (all rules as one GE suite) against a hand-written
single-pass Spark aggregation computing the same metrics, and against one GE validation per rule.

All methods read the same Delta tables from storage, in the same Spark session, and must agree
on every unexpected count and observed value. Prints seconds, Spark jobs and the ratios
ours / baseline and per-rule / ours.

    .venv/bin/python benchmarks/quality.py --rows 200000        # quick
    .venv/bin/python benchmarks/quality.py --rows 1000000 --repeat 3 --explain
    .venv/bin/python benchmarks/quality.py --repeat 2 --per-rule once   # 10,000,000 rows

The table is a synthetic bank deposit-account extract (account, customer, product, currency,
balance, status, open date, resident ID number, mobile, last transaction time) with about 0.1%
planted defects, plus a customer table (N/10 rows) its reference rules look up. The 25 rules
cover all six dimensions. Every method validates the same frame, built as the framework builds
it: the extract read from storage, one flag column per reference rule from
``quality_batches.with_lookups`` (a left join with the reference keys, deduplicated) and the
arrival time column.

**ours** is ``ge_adapter.validate`` with all rules as one suite inside ``engine.validating()``
(adaptive query execution off), as ``quality.assessment`` runs it. **per-rule** is the same,
once per rule. The **baseline** is what an engineer would write by hand for the same figures,
with the session's defaults: one ``selectExpr(...)`` aggregation over the frame with
``count_if(<the rule's failing-row condition>)`` per row rule and ``count``/``sum``/``max`` for
the aggregate ones. Uniqueness counts every row of a duplicated key, as GE does.
Two ways to count duplicates are timed (``--baseline-unique both``, the default) and the faster
is the baseline: ``groupby`` adds a ``groupBy(key).count()`` per unique rule summing the counts
above one (a hash aggregate over the key columns only: Spark drops the lookup joins from it, one
more scan per rule); ``window`` puts GE's own ``count(1) OVER (PARTITION BY key)`` into the
single pass (one query, but every column the other rules need goes through a shuffle and sort
per unique rule).

Great Expectations' Spark datasource persists every batch it validates unless created with
``persist=False`` (the adapter now does), and nothing unpersists it; the benchmark clears
Spark's cache before every timed method so each one starts from storage, and times a variant
with the setting flipped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lakehouse.config.quality_rules import DIMENSIONS, QualityRule, parse_rule  # noqa: E402
from benchmarks.workdir import add_workdir_options, workdir  # noqa: E402
from lakehouse.engine import Batch, Engine, Lookup, quality_batches  # noqa: E402
from lakehouse.quality import ge_adapter  # noqa: E402
from lakehouse.quality.assessment import SAMPLE_ROWS  # noqa: E402
from lakehouse.quality.rule_sql import RECEIVED_AT, fails_sql, reference_flag  # noqa: E402
from lakehouse.zones.tables import Column, TableSpec  # noqa: E402

DATA_DATE = dt.date(2024, 6, 30)
RECEIVED = dt.datetime(2024, 7, 1, 2, 15)  # the delivery arrived at 02:15 the next morning
PRODUCTS = ("SAV01", "SAV02", "CUR01", "TD03", "TD06", "TD12")
CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY")
STATUSES = ("A", "D", "C")  # active, dormant, closed
REGIONS = ("110101", "310104", "440305", "330106", "510107", "420106", "320102", "610103")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


# -- data ------------------------------------------------------------------------------------
def _h(seed: int, salt: str, modulus: int, key: str = "id") -> str:
    """A seeded pseudo-random integer in [0, modulus) of the row's ``key`` (reproducible)."""
    return f"pmod(xxhash64({key}, {seed}, '{salt}'), {modulus})"


def _id_number_sql(seed: int, key: str) -> str:
    """A valid GB 11643 ID number that is a function of ``key`` (the customer number)."""
    h = lambda salt, m: _h(seed, salt, m, key)  # noqa: E731
    regions = ", ".join(f"'{r}'" for r in REGIONS)
    birth = f"date_format(date_add(DATE'1940-01-01', CAST({h('birth', 25000)} AS INT)), 'yyyyMMdd')"
    first17 = (f"concat(element_at(array({regions}), CAST({h('region', len(REGIONS))} AS INT) + 1), "
               f"{birth}, lpad(CAST({h('seq', 1000)} AS STRING), 3, '0'))")
    weights = ", ".join(map(str, ID_WEIGHTS))
    total = (f"aggregate(sequence(1, 17), 0, (acc, i) -> acc + (ascii(substr(f17, i, 1)) - 48) "
             f"* element_at(array({weights}), i))")
    return (f"element_at(transform(array({first17}), f17 -> "
            f"concat(f17, substr('10X98765432', {total} % 11 + 1, 1))), 1)")


def _account_columns(seed: int) -> list[str]:
    """The extract's columns from ``id`` (row number), ``cust_no``, ``status_draw`` and ``idn``."""
    h = lambda salt, m: _h(seed, salt, m)  # noqa: E731
    defect = lambda salt: h("defect_" + salt, 100_000)  # noqa: E731  "< 100" is 0.1% of rows
    products = ", ".join(f"'{p}'" for p in PRODUCTS)
    currencies = ", ".join(f"'{c}'" for c in CURRENCIES)
    data_date = f"DATE'{DATA_DATE.isoformat()}'"
    digits9 = f"lpad(CAST({h('mob', 1_000_000_000)} AS STRING), 9, '0')"
    return [
        # 0.01% of rows repeat the previous row's account number (duplicate keys)
        f"concat('6222', lpad(CAST(CASE WHEN {defect('dup')} < 10 AND id > 0 THEN id - 1 ELSE id END "
        f"AS STRING), 15, '0')) AS account_id",
        f"CASE WHEN {defect('cust_null')} < 50 THEN NULL "
        f"ELSE concat('C', lpad(CAST(cust_no AS STRING), 9, '0')) END AS customer_id",
        f"CASE WHEN {defect('product')} < 100 THEN 'XX99' ELSE element_at(array({products}), "
        f"CAST({h('product', len(PRODUCTS))} AS INT) + 1) END AS product_code",
        f"CASE WHEN {defect('currency')} < 50 THEN NULL WHEN {defect('currency_bad')} < 50 THEN 'RMB' "
        f"WHEN {h('ccy', 10)} < 9 THEN 'CNY' ELSE element_at(array({currencies}), "
        f"CAST({h('ccy2', len(CURRENCIES))} AS INT) + 1) END AS currency",
        f"CAST(CASE WHEN {defect('balance_null')} < 20 THEN NULL "
        f"WHEN status_draw >= 97 AND {defect('closed_balance')} >= 500 THEN 0 "
        f"WHEN {defect('negative')} < 100 THEN -{h('balance', 5_000_000)} / 100 "
        f"ELSE {h('balance', 50_000_000)} / 100 END AS DECIMAL(18, 2)) AS balance",
        f"CASE WHEN {defect('status')} < 50 THEN 'Z' WHEN status_draw < 90 THEN 'A' "
        f"WHEN status_draw < 97 THEN 'D' ELSE 'C' END AS status",
        f"CASE WHEN {defect('open_null')} < 20 THEN NULL WHEN {defect('future')} < 10 "
        f"THEN date_add({data_date}, 30) "
        f"ELSE date_add(DATE'1995-01-01', CAST({h('open', 10_700)} AS INT)) END AS open_date",
        f"CASE WHEN {defect('id_null')} < 20 THEN NULL WHEN {defect('id_bad')} < 80 "
        f"THEN concat(substr(idn, 1, 17), CASE WHEN substr(idn, 18, 1) = '0' THEN '1' ELSE '0' END) "
        f"ELSE idn END AS id_number",
        f"CASE WHEN {defect('mobile')} < 100 THEN concat('12', {digits9}) "
        f"WHEN {defect('mobile_null')} < 3000 THEN NULL "
        f"ELSE concat('1', element_at(array('3', '5', '7', '8', '9'), CAST({h('mob1', 5)} AS INT) + 1), "
        f"{digits9}) END AS mobile",
        f"CASE WHEN {h('txn_null', 100)} < 5 THEN NULL ELSE timestamp_seconds("
        f"unix_seconds(TIMESTAMP'{DATA_DATE.isoformat()} 23:59:59') - {h('txn', 400 * 86400)}) END "
        f"AS last_txn_time",
    ]


def write_tables(spark, root: Path, rows: int, seed: int) -> dict:
    """The account extract and the customer table as Delta; returns their paths and figures."""
    customers = max(rows // 10, 1)
    drawn = customers + max(customers // 1000, 1)  # about 0.1% of accounts name no customer
    files = max(2, math.ceil(rows / 1_000_000))
    accounts = (spark.range(0, rows, 1, files)
                .selectExpr("id", f"{_h(seed, 'customer', drawn)} + 1 AS cust_no",
                            f"{_h(seed, 'status', 100)} AS status_draw")
                .selectExpr("*", f"{_id_number_sql(seed, 'cust_no')} AS idn")
                .selectExpr(*_account_columns(seed)))
    customer = spark.range(1, customers + 1, 1, max(1, files // 4)).selectExpr(
        "concat('C', lpad(CAST(id AS STRING), 9, '0')) AS customer_id",
        f"{_id_number_sql(seed, 'id')} AS id_number",
        "concat('name-', CAST(id AS STRING)) AS customer_name")
    account_path, customer_path = str(root / "cbs_account"), str(root / "cbs_customer")
    accounts.write.format("delta").mode("overwrite").save(account_path)
    customer.write.format("delta").mode("overwrite").save(customer_path)
    total = spark.read.format("delta").load(account_path).selectExpr("sum(balance)").first()[0]
    size = sum(f.stat().st_size for f in Path(account_path).rglob("*.parquet"))
    return {"account": account_path, "customer": customer_path, "customers": customers,
            "files": files, "bytes": size, "balance_total": float(total)}


# -- rules -----------------------------------------------------------------------------------
def quality_rules(rows: int, balance_total: float, with_where: bool) -> list[QualityRule]:
    """25 rules over the six dimensions (27 with ``with_where``)."""
    r = parse_rule
    customer = {"table": "cbs_customer", "columns": {"customer_id": "customer_id"}}
    rules = [
        r(name="account_id.not_null", dimension="completeness", severity="fail", not_null="account_id"),
        r(name="customer_id.not_null", dimension="completeness", not_null="customer_id"),
        r(name="balance.not_null", dimension="completeness", not_null="balance"),
        r(name="open_date.not_null", dimension="completeness", not_null="open_date"),
        r(name="currency.not_null", dimension="completeness", not_null="currency"),
        r(name="control.row_count", dimension="completeness", severity="fail",
          row_count={"min": rows, "max": rows}),
        r(name="last_txn_time.fresh", dimension="timeliness",
          freshness={"column": "last_txn_time", "max_lag_days": 1}),
        r(name="delivery.on_time", dimension="timeliness", arrives_by={"at": "06:00", "days_after": 1}),
        r(name="control.balance_total", dimension="accuracy", severity="fail",
          sum_equals={"column": "balance", "total": balance_total, "tolerance": 0.01}),
        r(name="customer.exists", dimension="accuracy", reference=customer),
        r(name="open_date.not_future", dimension="consistency", sql=f"open_date <= DATE'{DATA_DATE}'"),
        r(name="closed.zero_balance", dimension="consistency", sql="status <> 'C' OR balance = 0"),
        r(name="customer.same_id_number", dimension="consistency",
          reference={**customer, "equal": {"id_number": "id_number"}}),
        r(name="keys.unique", dimension="uniqueness", severity="fail", unique=["account_id"]),
        r(name="customer_product_day.unique", dimension="uniqueness",
          unique=["customer_id", "product_code", "open_date"]),
        r(name="product_code.domain", dimension="validity",
          in_set={"column": "product_code", "values": list(PRODUCTS)}),
        r(name="currency.domain", dimension="validity",
          in_set={"column": "currency", "values": list(CURRENCIES)}),
        r(name="status.domain", dimension="validity", in_set={"column": "status", "values": list(STATUSES)}),
        r(name="account_id.format", dimension="validity",
          pattern={"column": "account_id", "regex": "6222[0-9]{15}"}),
        r(name="customer_id.format", dimension="validity",
          pattern={"column": "customer_id", "regex": "C[0-9]{9}"}),
        r(name="balance.range", dimension="validity", between={"column": "balance", "min": 0,
                                                               "max": 100_000_000}),
        r(name="open_date.range", dimension="validity",
          between={"column": "open_date", "min": dt.date(1990, 1, 1), "max": DATA_DATE}),
        r(name="id_number.gb11643", dimension="validity", valid={"column": "id_number", "check": "gb11643"}),
        r(name="mobile.cn_mobile", dimension="validity", valid={"column": "mobile", "check": "cn_mobile"}),
        r(name="customer_id.length", dimension="validity", max_length={"column": "customer_id", "max": 10}),
    ]
    if with_where:
        rules += [
            r(name="active.last_txn_time.not_null", dimension="completeness",
              where="status = 'A'", not_null="last_txn_time"),
            r(name="active.balance.range", dimension="validity", where="status = 'A'",
              between={"column": "balance", "min": 0, "max": 10_000_000}),
        ]
    return rules


# -- the frame all methods validate ----------------------------------------------------------
@dataclasses.dataclass
class Bench:
    engine: Engine
    data: dict
    rules: list[QualityRule]

    @property
    def spark(self):
        return self.engine.spark


CUSTOMER_COLUMNS = (Column("customer_id", "string"), Column("id_number", "string"),
                    Column("customer_name", "string"))


def batch_frame(bench: Bench):
    """The delivery as the framework validates it, read from storage: the extract, one flag
    column per reference rule (``quality_batches.with_lookups``, the framework's own left join
    with the reference keys, deduplicated) and the arrival time column."""
    from pyspark.sql import functions as F

    spark, data = bench.spark, bench.data
    customer = TableSpec(name="cbs_customer", zone="standard", layer="near_source",
                         path=data["customer"], columns=CUSTOMER_COLUMNS, keys=("customer_id",))
    lookups = [(Lookup(reference_flag(r), customer, dict(r.reference.columns), dict(r.reference.equal),
                       r.reference.required), spark.read.format("delta").load(customer.path))
               for r in bench.rules if r.kind == "reference"]
    frame = quality_batches.with_lookups(spark.read.format("delta").load(data["account"]), lookups)
    return frame.withColumn(RECEIVED_AT, F.lit(RECEIVED))


# -- the methods -----------------------------------------------------------------------------
def ours(bench: Bench, cache=False, samples=False, adaptive_off=True, ge_persist=None) -> dict:
    """``ge_adapter.validate`` with all rules as one suite, under ``engine.validating()`` (adaptive
    execution off) as the framework runs it. Variants: ``samples`` adds the framework's
    failing-row samples (``engine.failing_samples``); ``cache`` caches the frame first (its
    time included); ``ge_persist`` overrides whether GE's Spark datasource persists the batch."""
    frame = batch_frame(bench)
    if cache:
        frame = frame.cache()
        frame.count()
    with contextlib.ExitStack() as stack:
        if adaptive_off:
            stack.enter_context(bench.engine.validating())
        if ge_persist is not None and ge_persist != adapter_persists():
            stack.enter_context(ge_datasource(persist=ge_persist))
        validation = ge_adapter.validate(Batch(frame), "bench.cbs_account", bench.rules, DATA_DATE)
    by_name = {r.name: r for r in bench.rules}
    failed = [by_name[o.rule] for o in validation.outcomes if not o.success and by_name[o.rule].row_level]
    if samples and failed:
        rows = bench.engine.failing_samples(Batch(frame), {r.name: fails_sql(r) for r in failed}, SAMPLE_ROWS)
        if {row["_rule"] for row in rows} != {r.name for r in failed}:
            raise SystemExit("failing_samples returned no rows for some failed rule")
    return metrics_of(validation.outcomes, bench.rules)


def adapter_persists() -> bool:
    """Whether the adapter's GE Spark datasource persists each batch (GE's default does)."""
    with ge_adapter._context() as (_, batch_definition):
        return bool(batch_definition.data_asset.datasource.persist)


@contextlib.contextmanager
def ge_datasource(persist: bool):
    """The adapter's GE context with a Spark datasource created with ``persist`` (a
    benchmark-only swap of ``ge_adapter._context``; the adapter itself is not changed)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if persist not in _contexts:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = (context.data_sources.add_spark(f"bench_persist_{persist}", persist=persist)
                 .add_dataframe_asset("batches"))
        _contexts[persist] = (context, asset.add_batch_definition_whole_dataframe("batch"))
    saved = ge_adapter._context
    ge_adapter._context = lambda: contextlib.nullcontext(_contexts[persist])
    try:
        yield
    finally:
        ge_adapter._context = saved


_contexts: dict[bool, tuple] = {}


def drop_cached(spark) -> None:
    """Forget every cached frame (with ``persist=True`` GE persists each batch it validates and
    nothing unpersists it: a later method building the same plan would read GE's cache)."""
    spark.catalog.clearCache()


def ge_left_cached(spark) -> bool:
    return not spark._jsparkSession.sharedState().cacheManager().isEmpty()


def per_rule(bench: Bench) -> dict:
    """One GE validation per rule on the same frame (after the first, they read the batch GE
    persisted, as they would in the framework)."""
    frame = batch_frame(bench)
    outcomes = []
    with bench.engine.validating():
        for rule in bench.rules:
            outcomes += ge_adapter.validate(Batch(frame), f"bench.{rule.name}", [rule], DATA_DATE).outcomes
    return metrics_of(outcomes, bench.rules)


def metrics_of(outcomes, rules) -> dict:
    """rule name: unexpected count (row rules) or observed value (aggregate rules)."""
    by_name = {r.name: r for r in rules}
    found = {}
    for o in outcomes:
        if o.error:
            raise SystemExit(f"GE could not evaluate rule {o.rule} ({o.expectation}): {o.error}")
        found[o.rule] = o.unexpected_count if by_name[o.rule].row_level else o.observed_value
    return found


def baseline_expressions(rules, unique: str) -> tuple[list[str], list[str], list[QualityRule]]:
    """(window columns to add, aggregate expressions one per rule, unique rules done apart)."""
    added, aggregates, apart = [], [], []
    for i, rule in enumerate(rules):
        kind = rule.kind
        if kind == "unique" and unique == "groupby":
            apart.append(rule)
            continue
        if kind == "unique":
            added.append(f"{fails_sql(rule)} AS `__unique_{i}`")
            aggregates.append(f"count_if(`__unique_{i}`) AS `{rule.name}`")
        elif rule.row_level:
            aggregates.append(f"count_if({fails_sql(rule)}) AS `{rule.name}`")
        elif kind == "row_count":
            aggregates.append(f"count(1) AS `{rule.name}`")
        elif kind == "freshness":
            aggregates.append(f"max(`{rule.freshness.column}`) AS `{rule.name}`")
        elif kind == "sum_equals":
            aggregates.append(f"sum(`{rule.sum_equals.column}`) AS `{rule.name}`")
        elif kind == "arrives_by":
            aggregates.append(f"max(`{RECEIVED_AT}`) AS `{rule.name}`")
        else:
            raise ValueError(f"no baseline for {kind}")
    return added, aggregates, apart


def baseline(bench: Bench, unique: str, timings: dict | None = None) -> dict:
    """The hand-written job, with the session's defaults (adaptive execution on)."""
    from pyspark.sql import functions as F

    t = time.perf_counter()
    frame = batch_frame(bench)
    added, aggregates, apart = baseline_expressions(bench.rules, unique)
    source = frame.selectExpr("*", *added) if added else frame
    found = source.selectExpr(*aggregates).first().asDict()
    if timings is not None:
        timings[f"single pass, {len(aggregates)} aggregates"] = time.perf_counter() - t
    for rule in apart:
        t = time.perf_counter()
        keys = rule.unique
        scope = frame.where(f"NOT ({' AND '.join(f'`{k}` IS NULL' for k in keys)})")
        if rule.where:
            scope = scope.where(f"coalesce(({rule.where}), FALSE)")
        found[rule.name] = (scope.groupBy(*keys).count().where("count > 1")
                            .agg(F.coalesce(F.sum("count"), F.lit(0))).first()[0])
        if timings is not None:
            timings[f"groupBy for {rule.name}"] = time.perf_counter() - t
    return {name: ge_adapter._plain(value) for name, value in found.items()}


def compare(name: str, expected: dict, got: dict, rules) -> list[str]:
    problems = []
    for rule in rules:
        a, b = expected.get(rule.name), got.get(rule.name)
        same = (math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-6)
                if isinstance(a, int | float) and isinstance(b, int | float) else a == b)
        if not same:
            problems.append(f"{rule.name}: baseline {a!r}, {name} {b!r}")
    return problems


# -- measuring -------------------------------------------------------------------------------
class Jobs:
    """Spark jobs run by a block: those of its job group, and all jobs (job ids are a global
    sequence; a one-task marker job before and after brackets them, broadcasts included)."""

    def __init__(self, spark):
        self.spark, self.sc = spark, spark.sparkContext

    def _marker(self) -> int:
        self.sc.setJobGroup("bench-marker", "marker")
        self.sc.parallelize([0], 1).count()
        return max(self.sc.statusTracker().getJobIdsForGroup("bench-marker"))

    def run(self, group: str, fn):
        drop_cached(self.spark)  # every method starts from storage
        first = self._marker()
        self.sc.setJobGroup(group, group)
        t = time.perf_counter()
        try:
            value = fn()
        finally:
            seconds = time.perf_counter() - t
            in_group = len(self.sc.statusTracker().getJobIdsForGroup(group))
        total = self._marker() - first - 1
        return value, seconds, in_group, total


def others_busy(seconds: float = 2.0) -> float:
    """The share of the machine's CPU busy over ``seconds`` while this benchmark waits (so: other
    processes); 0 where /proc/stat is missing."""
    def sample():
        with open("/proc/stat") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:9]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    try:
        idle0, all0 = sample()
        time.sleep(seconds)
        idle1, all1 = sample()
    except OSError:
        return 0.0
    return 1 - (idle1 - idle0) / max(all1 - all0, 1)


def wait_for_quiet(max_wait: float, threshold: float) -> float:
    """Wait (up to ``max_wait`` seconds) until other processes use at most ``threshold`` of the
    CPU; returns the share they used just before the caller goes on."""
    start = time.perf_counter()
    busy = others_busy()
    while busy > threshold and time.perf_counter() - start < max_wait:
        busy = others_busy(5.0)
    return busy


class ActionsByGeFunction:
    """Times the Spark actions (collect, count, toPandas) run inside the block, by the Great
    Expectations function that ran them; the rest of the block's time is GE's own Python work
    (building the metric graph, results, Data Docs payload)."""

    METHODS = ("collect", "count", "toPandas")

    def __enter__(self):
        import traceback

        from pyspark.sql.classic.dataframe import DataFrame

        self.cls, self.saved, self.spent, depth = DataFrame, {}, {}, [0]
        for name in self.METHODS:
            original = getattr(DataFrame, name)
            self.saved[name] = original

            def action(frame, *a, _original=original, **k):
                depth[0] += 1
                t = time.perf_counter()
                try:
                    return _original(frame, *a, **k)
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:
                        stack = traceback.extract_stack()[:-1]
                        caller = next((f.name for f in reversed(stack)
                                       if "great_expectations" in f.filename), "(outside GE)")
                        n, seconds = self.spent.get(caller, (0, 0.0))
                        self.spent[caller] = (n + 1, seconds + time.perf_counter() - t)

            setattr(DataFrame, name, action)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        for name, original in self.saved.items():
            setattr(self.cls, name, original)

    def report(self, title: str) -> None:
        in_actions = sum(s for _, s in self.spent.values())
        print(f"{title}: {self.seconds:.2f}s, of which Spark actions {in_actions:.2f}s "
              f"({sum(n for n, _ in self.spent.values())} actions):")
        for caller, (n, seconds) in sorted(self.spent.items(), key=lambda kv: -kv[1][1]):
            print(f"    {seconds:7.2f}s  {n:3d} x {caller}")
        print(f"    {self.seconds - in_actions:7.2f}s  GE's own work between the actions")


def explain(bench: Bench, unique: str) -> None:
    """Where the time goes (extra runs, each from storage): GE's Spark actions by GE function,
    with and without GE's persist of the batch; the baseline's parts; the named checks; a scan."""
    spark = bench.spark
    print("\nwhere the time goes (extra runs, each from storage, not in the ratios):")
    persists = adapter_persists()
    drop_cached(spark)
    with ActionsByGeFunction() as profile:
        ours(bench)
    profile.report(f"  ours (GE persist={persists}, the adapter's setting)")
    print(f"    a cached frame left behind afterwards: {ge_left_cached(spark)}")
    drop_cached(spark)
    with ActionsByGeFunction() as profile:
        ours(bench, ge_persist=not persists)
    profile.report(f"  ours with GE persist={not persists}")
    print(f"    a cached frame left behind afterwards: {ge_left_cached(spark)}")
    drop_cached(spark)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    baseline(bench, unique, timings)
    print(f"  baseline (unique {unique}): {time.perf_counter() - t:.2f}s: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    named = [r for r in bench.rules if r.kind == "valid"]
    drop_cached(spark)
    t = time.perf_counter()
    batch_frame(bench).selectExpr(*[f"count_if({fails_sql(r)})" for r in named]).first()
    print(f"  the named checks alone ({', '.join(r.name for r in named)}), one pass: "
          f"{time.perf_counter() - t:.2f}s")
    print(f"  one pass of the frame (read + lookups) into a noop sink: {noop_scan(bench):.2f}s")


def noop_scan(bench: Bench) -> float:
    """One pass over the frame (storage read plus the reference joins) into a noop sink."""
    drop_cached(bench.spark)
    t = time.perf_counter()
    batch_frame(bench).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t


# -- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="extract rows (default 10M)")
    ap.add_argument("--seed", type=int, default=20240630)
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of each; best is reported")
    ap.add_argument("--per-rule", choices=("every", "once", "skip"), default="every",
                    help="time one GE validation per rule in every repeat, the first only, or never")
    ap.add_argument("--baseline-unique", choices=("both", "groupby", "window"), default="both",
                    help="how the baseline counts duplicate keys (see the module docstring); with "
                         "both, each is timed and the faster is the baseline")
    ap.add_argument("--with-where", action="store_true",
                    help="add two rules with a `where` condition (GE computes them on their own domain)")
    ap.add_argument("--no-extras", action="store_true",
                    help="skip the variants run once after the repeats: ours with the failing-row "
                         "samples, with a cache first, with GE's persist flipped, with AQE on; a "
                         "noop scan")
    ap.add_argument("--explain", action="store_true",
                    help="also show where the time goes: GE's Spark actions by GE function, the "
                         "baseline's parts, the named checks alone, a plain scan")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="before each timed method, wait up to this long for other processes to "
                         "use at most --quiet-below of the CPU (default 0: do not wait)")
    ap.add_argument("--quiet-below", type=float, default=0.1, metavar="SHARE",
                    help="CPU share of other processes counted as quiet (default 0.1)")
    add_workdir_options(ap)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Spark conf (repeatable)")
    args = ap.parse_args(argv)
    if args.rows < 10 or args.repeat < 1:
        ap.error("--rows must be at least 10 and --repeat positive")
    with workdir(ap, args, "quality-bench-") as work:
        run(args, work)


def run(args, work: Path) -> None:
    conf = {"spark.sql.warehouse.dir": str(work / "warehouse"),
            "spark.driver.memory": args.driver_memory, "spark.sql.shuffle.partitions": "8"}
    conf.update(kv.split("=", 1) for kv in args.conf)
    t = time.perf_counter()
    engine = Engine(args.master, conf=conf)
    spark = engine.spark
    print(f"spark session started in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    data = write_tables(spark, work / "tables", args.rows, args.seed)
    print(f"tables (untimed): {args.rows:,} accounts in {data['files']} files "
          f"({data['bytes'] / 2**20:.0f} MiB), {data['customers']:,} customers; "
          f"written in {time.perf_counter() - t:.1f}s")
    rules = quality_rules(args.rows, data["balance_total"], args.with_where)
    dims = {d: sum(r.dimension == d for r in rules) for d in DIMENSIONS}
    print(f"{len(rules)} rules: " + ", ".join(f"{d} {n}" for d, n in dims.items()))
    assert all(dims.values()), "every dimension needs a rule"
    bench = Bench(engine, data, rules)

    jobs = Jobs(spark)
    # Untimed warm-up on up to 200k rows: GE's context and metric registry, Delta log caches,
    # and the JVM's JIT (the first pass over the named checks is several times slower).
    t = time.perf_counter()
    warm = batch_frame(bench).limit(min(args.rows, 200_000))
    with engine.validating():
        ge_adapter.validate(Batch(warm), "bench.warmup", rules, DATA_DATE)
    warm.selectExpr(*baseline_expressions(rules, "groupby")[1]).first()
    print(f"warm-up (untimed): {time.perf_counter() - t:.1f}s")

    times: dict[str, list[float]] = {}
    job_counts: dict[str, tuple[int, int]] = {}
    results: dict[str, dict] = {}
    busy: list[float] = []  # CPU share other processes used just before each timed method

    def measure(name, fn):
        runs = times.setdefault(name, [])
        busy.append(wait_for_quiet(args.wait_quiet, args.quiet_below))
        value, seconds, in_group, total = jobs.run(f"bench-{name}-{len(runs)}", fn)
        if not runs or seconds < min(runs):
            job_counts[name] = (in_group, total)  # those of the best run
        runs.append(seconds)
        results[name] = value
        return f"{name} {seconds:.2f}s [{busy[-1]:.0%}]"

    def check(names):
        reference = results[baselines[0]]
        problems = [p for name in names for p in compare(name, reference, results[name], rules)]
        if problems:
            raise SystemExit("RESULTS DIFFER:\n  " + "\n  ".join(problems))

    baselines = ["baseline_groupby", "baseline_window"] if args.baseline_unique == "both" \
        else [f"baseline_{args.baseline_unique}"]
    methods = {"ours": lambda: ours(bench),
               "baseline_groupby": lambda: baseline(bench, "groupby"),
               "baseline_window": lambda: baseline(bench, "window"),
               "per_rule": lambda: per_rule(bench)}
    for i in range(args.repeat):
        order = ["ours", *baselines]
        if args.per_rule == "every" or (args.per_rule == "once" and i == 0):
            order.append("per_rule")
        if i % 2:
            order.reverse()  # alternate who goes first: JIT and OS caches favour neither
        line = [measure(name, methods[name]) for name in order]
        print(f"run {i + 1}/{args.repeat}: " + ", ".join(line))
        check([n for n in results if n != baselines[0]])

    extras: dict[str, float] = {}
    if not args.no_extras:
        variants = {"ours_samples": lambda: ours(bench, samples=True),
                    "ours_cached": lambda: ours(bench, cache=True),
                    "ours_ge_persist_flipped": lambda: ours(bench, ge_persist=not adapter_persists()),
                    "ours_adaptive": lambda: ours(bench, adaptive_off=False)}
        line = [measure(name, fn) for name, fn in variants.items()]
        extras["noop_scan"] = noop_scan(bench)
        print("variants, one run each: " + ", ".join(line) + f", noop scan {extras['noop_scan']:.2f}s")
        check(variants)

    if args.explain:
        explain(bench, "groupby" if args.baseline_unique == "both" else args.baseline_unique)

    print("\nmetrics (all methods agree):")
    for rule in rules:
        print(f"  {rule.dimension:12s} {rule.name:32s} {rule.kind:10s} {results[baselines[0]][rule.name]}")

    best = {name: min(v) for name, v in times.items()}
    fastest = min(baselines, key=best.get)
    best["baseline"] = best[fastest]  # the faster hand-written job is the one to beat
    cores = os.cpu_count()
    print()
    print(f"machine: {cores} cores (os.cpu_count), Spark master {args.master}, "
          f"defaultParallelism {spark.sparkContext.defaultParallelism}, "
          f"shuffle partitions {spark.conf.get('spark.sql.shuffle.partitions')}, "
          f"driver memory {args.driver_memory}")
    print(f"other processes used {min(busy):.0%} to {max(busy):.0%} of the CPU just before the "
          f"timed runs ([..] after each time above); more than a few % makes the figures noisy")
    print(f"N = {args.rows:,} rows, {len(rules)} rules, best of {args.repeat} "
          f"(per-rule: {len(times.get('per_rule', []))} run(s), variants: 1 run)")
    label = {"ours": "ours (one GE suite, AQE off)",
             "baseline_groupby": "baseline: single pass + groupBy per unique",
             "baseline_window": "baseline: single pass, unique by window",
             "per_rule": "per-rule GE (one suite per rule, AQE off)",
             "ours_samples": "ours + failing_samples (as the framework)",
             "ours_cached": "ours + cache() of the frame first",
             "ours_ge_persist_flipped": f"ours, GE persist={not adapter_persists()} (adapter: {adapter_persists()})",
             "ours_adaptive": "ours with AQE on"}
    for name in label:
        if name in times:
            in_group, total = job_counts[name]
            print(f"  {label[name]:44s} {best[name]:8.2f} s  {args.rows / best[name]:11,.0f} rows/s  "
                  f"{total:4d} Spark jobs ({in_group} in its job group)")
    if "noop_scan" in extras:
        print(f"  {'one scan of the frame into a noop sink':44s} {extras['noop_scan']:8.2f} s")
    ratio = best["ours"] / best["baseline"]
    print(f"  baseline = the faster hand-written job: {fastest}")
    print(f"  ratio ours/baseline: {ratio:.2f}x (target <= 1.5x: {'met' if ratio <= 1.5 else 'not met'})")
    per_rule_ratio = best["per_rule"] / best["ours"] if "per_rule" in best else None
    if per_rule_ratio:
        print(f"  ratio per-rule/ours: {per_rule_ratio:.2f}x")
    for name in ("ours_samples", "ours_cached", "ours_ge_persist_flipped", "ours_adaptive"):
        if name in best:
            print(f"  ratio {name}/baseline: {best[name] / best['baseline']:.2f}x")
    print(json.dumps({
        "benchmark": "quality", "rows": args.rows, "rules": len(rules), "cores": cores,
        "master": args.master, "repeat": args.repeat, "baseline": fastest,
        "with_where": args.with_where, "ge_persist": adapter_persists(), "others_busy_max": round(max(busy), 2),
        **{f"{name}_s": round(v, 3) for name, v in best.items()},
        **{f"{name}_jobs": job_counts[name][1] for name in job_counts},
        **({"noop_scan_s": round(extras["noop_scan"], 3)} if "noop_scan" in extras else {}),
        "ratio_ours_baseline": round(ratio, 3),
        "ratio_per_rule_ours": round(per_rule_ratio, 3) if per_rule_ratio else None}))
    spark.stop()


if __name__ == "__main__":
    main()
