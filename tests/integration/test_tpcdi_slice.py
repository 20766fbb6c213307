"""A slice of the TPC-DI workload (issue #20) through the historical load and both incremental
batches on real Spark + Delta: every TPC-DI audit check that does not need the generator's
figures (which are for the whole data set, not the slice) passes, each batch is measured into
the framework's quality records, and the warehouse's counts match what the slice's files say,
worked out here from the files themselves."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from examples.tpcdi.audit import audit
from examples.tpcdi.quality import MEASURED, rule_files
from examples.tpcdi.workload import batch_date, run
from lakehouse.governance.records import QualityResultsRecord, QualityScorecardRecord, spec_of

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "tpcdi_slice"


def pipe(batch: int, name: str) -> list[list[str]]:
    text = (SLICE / f"Batch{batch}" / name).read_text()
    return [line.split("|") for line in text.splitlines() if line]


@pytest.fixture(scope="module")
def warehouse(engine, tmp_path_factory):
    root = tmp_path_factory.mktemp("tpcdi") / "warehouse"
    runs = run(engine, SLICE, root)
    return engine.spark, root, runs


@pytest.mark.slow
def test_the_audit_checks_pass(warehouse):
    spark, _, runs = warehouse
    assert [r.batch for r in runs] == [1, 2, 3]
    assert all(r.rows_rejected == 0 for r in runs)
    checks = [c for c in audit(spark, SLICE) if not c.needs_figures]
    assert len(checks) > 150
    assert [c for c in checks if not c.passed] == []


@pytest.mark.slow
def test_counts_match_the_slice_files(warehouse):
    spark, _, _ = warehouse

    def count(sql: str) -> int:
        return spark.sql(sql).first()[0]

    trades = {r[0] for r in pipe(1, "Trade.txt")} | {
        r[2] for b in (2, 3) for r in pipe(b, "Trade.txt") if r[0] == "I"}
    assert count("SELECT COUNT(*) FROM DimTrade") == len(trades)
    holdings = len(pipe(1, "HoldingHistory.txt")) + sum(len(pipe(b, "HoldingHistory.txt"))
                                                        for b in (2, 3))
    assert count("SELECT COUNT(*) FROM FactHoldings") == holdings
    xml = (SLICE / "Batch1" / "CustomerMgmt.xml").read_text()
    customers = xml.count('ActionType="NEW"') + sum(
        1 for b in (2, 3) for r in pipe(b, "Customer.txt") if r[0] == "I")
    assert count("SELECT COUNT(DISTINCT c_id) FROM DimCustomer") == customers
    bad = sum(1 for r in pipe(1, "Trade.txt")
              if r[12] and Decimal(r[12]) > Decimal(r[10] or 0) * int(r[6]))
    assert count("SELECT COUNT(*) FROM DImessages WHERE MessageText = 'Invalid trade commission' "
                 "AND BatchID = 1") == bad


@pytest.mark.slow
def test_surrogate_keys_stay_with_their_versions_across_batches(warehouse):
    spark, root, _ = warehouse
    first = spark.read.format("delta").option("versionAsOf", 0).load(str(root / "DimCustomer"))
    last = spark.read.format("delta").load(str(root / "DimCustomer"))
    before = {(r.c_id, r.start_dt, r.SK_CustomerID) for r in first.collect()}
    after = {(r.c_id, r.start_dt, r.SK_CustomerID) for r in last.collect()}
    assert len(after) > len(before)  # the incrementals added versions
    assert before <= after  # every version keeps its key
    closed = spark.sql("SELECT COUNT(*) FROM DimCustomer WHERE BatchID > 1").first()[0]
    assert closed > 0


@pytest.mark.slow
def test_each_batch_is_measured_into_the_framework_quality_records(warehouse):
    spark, root, _ = warehouse

    def governance(record) -> list:
        return spark.read.format("delta").load(spec_of(record, str(root)).path).collect()

    results = governance(QualityResultsRecord)
    rules = {name: [r.name for r in file.rules] for name, file in rule_files().items()}
    assert sorted((r.table_name, r.rule, r.data_date) for r in results) == sorted(
        (f"tpcdi.{MEASURED[name].table}", rule, batch_date(SLICE, b))
        for name, names in rules.items() for rule in names for b in (1, 2, 3))
    # Great Expectations counts the trades the workload raised a commission alert for
    for b in (1, 2, 3):
        measured = next(r for r in results if r.rule == "commission_within_trade_value"
                        and r.data_date == batch_date(SLICE, b))
        alerts = spark.sql("SELECT COUNT(*) FROM DImessages WHERE MessageText = "
                           f"'Invalid trade commission' AND BatchID = {b}").first()[0]
        assert measured.unexpected_count == alerts
        assert measured.element_count == spark.sql(
            f"SELECT COUNT(*) FROM DimTrade WHERE BatchID = {b}").first()[0]
        assert measured.success == (alerts == 0)
    scorecard = governance(QualityScorecardRecord)
    assert {(r.table_name, r.dimension) for r in scorecard if r.rules} == {
        ("tpcdi.DimTrade", "accuracy"), ("tpcdi.DimTrade", "consistency"),
        ("tpcdi.DimCustomer", "validity"), ("tpcdi.DimCustomer", "consistency")}
