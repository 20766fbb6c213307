"""The TPC-DI warehouse measured on the framework's quality dimensions (issue #20): the rules of
examples/tpcdi/quality_rules/ run by Great Expectations on a batch's rows of a small hand-made
warehouse, with failing rows worked out by hand; results, scorecard and key-only samples land
in the framework's governance tables. Real Spark, Delta and Great Expectations."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from examples.tpcdi.quality import measure, rule_files
from examples.tpcdi.warehouse import Warehouse
from lakehouse.governance.records import (QualityResultsRecord, QualitySamplesRecord,
                                          QualityScorecardRecord, spec_of)
from lakehouse.governance.store import GovernanceStore

DAY = date(2017, 7, 8)
TRADES = ("TradeID bigint, BatchID int, Quantity int, TradePrice decimal(8,2), "
          "Commission decimal(10,2), Fee decimal(10,2), SK_AccountID bigint, SK_CustomerID bigint, "
          "SK_BrokerID bigint, SK_SecurityID bigint, SK_CompanyID bigint, SK_CreateDateID bigint, "
          "SK_CloseDateID bigint")
CUSTOMERS = ("SK_CustomerID bigint, CustomerID bigint, TaxID string, BatchID int, "
             "IsCurrent boolean, Tier int, DOB date, LocalTaxRate decimal(6,5), "
             "NationalTaxRate decimal(6,5), Gender string")


@pytest.mark.slow  # about a minute, most of it Great Expectations' first suites
def test_a_batch_rows_are_measured_and_recorded_without_personal_data(engine, tmp_path):
    spark = engine.spark
    wh = Warehouse(spark, tmp_path / "warehouse")
    d = Decimal
    wh.write("DimTrade", spark.createDataFrame([
        (1, 2, 10, d("5.00"), d("1.00"), d("0.50"), 1, 1, 1, 1, 1, 20170708, None),
        (2, 2, 10, d("5.00"), d("60.00"), d("0.50"), 1, 1, 1, 1, 1, 20170708, 20170708),  # commission
        (3, 2, 10, d("5.00"), None, d("51.00"), None, 1, 1, 1, 1, 20170708, 20170707),  # fee, link, close
        (4, 1, 10, d("5.00"), d("99.00"), None, 1, 1, 1, 1, 1, 20170701, None),  # batch 1: not measured
    ], TRADES))
    wh.write("DimCustomer", spark.createDataFrame([
        (10, 100, "123-45-6789", 2, True, 4, date(1980, 1, 1), d("0.1"), d("0.2"), "M"),  # tier
        (11, 101, "987-65-4321", 2, True, 1, date(1900, 1, 1), d("0.1"), None, "X"),  # dob, tax, gender
        (12, 102, "555-44-3333", 2, False, 9, date(1980, 1, 1), d("0.1"), d("0.2"), "F"),  # closed
    ], CUSTOMERS))
    root = str(tmp_path / "warehouse")
    measure(engine, GovernanceStore(engine, root), wh, 2, DAY, rule_files())

    def governance(record) -> list:
        return spark.read.format("delta").load(spec_of(record, root).path).collect()

    found = {r.rule: (r.element_count, r.unexpected_count, r.success)
             for r in governance(QualityResultsRecord)}
    assert found == {
        "commission_within_trade_value": (3, 1, False), "fee_within_trade_value": (3, 1, False),
        "trade_linked": (3, 1, False), "closed_after_created": (3, 1, False),
        "tier_valid": (2, 1, False), "dob_in_range": (2, 1, False),
        "tax_rates_found": (2, 1, False), "gender_coded": (2, 1, False)}
    scores = {(r.table_name, r.dimension): r.score for r in governance(QualityScorecardRecord)
              if r.rules}
    assert scores[("tpcdi.DimTrade", "accuracy")] == round(100 * 2 / 3, 2)
    assert scores[("tpcdi.DimCustomer", "validity")] == 50.0
    samples = governance(QualitySamplesRecord)
    assert {json.loads(s.row_json).get("TradeID") for s in samples
            if s.rule == "commission_within_trade_value"} == {2}
    for sample in samples:  # keys only: no tax id, name or phone in governance
        assert set(json.loads(sample.row_json)) <= {"TradeID", "SK_CustomerID", "CustomerID",
                                                    "data_date"}
        assert "-45-" not in sample.row_json and "-65-" not in sample.row_json
